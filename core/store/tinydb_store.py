"""TinyDBStore: the Store port as a TinyDB database file plus a write-ahead journal, and blobs."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout

from core.errors import StoreError
from core.ports import Change, Doc
from core.store.atomic_json import (
    DB_NAME,
    META_TABLE,
    Row,
    Snapshot,
    SnapshotFile,
    encode_doc,
    run_fault_hook,
    write_file_atomically,
)
from core.store.diskfull import disk_full_error, is_disk_full, log_disk_full
from core.store.journal import (
    JOURNAL_NAME,
    JournalWriter,
    Record,
    Write,
    encode_record,
    replay,
)

log = logging.getLogger(__name__)

BLOB_DIR = "blobs"
LOCK_NAME = "castfive.lock"  # held while a store is open: one process per data folder
JOURNAL_MIN_BYTES = 8 * 1024 * 1024
JOURNAL_RATIO = 1.0  # fold once the journal is this many times the snapshot's size (or the minimum)
_DECODE_INLINE = 256  # `all()` of a bigger table decodes in a thread so the loop stays responsive


@dataclass(frozen=True)
class _Write:
    """A validated change: the document already encoded as compact JSON (None deletes)."""

    table: str
    key: str
    text: str | None


class TinyDBStore:
    """Documents in a TinyDB database file, kept current by a write-ahead journal.

    Reads come from an in-memory index on the event loop (key -> encoded document, O(1)).
    Writes queue for one worker thread, which appends everything queued so far to the journal
    as one record and fsyncs it (group commit); each caller returns once the record holding its
    write is on disk. The whole database is written as a TinyDB file (atomically, keeping the
    previous one as `.bak`) only when the journal has grown past `journal_min_bytes` and
    `journal_ratio` times the snapshot, and on close; then the journal starts afresh. On start
    the snapshot is loaded and every complete journal record after it replayed.

    Commits edit TinyDB's document layout directly rather than through `tinydb.Table`, whose
    every insert or remove copies the whole table (300k ledger entries: ~100 ms per write).
    `journal=False` writes the whole file on every commit instead (the reference for benches).
    """

    def __init__(
        self,
        directory: Path,
        *,
        journal: bool = True,
        journal_min_bytes: int = JOURNAL_MIN_BYTES,
        journal_ratio: float = JOURNAL_RATIO,
    ) -> None:
        self.directory = Path(directory)
        self.blob_dir = self.directory / BLOB_DIR
        self.use_journal = journal
        self.journal_min_bytes = journal_min_bytes
        self.journal_ratio = journal_ratio
        self._executor: ThreadPoolExecutor | None = None
        self._snapshot: SnapshotFile | None = None
        self._journal: JournalWriter | None = None
        self._rows: dict[str, dict[str, Row]] = {}  # worker only: the state the next snapshot holds
        self._next_ids: dict[str, int] = {}  # worker only
        self._seq = 0  # worker only: last record applied
        self._snapshot_bytes = 0
        self._fold_at = journal_min_bytes
        self._visible: dict[str, dict[str, str]] = {}  # loop only: acknowledged documents
        self._pending: list[tuple[list[_Write], asyncio.Future[None]]] = []
        self._committer: asyncio.Task[None] | None = None
        self._open = False
        # Two processes on one folder would each fold their own view over the other's writes (a
        # CLI `castfive queue` beside a running bot was lost at the bot's next snapshot).
        self._lock = FileLock(self.directory / LOCK_NAME, thread_local=False)
        self.flushes = 0  # group commits that reached the disk (for tests and figures)
        self.snapshots = 0  # whole-file writes
        self.replayed = 0  # journal records replayed by the last start

    # --- life cycle -------------------------------------------------------------

    async def start(self) -> None:
        """Open (or recover) the snapshot, replay the journal and load it all into memory."""
        if self._open:
            return
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="castfive-store")
        loop = asyncio.get_running_loop()
        try:
            self._visible = await loop.run_in_executor(self._executor, self._open_in_worker)
        except Timeout:
            self._executor.shutdown(wait=False)
            log.info("store not opened: another process holds %s", self._lock.lock_file)
            raise StoreError(
                f"Another Castfive process is using the data folder {self.directory}: stop it first "
                "(`castfive run` holds it while it runs), or make the change from chat.") from None
        except Exception as exc:  # the worker has stopped: nothing holds the files now
            self._lock.release()
            self._executor.shutdown(wait=False)
            if isinstance(exc, OSError):
                raise StoreError(f"The data folder cannot be used: {exc.strerror or exc}.") from exc
            raise
        self._open = True

    async def close(self) -> None:
        """Wait for queued writes, fold the journal into a fresh snapshot, stop the worker."""
        if not self._open:
            return
        self._open = False
        if self._committer is not None:
            await asyncio.shield(self._committer)
        assert self._executor is not None
        await asyncio.get_running_loop().run_in_executor(self._executor, self._close_in_worker)
        self._executor.shutdown(wait=True)

    def _open_in_worker(self) -> dict[str, dict[str, str]]:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock.acquire(timeout=0)  # released by the OS if this process dies
        self.blob_dir.mkdir(exist_ok=True)
        for stale in self.blob_dir.glob(".*.tmp"):  # a blob write cut short by a crash
            stale.unlink(missing_ok=True)
        self._snapshot = SnapshotFile(self.directory / DB_NAME)
        snapshot = self._snapshot.load()
        self._load_rows(snapshot)
        self._snapshot_bytes = _size(self._snapshot.path)
        journal = JournalWriter(self.directory / JOURNAL_NAME)
        # The `.1` journal holds what came after the `.bak`: read only when that was loaded.
        paths = [journal.previous, journal.path] if snapshot.fell_back else [journal.path]
        self._seq = replay(paths, snapshot.seq, self._replay_record)
        self.replayed = self._seq - snapshot.seq
        if self.replayed or _size(journal.path):
            self._journal = journal
            self._fold()  # a clean start: everything in the snapshot, an empty journal
        elif self.use_journal:
            self._journal = journal
            journal.open()
        if not self.use_journal and self._journal is not None:
            self._journal.close()
            self._journal = None
        self._fold_at = self._fold_threshold()
        return {name: {key: text for key, (_, text) in rows.items()}
                for name, rows in self._rows.items()}

    def _close_in_worker(self) -> None:
        try:
            self._fold_and_close_journal()
        finally:
            self._lock.release()

    def _fold_and_close_journal(self) -> None:
        if self._journal is None:
            return
        if self._journal.size:
            try:
                self._fold()
            except Exception as exc:  # noqa: BLE001 - the journal still holds every write
                if is_disk_full(exc):
                    # Info, not error: nothing is lost, and whoever hit the full disk has said so.
                    log.info("store snapshot on close skipped: the disk is full (the journal keeps all)")
                else:
                    log.error("store snapshot on close failed (the journal keeps every write): %s", exc)
        self._journal.close()

    # --- recovery ------------------------------------------------------------------

    def _load_rows(self, snapshot: Snapshot) -> None:
        self._rows, self._seq = snapshot.tables, snapshot.seq
        self._next_ids = {name: max((i for i, _ in rows.values()), default=0) + 1
                          for name, rows in self._rows.items()}

    def _replay_record(self, record: Record) -> None:
        self._apply_rows((t, k, None if d is None else _encode(d))
                         for t, k, d in record.writes if t != META_TABLE)

    # --- reads -------------------------------------------------------------------

    async def get(self, table: str, key: str) -> Doc | None:
        """The document under `key`, as a fresh copy."""
        self._check_open()
        text = self._visible.get(table, {}).get(key)
        return None if text is None else json.loads(text)

    async def all(self, table: str) -> list[Doc]:
        """Every document of a table, as fresh copies, in insertion order."""
        self._check_open()
        texts = tuple(self._visible.get(table, {}).values())  # a snapshot: strings never change
        if len(texts) <= _DECODE_INLINE:
            return [json.loads(t) for t in texts]
        return await asyncio.to_thread(lambda: [json.loads(t) for t in texts])

    async def batches(self, table: str, size: int = 2000) -> AsyncIterator[list[Doc]]:
        """Every document of a table, a batch at a time, decoded off the event loop.

        For tables too big to hold decoded at once (the ledger): a consumer that drops each
        batch keeps memory flat, and Python's garbage collector never has to walk millions of
        live documents (a full collection holds the GIL, so the loop, for seconds).
        """
        self._check_open()
        # A tuple of strings: the collector stops tracking it, a list it would walk every time.
        texts = tuple(self._visible.get(table, {}).values())
        for start in range(0, len(texts), size):
            part = texts[start:start + size]
            yield await asyncio.to_thread(_decode_all, part)

    # --- writes -------------------------------------------------------------------

    async def put(self, table: str, key: str, doc: Doc) -> None:
        """Store `doc` under `key`; durable on return."""
        await self.apply([Change(table, key, doc)])

    async def delete(self, table: str, key: str) -> None:
        """Remove `key` (no error if absent); durable on return."""
        await self.apply([Change(table, key, None)])

    async def apply(self, changes: Sequence[Change]) -> None:
        """Apply all changes or none, in one journal record; durable on return."""
        self._check_open()
        writes = [_validate(change) for change in changes]
        if not writes:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # A caller cancelled while waiting never reads the outcome; mark it read, not "lost".
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._pending.append((writes, future))
        if self._committer is None or self._committer.done():
            self._committer = asyncio.create_task(self._commit_loop(), name="castfive-store-commit")
        # Shielded: a caller that gives up waiting does not cancel the commit it is part of.
        await asyncio.shield(future)

    async def _commit_loop(self) -> None:
        """Commit everything queued, again and again, until the queue stays empty."""
        loop = asyncio.get_running_loop()
        while self._pending:
            batch, self._pending = self._pending, []
            writes = [w for group, _ in batch for w in group]
            try:
                await loop.run_in_executor(self._executor, self._commit_in_worker, writes)
            except Exception as exc:  # noqa: BLE001 - whatever it was, nobody here is acknowledged
                if is_disk_full(exc):
                    # Not logged here: a full disk fails every write at once, and the callers that
                    # catch DiskFullError log it once a minute (core.store.diskfull) or print one line.
                    log.debug("store commit of %d writes failed: disk full", len(writes))
                else:
                    log.error("store commit of %d writes failed: %s", len(writes), exc)
                for _, future in batch:
                    if not future.done():
                        future.set_exception(self._commit_error(exc))
                continue
            for w in writes:  # visible only once durable: a read never sees a lost write
                if w.text is None:
                    self._visible.get(w.table, {}).pop(w.key, None)
                else:
                    self._visible.setdefault(w.table, {})[w.key] = w.text
            for _, future in batch:
                if not future.done():
                    future.set_result(None)

    def _commit_error(self, exc: BaseException) -> StoreError:
        if is_disk_full(exc):
            return disk_full_error(self.directory)
        return StoreError(f"The database could not be saved: {_reason(exc)}.")

    def _commit_in_worker(self, writes: list[_Write]) -> None:
        triples = [(w.table, w.key, w.text) for w in writes]
        if self._journal is None:
            self._commit_whole_file(triples)
        else:
            self._commit_to_journal(triples)
        self.flushes += 1

    def _commit_to_journal(self, writes: list[Write]) -> None:
        assert self._journal is not None
        if self._journal.damaged:  # a failed append left bytes it could not remove
            self._fold()
        self._journal.append(encode_record(self._seq + 1, writes))  # raises: nothing changed
        self._seq += 1
        self._apply_rows(writes)
        if self._journal.size >= self._fold_at:
            try:
                self._fold()
            except Exception as exc:  # noqa: BLE001 - the batch is durable in the journal
                if is_disk_full(exc):
                    log_disk_full(log, exc, "store snapshot failed (the journal keeps every write)")
                else:
                    log.error("store snapshot failed (the journal keeps every write): %s", exc)
                self._fold_at = self._journal.size + self.journal_min_bytes  # not on every write

    def _commit_whole_file(self, writes: list[Write]) -> None:
        undo: list[tuple[str, str, Row | None]] = []
        self._apply_rows(writes, undo)
        try:
            self._write_snapshot(self._seq + 1)
        except BaseException:
            for table, key, old in reversed(undo):
                if old is None:
                    self._rows[table].pop(key, None)
                else:
                    self._rows[table][key] = old
            raise
        self._seq += 1

    def _apply_rows(
        self, writes: Iterable[Write], undo: list[tuple[str, str, Row | None]] | None = None
    ) -> None:
        for table, key, text in writes:  # later writes to the same key win
            rows = self._rows.get(table)
            if rows is None:
                rows = self._rows[table] = {}
            old = rows.get(key)
            if undo is not None:
                undo.append((table, key, old))
            if text is None:
                if old is not None:
                    del rows[key]
            else:  # a replaced document keeps its id and its place
                rows[key] = (old[0] if old is not None else self._new_id(table), text)

    def _new_id(self, name: str) -> int:
        doc_id = self._next_ids.get(name, 1)
        self._next_ids[name] = doc_id + 1
        return doc_id

    # --- snapshots ------------------------------------------------------------------

    def _fold(self) -> None:
        """Write the whole state as the snapshot, then start an empty journal (in that order)."""
        assert self._journal is not None
        self._write_snapshot(self._seq)
        run_fault_hook("snapshot-before-truncate")
        self._journal.rotate()
        self._fold_at = self._fold_threshold()

    def _write_snapshot(self, seq: int) -> None:
        assert self._snapshot is not None
        self._snapshot_bytes = self._snapshot.save(self._rows, seq)
        self.snapshots += 1

    def _fold_threshold(self) -> int:
        # Proportional to the snapshot: the cost of rewriting it stays a fixed share per byte.
        return max(self.journal_min_bytes, int(self.journal_ratio * self._snapshot_bytes))

    def _check_open(self) -> None:
        if not self._open:
            raise StoreError("The store is not open.")

    # --- blobs ---------------------------------------------------------------------

    async def write_blob(self, name: str, data: bytes) -> None:
        """Write a blob atomically (temp file, fsync, rename); durable on return."""
        path = self._blob_path(name)
        try:
            await asyncio.to_thread(write_file_atomically, path, bytes(data))
        except OSError as exc:
            if is_disk_full(exc):
                raise disk_full_error(self.directory) from exc
            raise StoreError(f"The file {name} could not be saved: {_reason(exc)}.") from exc

    async def read_blob(self, name: str) -> bytes | None:
        """A blob's bytes, or None when there is none."""
        path = self._blob_path(name)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"The file {name} could not be read: {_reason(exc)}.") from exc

    async def delete_blob(self, name: str) -> None:
        """Remove a blob (no error if absent)."""
        path = self._blob_path(name)
        try:
            await asyncio.to_thread(path.unlink, missing_ok=True)
        except OSError as exc:
            raise StoreError(f"The file {name} could not be removed: {_reason(exc)}.") from exc

    def _blob_path(self, name: str) -> Path:
        self._check_open()
        if not is_valid_blob_name(name):
            raise StoreError(f"{name!r} is not a valid file name for the store.")
        return self.blob_dir / name


