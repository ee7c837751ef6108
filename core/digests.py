"""Choose each subscriber's daily five from a snapshot of recent insights and sent history.

A delivery round chooses for thousands of subscribers from one Catalog, so the catalog keeps
(per minimum score) each show's insights sorted once, every insight's stemmed terms, and each
insight's near-duplicates among the catalog once found. Choosing is `ranking.choose_digest`
done lazily: a show's insights are read only when that show could win the next pick, so one
subscriber costs a few dozen steps instead of scoring and sorting every candidate.
"""

from __future__ import annotations

import asyncio
import heapq
import sys
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from core.cadence import lookback
from core.config import Settings
from core.feeds.fetching import is_private
from core.insights.paraphrase import MeaningIndex, ParaphraseJudge
from core.models import (
    Digest,
    DigestItem,
    Episode,
    Feed,
    FeedStatus,
    Insight,
    Subscriber,
)
from core.ports import Doc, Store
from core.ranking import Fingerprint, term_weight
from core.store.codec import from_doc
from core.store.repos import LedgerEntry, Repos
from core.topics import TopicBoost

NEAR_DUPLICATE = 0.5  # ranking.choose_digest's defaults, which the old per-subscriber path used
SHOW_PENALTY = 0.1
_REBUILD_AFTER = timedelta(days=1)  # sorted lists older than this hold too many expired insights

Head = tuple[float, Insight]  # (adjusted score, insight)


@dataclass
class SentHistory:
    """In-memory index of the ledger: which insights each subscriber got, and when."""

    by_subscriber: dict[str, dict[str, str]] = field(default_factory=lambda: defaultdict(dict))

    def record(self, entry: LedgerEntry) -> None:
        """Note every insight of a chosen digest as sent on its local date."""
        self._note(entry.subscriber_id, entry.local_date, (m.insight_id for m in entry.messages))

    def record_doc(self, doc: Any) -> bool:
        """Note a stored ledger document without building the dataclass; False if malformed."""
        try:
            subscriber_id, day = doc["subscriber_id"], doc["local_date"]
            insight_ids = [m["insight_id"] for m in doc["messages"]]
        except (KeyError, TypeError):
            return False
        if not all(isinstance(v, str) for v in (subscriber_id, day, *insight_ids)):
            return False
        self._note(subscriber_id, day, insight_ids)
        return True

    def _note(self, subscriber_id: str, day: str, insight_ids: Iterable[str]) -> None:
        sent = self.by_subscriber[subscriber_id]
        day = sys.intern(day)  # 30 dates and a few thousand ids shared by 10,000 subscribers
        for insight_id in insight_ids:
            sent[sys.intern(insight_id)] = day

    def sent_ids(self, subscriber_id: str) -> dict[str, str]:
        """Insight id -> local date sent, for one subscriber."""
        return self.by_subscriber.get(subscriber_id, {})

    def move(self, old_id: str, new_id: str) -> None:
        """Carry history over when a subscriber's id changes (group migration)."""
        if old_id in self.by_subscriber:
            self.by_subscriber[new_id].update(self.by_subscriber.pop(old_id))

    def forget_before(self, oldest: str) -> int:
        """Drop what was sent before the ISO date `oldest` (pruned from the ledger); a count.

        Each subscriber's dict is replaced, not changed in place: a choice running in a thread
        may be reading the old one."""
        dropped = 0
        for subscriber_id in list(self.by_subscriber):
            sent = self.by_subscriber[subscriber_id]
            kept = {i: day for i, day in sent.items() if day >= oldest}
            dropped += len(sent) - len(kept)
            if kept:
                self.by_subscriber[subscriber_id] = kept
            else:
                del self.by_subscriber[subscriber_id]
        return dropped


@dataclass
class Catalog:
    """What ranking needs, loaded once per delivery round rather than once per subscriber."""

    feeds: dict[str, Feed]
    episodes: dict[str, Episode]
    insights: dict[str, Insight]
    by_feed: dict[str, list[Insight]]
    _catalogue: tuple[str, ...] | None = field(default=None, init=False, repr=False, compare=False)
    _rankings: dict[tuple[float, timedelta | None], Ranking] = field(
        default_factory=dict, init=False, repr=False, compare=False)
    judge: ParaphraseJudge = field(default_factory=lambda: ParaphraseJudge(None), repr=False,
                                   compare=False)  # the builder's, which embeds remainders

    def catalogue_feed_ids(self) -> tuple[str, ...]:
        """The operator's feeds: what a subscriber follows by default."""
        if self._catalogue is None:
            self._catalogue = tuple(
                f.id for f in self.feeds.values()
                if f.origin == "operator" and f.status != FeedStatus.GONE
            )
        return self._catalogue

    def feeds_of(self, subscriber: Subscriber) -> tuple[str, ...]:
        """The feeds a subscriber follows."""
        if subscriber.feed_ids is None:
            return self.catalogue_feed_ids()
        return tuple(subscriber.feed_ids)

    def ranking(self, min_score: float, window: timedelta | None = None) -> Ranking:
        """The choosing indexes for this catalog (built on first use, then shared).

        `window`: a look-back other than the daily one (a weekly digest's week) gets indexes of its
        own, so daily and weekly subscribers of one round never make each other re-sort.
        """
        found = self._rankings.get((min_score, window))
        if found is None:
            found = self._rankings[(min_score, window)] = Ranking(self, min_score)
        return found


