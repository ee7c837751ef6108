"""The library's BM25 index: SQLite FTS5 over insights and transcript passages, kept up to date.

FTS5 (in the standard library's sqlite3) keeps its postings on disk and takes inserts and
deletes one document at a time, so storing an episode costs milliseconds and a query never
rescans transcripts; rank_bm25 and bm25s rebuild the whole corpus for every change
(bench/search.py measures both). Text is indexed as `retrieval.terms` (the stems and stopwords
of follow-up answers), so the query side needs no FTS syntax from the user: every term is quoted.
A document's `scope` column holds one token naming its kind and feed, so a query reaches only
the feeds a chat may read instead of filtering the whole corpus afterwards.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout

from core.errors import ConfigError, StoreError
from core.insights.filler import drop_sponsor_segments
from core.models import Insight, Transcript
from core.retrieval import build_passages, terms

INSIGHT, PASSAGE = "i", "p"
INDEX_FILE = "search-index.sqlite3"  # beside the store: derived data, rebuilt if deleted
OPEN_LOCK_TIMEOUT_S = 60.0  # another process setting the file up takes milliseconds
INDEX_VERSION = 1  # raise when what a document's body or scope holds changes
_PROBE = ("The hosts weren't studying batteries; they're running studies on the cities' parties, "
          "and it mentioned Café Zürich's 3,200 EV-chargers!")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS doc (
    id INTEGER PRIMARY KEY, kind TEXT NOT NULL, ref TEXT NOT NULL, episode_id TEXT NOT NULL,
    feed_id TEXT NOT NULL, start REAL NOT NULL, end REAL NOT NULL, text TEXT NOT NULL,
    body TEXT NOT NULL, scope TEXT NOT NULL, UNIQUE (kind, ref));
CREATE INDEX IF NOT EXISTS doc_episode ON doc (episode_id, kind);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5 (
    body, scope, content='doc', content_rowid='id', tokenize='unicode61 remove_diacritics 0');
"""


@dataclass(frozen=True)
class IndexHit:
    """One matching document: an insight (ref = its id) or a passage (ref = episode:n)."""

    kind: str
    ref: str
    episode_id: str
    feed_id: str
    start: float
    end: float
    text: str
    score: float  # BM25, higher is better


def terms_fingerprint() -> str:
    """What the indexed bodies depend on: this module's layout and what `terms` makes of a probe."""
    return hashlib.sha1(f"{INDEX_VERSION} {' '.join(terms(_PROBE))}".encode()).hexdigest()[:16]


def scope_token(kind: str, feed_id: str) -> str:
    """The one token that files a document under its kind and feed (never a real word)."""
    return kind + "x" + hashlib.sha1(feed_id.encode("utf-8")).hexdigest()[:15]


def match_expression(query: Sequence[str], kind: str, feed_ids: Iterable[str]) -> str:
    """Every query term in the body, within the given feeds; terms are quoted, so no syntax leaks."""
    words = " AND ".join(f'"{t}"' for t in query)
    scopes = " OR ".join(f'"{scope_token(kind, f)}"' for f in sorted(set(feed_ids)))
    return f"body : ({words}) AND scope : ({scopes})"