def is_valid_blob_name(name: str) -> bool:
    """True for a plain file name: no path separators, no `..`, not hidden, not too long."""
    return (
        isinstance(name, str)
        and 0 < len(name) <= 200
        and not name.startswith(".")
        and ".." not in name
        and not any(c in name for c in "/\\\0")
        and name.isprintable()
    )


def _validate(change: Change) -> _Write:
    if not isinstance(change.table, str) or not change.table or change.table == META_TABLE:
        raise StoreError(f"Table name {change.table!r} is not valid.")
    if not isinstance(change.key, str):
        raise StoreError(f"Key {change.key!r} in {change.table} is not a string.")
    if change.doc is None:
        return _Write(change.table, change.key, None)
    if not isinstance(change.doc, dict):
        raise StoreError(f"Document {change.key} in {change.table} is not a mapping.")
    try:
        return _Write(change.table, change.key, _encode(change.doc))
    except (TypeError, ValueError) as exc:
        raise StoreError(f"Document {change.key} in {change.table} is not JSON: {exc}.") from exc


_encode = encode_doc


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _reason(exc: BaseException) -> str:
    return (exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)) or "unknown"


def _decode_all(texts: tuple[str, ...]) -> list[Doc]:
    """Documents from their JSON texts (run in a thread)."""
    return [json.loads(t) for t in texts]