class DigestBuilder:
    """Picks digests; all CPU work is synchronous and small per subscriber."""

    def __init__(self, repos: Repos, settings: Settings, judge: ParaphraseJudge | None = None) -> None:
        self.repos = repos
        self.settings = settings
        self.judge = judge or ParaphraseJudge(None)  # one per process: its pair cache outlives rounds

    async def load_catalog(self) -> Catalog:
        """Snapshot feeds, episodes and insights, converting and indexing off the event loop."""
        store = self.repos.store
        feed_docs, episode_docs, insight_docs = await asyncio.gather(
            store.all("feeds"), store.all("episodes"), store.all("insights")
        )

        def build() -> Catalog:
            catalog = _build_catalog(feed_docs, episode_docs, insight_docs)
            catalog.judge = self.judge
            catalog.ranking(self.settings.insights.min_score)  # terms and postings, here
            return catalog

        return await asyncio.to_thread(build)

    async def load_history(self) -> SentHistory:
        """Rebuild the sent-history index from the ledger, off the event loop, batch by batch."""
        history = SentHistory()  # published only when complete: safe to fill from a thread
        async for docs in document_batches(self.repos.store, "ledger"):
            await asyncio.to_thread(_record_all, history, docs)
        return history

    async def load_subscribers(self) -> list[Subscriber]:
        """Every subscriber, converted off the event loop (10,000 conversions take ~0.2 s)."""
        docs = await self.repos.store.all("subscribers")
        return await asyncio.to_thread(lambda: [from_doc(Subscriber, d) for d in docs])

    def choose(
        self, catalog: Catalog, subscriber: Subscriber, history: SentHistory, now: datetime, local_day: date
    ) -> list[Insight]:
        """The subscriber's best insights for `local_day`: unsent, recent, diverse, never filler."""
        cfg = self.settings.insights
        sent = history.sent_ids(subscriber.id)
        oldest = (local_day - timedelta(days=cfg.dedupe_days)).isoformat()
        recent = {i for i, d in sent.items() if d >= oldest and i in catalog.insights}
        window = lookback(subscriber, cfg.lookback_days)
        own = None if window == timedelta(days=cfg.lookback_days) else window
        return catalog.ranking(cfg.min_score, own).choose(
            catalog.feeds_of(subscriber), subscriber, sent, recent,
            since=now - window,
            size=cfg.digest_size, max_per_episode=cfg.max_per_episode_in_digest,
        )

    def digest(
        self, catalog: Catalog, subscriber_id: str, local_date: str, insight_ids: Iterable[str]
    ) -> Digest:
        """Render-ready digest for the given insights, in order."""
        insights = [catalog.insights[i] for i in insight_ids if i in catalog.insights]
        items = tuple(
            item_for(insight, catalog, position, len(insights))
            for position, insight in enumerate(insights, start=1)
        )
        return Digest(subscriber_id=subscriber_id, local_date=local_date, items=items)