class SearchIndex:
    """Insights and passages in FTS5; every method is blocking (call it off the event loop)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path  # None: in memory (tests, or a store that is itself in memory)
        self._lock = threading.Lock()  # one connection, used from worker threads
        self._db: sqlite3.Connection | None = None

    def open(self) -> None:
        """Create or open the index file."""
        with self._lock:
            if self._db is None:
                self._open()

    def _open(self) -> None:
        if self.path is None:
            self._open_file(None)
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Worker processes and the bot on one host open the file together at start. Switching
        # a new file to WAL answers "database is locked" at once, without waiting, to all but
        # one of them (11 of 180 concurrent opens here), so the set-up is one process at a time.
        try:
            with FileLock(f"{self.path}.lock", timeout=OPEN_LOCK_TIMEOUT_S):
                self._open_file(self.path)
        except Timeout:
            raise StoreError(f"The search index {self.path} has been held by another process for "
                             f"{OPEN_LOCK_TIMEOUT_S:.0f} s; stop any hung Castfive process.") from None

    def _open_file(self, path: Path | None) -> None:
        db = sqlite3.connect(str(path) if path else ":memory:", check_same_thread=False)
        if path is not None:
            db.execute("PRAGMA journal_mode=WAL")  # a reader never waits for a writer's fsync
            db.execute("PRAGMA synchronous=NORMAL")  # derived data: a lost commit is re-indexed
        try:
            db.executescript(_SCHEMA)
        except sqlite3.OperationalError as exc:
            db.close()
            if "fts5" in str(exc).lower():
                raise ConfigError("This Python's SQLite has no FTS5, which search needs; the python.org "
                                  "and distribution builds have it.") from None
            raise
        self._db = db
        self._check_terms(db)

    @staticmethod
    def _check_terms(db: sqlite3.Connection) -> None:
        """Empty an index made with other search terms (stems, stopwords, schema): its postings no
        longer meet the queries, so it is refilled from the store by the start-up catch-up."""
        found = db.execute("SELECT value FROM meta WHERE key = 'terms'").fetchone()
        if found is not None and found[0] == terms_fingerprint():
            return
        with db:
            db.execute("INSERT INTO fts (fts) VALUES ('delete-all')")
            db.execute("DELETE FROM doc")
            db.execute("INSERT OR REPLACE INTO meta VALUES ('terms', ?)", (terms_fingerprint(),))

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def _conn(self) -> sqlite3.Connection:
        """The connection, opened on first use (called with the lock held)."""
        if self._db is None:
            self._open()
        assert self._db is not None
        return self._db

    # --- writes -----------------------------------------------------------------------------

    def update_insights(self, added: Sequence[Insight], removed: Sequence[str] = ()) -> None:
        """Index (or re-index) insights by their text and quote, and forget `removed` ones."""
        rows = [(INSIGHT, i.id, i.episode_id, i.feed_id, i.start, i.end, i.text,
                 " ".join(terms(f"{i.text} {i.quote}"))) for i in added]
        with self._lock, self._conn() as db:
            self._delete(db, INSIGHT, [*removed, *(i.id for i in added)])
            self._insert(db, rows)

    def add_transcript(self, transcript: Transcript, feed_id: str) -> int:
        """Replace an episode's passages with those of `transcript`; returns how many."""
        episode = transcript.episode_id
        rows = [(PASSAGE, f"{episode}:{p.index}", episode, feed_id, p.start, p.end, p.text,
                 " ".join(terms(p.text)))  # sponsor reads are not what anyone searches for
                for p in build_passages(drop_sponsor_segments(transcript.segments))]
        with self._lock, self._conn() as db:
            self._drop_episode(db, episode)
            self._insert(db, rows)
            if not rows:  # still remembered as indexed, so a catch-up does not retry it forever
                self._insert(db, [(PASSAGE, f"{episode}:-", episode, feed_id, 0.0, 0.0, "", "")])
        return len(rows)

    def remove_transcript(self, episode_id: str) -> None:
        """Forget an episode's passages."""
        with self._lock, self._conn() as db:
            self._drop_episode(db, episode_id)

    def _insert(self, db: sqlite3.Connection, rows: Sequence[tuple]) -> None:
        for kind, ref, episode, feed, start, end, text, body in rows:
            scope = scope_token(kind, feed)
            cursor = db.execute(
                "INSERT INTO doc (kind, ref, episode_id, feed_id, start, end, text, body, scope) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (kind, ref, episode, feed, start, end, text, body, scope))
            db.execute("INSERT INTO fts (rowid, body, scope) VALUES (?, ?, ?)",
                       (cursor.lastrowid, body, scope))

    def _delete(self, db: sqlite3.Connection, kind: str, refs: Sequence[str]) -> None:
        for ref in refs:
            found = db.execute("SELECT id, body, scope FROM doc WHERE kind = ? AND ref = ?",
                               (kind, ref)).fetchone()
            if found is not None:
                self._forget(db, [found])

    def _drop_episode(self, db: sqlite3.Connection, episode_id: str) -> None:
        self._forget(db, db.execute("SELECT id, body, scope FROM doc WHERE episode_id = ? AND kind = ?",
                                    (episode_id, PASSAGE)).fetchall())

    @staticmethod
    def _forget(db: sqlite3.Connection, rows: Sequence[tuple]) -> None:
        # an external-content FTS5 table is told the old values to remove from its postings
        db.executemany("INSERT INTO fts (fts, rowid, body, scope) VALUES ('delete', ?, ?, ?)", rows)
        db.executemany("DELETE FROM doc WHERE id = ?", [(r[0],) for r in rows])

    # --- reads ------------------------------------------------------------------------------

    def indexed_insights(self) -> set[str]:
        """Ids of every insight in the index."""
        with self._lock:
            return {r[0] for r in self._conn().execute("SELECT ref FROM doc WHERE kind = ?", (INSIGHT,))}

    def indexed_episodes(self) -> set[str]:
        """Ids of every episode whose transcript is in the index."""
        with self._lock:
            return {r[0] for r in self._conn().execute(
                "SELECT DISTINCT episode_id FROM doc WHERE kind = ?", (PASSAGE,))}

    def feeds_of_insights(self, insight_ids: Sequence[str]) -> list[str]:
        """The distinct feeds of the given indexed insights."""
        found: set[str] = set()
        with self._lock:
            db = self._conn()
            for first in range(0, len(insight_ids), 500):  # under SQLite's bound-parameter limit
                chunk = insight_ids[first:first + 500]
                marks = ",".join("?" * len(chunk))
                found.update(r[0] for r in db.execute(
                    f"SELECT DISTINCT feed_id FROM doc WHERE kind = ? AND ref IN ({marks})",
                    (INSIGHT, *chunk)))
        return sorted(found)

    def insights_of_episode(self, episode_id: str) -> list[tuple[str, float]]:
        """(id, start) of the episode's indexed insights."""
        with self._lock:
            return [(r, s) for r, s in self._conn().execute(
                "SELECT ref, start FROM doc WHERE episode_id = ? AND kind = ?", (episode_id, INSIGHT))]

    def match(self, query: Sequence[str], kind: str, feed_ids: Collection[str],
              limit: int | None = None, refs: Collection[str] | None = None) -> list[IndexHit]:
        """Documents of `kind` in `feed_ids` (and among `refs`, if given) holding every query
        term, best BM25 first."""
        if not query or not feed_ids or (refs is not None and not refs):
            return []
        wanted = "" if refs is None else "JOIN temp.wanted w ON w.ref = d.ref "
        sql = ("SELECT d.kind, d.ref, d.episode_id, d.feed_id, d.start, d.end, d.text, "
               f"bm25(fts, 1.0, 0.0) AS rank FROM fts JOIN doc d ON d.id = fts.rowid {wanted}"
               "WHERE fts MATCH ? ORDER BY rank")
        params: tuple = (match_expression(query, kind, feed_ids),)
        if limit is not None:
            sql += " LIMIT ?"
            params += (limit,)
        with self._lock:
            db = self._conn()
            if refs is not None:  # filtered inside SQLite: no Python object per other match
                db.execute("CREATE TEMP TABLE IF NOT EXISTS wanted (ref TEXT PRIMARY KEY)")
                db.execute("DELETE FROM temp.wanted")
                db.executemany("INSERT OR IGNORE INTO temp.wanted VALUES (?)", [(r,) for r in refs])
            rows = db.execute(sql, params).fetchall()
            db.commit()  # ends the implicit transaction the temp table's writes opened
        return [IndexHit(k, r, e, f, s, en, t, -rank) for k, r, e, f, s, en, t, rank in rows]

    def count(self, query: Sequence[str], kind: str, feed_ids: Collection[str]) -> int:
        """How many documents of `kind` in `feed_ids` hold every query term (no ranking: cheap)."""
        if not query or not feed_ids:
            return 0
        with self._lock:
            (found,) = self._conn().execute("SELECT count(*) FROM fts WHERE fts MATCH ?",
                                            (match_expression(query, kind, feed_ids),)).fetchone()
        return int(found)