class Ranking:
    """One catalog's indexes for choosing, and `choose_digest`'s greedy pick over them."""

    def __init__(self, catalog: Catalog, min_score: float) -> None:
        self.catalog = catalog
        self.min_score = min_score
        self.fingerprints = {i.id: Fingerprint.of(i) for i in catalog.insights.values()}
        self._by_term: dict[str, list[str]] = defaultdict(list)
        self._by_episode: dict[str, list[str]] = defaultdict(list)
        self._blank: list[str] = []  # insights of stopwords only: compared by their text
        for insight_id, mark in self.fingerprints.items():
            self._by_episode[mark.episode_id].append(insight_id)
            for term in mark.terms:
                self._by_term[term].append(insight_id)
            if not mark.weight:
                self._blank.append(insight_id)
        self._duplicates: dict[str, frozenset[str]] = {}
        self._meaning: MeaningIndex | None = None  # built on the first duplicates() call
        self._floor: datetime | None = None  # the oldest creation time the sorted lists keep
        self._sorted: dict[str, list[Insight]] = {}  # feed -> not filler, best first
        self._by_kind: dict[str, dict[str, list[Insight]]] = {}
        self._bounds: dict[tuple[str, ...], list[tuple]] = {}

    def choose(
        self, feeds: Sequence[str], subscriber: Subscriber, sent: dict[str, str],
        recent: set[str], *, since: datetime, size: int, max_per_episode: int,
    ) -> list[Insight]:
        """`choose_digest` over the unsent insights of `feeds` created since `since`.

        A heap holds each show's best insight left, keyed as choose_digest picks; a show
        not yet looked at enters with an upper bound of its best, read only on reaching the top.
        """
        if size <= 0:
            return []
        self._refresh(since)
        show_weights, kind_weights = subscriber.show_weights, subscriber.kind_weights
        topics = TopicBoost.of(subscriber)  # None without topics: the order is untouched
        heap = self._start_heap(tuple(feeds), show_weights, kind_weights, topics.most if topics else 0.0)
        streams: dict[str, Iterator[Head]] = {}
        heads: dict[str, Head] = {}
        picked: list[Insight] = []
        seen = set(recent)
        per_show: Counter[str] = Counter()
        per_episode: Counter[str] = Counter()
        while len(picked) < size and heap:
            *_, exact, feed = heapq.heappop(heap)
            if exact:
                _, c = heads[feed]
                if (per_episode[c.episode_id] < max_per_episode
                        and self.duplicates(c.id).isdisjoint(seen)):
                    picked.append(c)
                    seen.add(c.id)
                    per_show[feed] += 1
                    per_episode[c.episode_id] += 1
            else:
                streams[feed] = self._stream(feed, show_weights.get(feed, 0.0), kind_weights, sent, since)
                if topics is not None:  # after the filler floor: a topic re-orders, never admits
                    streams[feed] = topics.reorder(streams[feed])
            head = heads[feed] = next(streams[feed], None)  # type: ignore[assignment]
            if head is not None:
                adjusted = head[0]
                heapq.heappush(heap, (-(adjusted - SHOW_PENALTY * per_show[feed]), -adjusted,
                                      head[1].id, True, feed))
        return picked

    def duplicates(self, insight_id: str) -> frozenset[str]:
        """Catalog insights that say the same as this one (`Fingerprint.repeats`), found once."""
        found = self._duplicates.get(insight_id)
        if found is not None:
            return found
        marks, mark = self.fingerprints, self.fingerprints[insight_id]
        shared: Counter[str] = Counter()  # other insight -> weight of the terms it shares
        for term in mark.terms:  # only insights sharing a word can be alike
            for _ in range(term_weight(term)):
                shared.update(self._by_term[term])  # a C loop: catalogs with common words
        alike = {o for o, weight in shared.items()  # Fingerprint.repeats' own test
                 if 2 * weight >= NEAR_DUPLICATE * (mark.weight + marks[o].weight)}
        maybe = self._by_episode[mark.episode_id] + (self._blank if not mark.weight else [])
        alike.update(o for o in maybe if mark.repeats(marks[o], NEAR_DUPLICATE, self.catalog.judge))
        alike.update(self._meaning_index().alike(insight_id))  # paraphrases, on any show
        alike.discard(insight_id)
        found = self._duplicates[insight_id] = frozenset(alike)
        return found

    def _meaning_index(self) -> MeaningIndex:
        if self._meaning is None:  # eligible insights only: the rest is never picked nor sent
            self._meaning = MeaningIndex(
                ((i.id, i.text, mark.vector, mark.vector_model)
                 for i in self.catalog.insights.values()
                 if i.score >= self.min_score and (mark := self.fingerprints[i.id]).vector),
                self.catalog.judge)
        return self._meaning

    def _refresh(self, since: datetime) -> None:
        if self._floor is not None and self._floor <= since <= self._floor + _REBUILD_AFTER:
            return
        floor = since - timedelta(hours=1)  # the rest of the round (later `since`) reuses these
        self._sorted = {
            feed: sorted((i for i in items if i.score >= self.min_score
                          and (i.created_at is None or i.created_at >= floor)),
                         key=lambda i: (-i.score, i.id))
            for feed, items in self.catalog.by_feed.items()
        }
        self._by_kind, self._bounds, self._floor = {}, {}, floor

    def _start_heap(self, feeds: tuple[str, ...], show_weights: dict[str, float],
                    kind_weights: dict[str, float], topic_lift: float = 0.0) -> list[tuple]:
        if show_weights or kind_weights or topic_lift:
            lift = max(0.0, *kind_weights.values()) if kind_weights else 0.0
            return self._bound_heap(feeds, show_weights, lift + topic_lift)
        cached = self._bounds.get(feeds)  # most subscribers: the whole catalogue, no weights
        if cached is None:
            cached = self._bounds[feeds] = self._bound_heap(feeds, {}, 0.0)
        return cached.copy()

    def _bound_heap(self, feeds: tuple[str, ...], show_weights: dict[str, float],
                    lift: float) -> list[tuple]:
        heap = []
        for feed in dict.fromkeys(feeds):
            best = self._sorted.get(feed)
            if best:  # no insight of the show scores more than this (sorts before any real key)
                bound = best[0].score + show_weights.get(feed, 0.0) + lift
                heap.append((-bound, -bound, "", False, feed))
        heapq.heapify(heap)
        return heap

    def _stream(self, feed: str, show_weight: float, kind_weights: dict[str, float],
                sent: dict[str, str], since: datetime) -> Iterator[Head]:
        """The show's eligible insights, best adjusted score first (as choose_digest sorts)."""
        if not kind_weights:
            return self._eligible(self._sorted[feed], show_weight, 0.0, sent, since)
        kinds = self._by_kind.get(feed)
        if kinds is None:
            kinds = self._by_kind[feed] = defaultdict(list)
            for insight in self._sorted[feed]:
                kinds[insight.kind].append(insight)
        return heapq.merge(
            *(self._eligible(items, show_weight, kind_weights.get(kind, 0.0), sent, since)
              for kind, items in kinds.items()),
            key=lambda head: (-head[0], -head[1].score, head[1].id),
        )

    def _eligible(self, ranked: list[Insight], show_weight: float, kind_weight: float,
                  sent: dict[str, str], since: datetime) -> Iterator[Head]:
        for c in ranked:
            if c.id in sent or (c.created_at is not None and c.created_at < since):
                continue
            adjusted = c.score + show_weight + kind_weight  # the very sum choose_digest makes
            if adjusted < self.min_score:
                return  # the rest of this list scores lower still
            yield adjusted, c


async def document_batches(store: Store, table: str) -> AsyncIterator[list[Doc]]:
    """A table's documents a batch at a time when the store can (TinyDBStore), else all at once.

    300,000 ledger documents decoded at once are millions of live objects: Python's garbage
    collector then walks them all, holding the GIL (and the event loop) for seconds.
    """
    batches = getattr(store, "batches", None)
    if batches is None:
        yield await store.all(table)
        return
    async for docs in batches(table):
        yield docs


def item_for(insight: Insight, catalog: Catalog, position: int = 1, total: int = 1) -> DigestItem:
    """One insight with its show, episode and links to the moment it was said."""
    episode = catalog.episodes.get(insight.episode_id)
    feed = catalog.feeds.get(insight.feed_id)
    audio_url = episode.audio_url if episode else None
    page_url = episode.page_url if episode else None
    if feed is not None and feed.private:
        # A private feed's links usually carry its token: never hand them to a chat.
        audio_url = None
        page_url = None if page_url is None or is_private(page_url) else page_url
    return DigestItem(
        insight=insight,
        show_title=feed.title if feed else "",
        episode_title=episode.title if episode else "",
        moment_url=moment_url(audio_url, insight.start),
        page_url=page_url,
        position=position,
        total=total,
    )


def moment_url(audio_url: str | None, start: float) -> str | None:
    """The audio URL with a `#t=SECONDS` media fragment."""
    if not audio_url:
        return None
    return f"{audio_url.split('#', 1)[0]}#t={max(0, int(start))}"


def _build_catalog(feed_docs: list, episode_docs: list, insight_docs: list) -> Catalog:
    feeds = {d["id"]: from_doc(Feed, d) for d in feed_docs}
    episodes = {d["id"]: from_doc(Episode, d) for d in episode_docs}
    insights = {d["id"]: from_doc(Insight, d) for d in insight_docs}
    by_feed: dict[str, list[Insight]] = defaultdict(list)
    for insight in insights.values():
        by_feed[insight.feed_id].append(insight)
    return Catalog(feeds=feeds, episodes=episodes, insights=insights, by_feed=dict(by_feed))


def _record_all(history: SentHistory, docs: list[Doc]) -> None:
    """Index a batch of ledger documents (run in a thread)."""
    for doc in docs:
        history.record_doc(doc)
