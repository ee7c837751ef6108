"""TinyDBStore: the Store port over TinyDB 4, with atomic group-committed flushes and blobs."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tinydb import TinyDB
from tinydb.table import Document

from core.adapters.atomic_json import DB_NAME, AtomicJSONStorage, write_file_atomically
from core.errors import StoreError
from core.ports import Change, Doc

log = logging.getLogger(__name__)

BLOB_DIR = "blobs"
_DECODE_INLINE = 256  # `all()` of a bigger table decodes in a thread so the loop stays responsive


@dataclass(frozen=True)
class _Write:
    """A validated change: the document already encoded as compact JSON (None deletes)."""

    table: str
    key: str
    text: str | None


@dataclass
class _TableUndo:
    """What one table held before a commit, to put back if the flush fails."""

    name: str
    keys: list[str]
    old: dict[str, tuple[int, Doc]]  # key -> (doc id, stored entry)


class TinyDBStore:
    """Documents in TinyDB tables (one per table name), flushed atomically by one worker thread.

    Reads come from an in-memory index on the event loop (key -> encoded document, O(1));
    writes queue for the worker, which applies everything queued so far and flushes once
    (group commit); each caller returns only after the flush holding its write is on disk.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.blob_dir = self.directory / BLOB_DIR
        self._executor: ThreadPoolExecutor | None = None
        self._db: TinyDB | None = None
        self._storage: AtomicJSONStorage | None = None
        self._ids: dict[str, dict[str, int]] = {}  # worker only: key -> TinyDB doc id
        self._next_ids: dict[str, int] = {}  # worker only
        self._visible: dict[str, dict[str, str]] = {}  # loop only: acknowledged documents
        self._pending: list[tuple[list[_Write], asyncio.Future[None]]] = []
        self._committer: asyncio.Task[None] | None = None
        self._open = False
        self.flushes = 0  # how many group commits reached the disk (for tests and figures)

    # --- life cycle -------------------------------------------------------------

    async def start(self) -> None:
        """Open (or recover) the database file and load it into memory."""
        if self._open:
            return
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="castfive-store")
        loop = asyncio.get_running_loop()
        try:
            self._visible = await loop.run_in_executor(self._executor, self._open_in_worker)
        except OSError as exc:
            self._executor.shutdown(wait=False)
            raise StoreError(f"The data folder cannot be used: {exc.strerror or exc}.") from exc
        self._open = True

    async def close(self) -> None:
        """Wait for queued writes to reach the disk, then stop the worker."""
        if not self._open:
            return
        self._open = False
        if self._committer is not None:
            await asyncio.shield(self._committer)
        assert self._executor is not None and self._db is not None
        self._executor.shutdown(wait=True)
        self._db.close()

    def _open_in_worker(self) -> dict[str, dict[str, str]]:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.blob_dir.mkdir(exist_ok=True)
        for stale in self.blob_dir.glob(".*.tmp"):  # a blob write cut short by a crash
            stale.unlink(missing_ok=True)
        self._db = TinyDB(self.directory / DB_NAME, storage=AtomicJSONStorage)
        self._storage = self._db.storage  # type: ignore[assignment]
        assert isinstance(self._storage, AtomicJSONStorage)
        data = self._storage.load()
        self._ids, self._next_ids = {}, {}
        visible: dict[str, dict[str, str]] = {}
        for name, raw in data.items():
            ids, texts = self._ids.setdefault(name, {}), visible.setdefault(name, {})
            for doc_id, entry in raw.items():
                ids[entry["key"]] = int(doc_id)
                texts[entry["key"]] = _encode(entry["doc"])
            self._next_ids[name] = max(ids.values(), default=0) + 1
        return visible

    # --- reads -------------------------------------------------------------------

    async def get(self, table: str, key: str) -> Doc | None:
        """The document under `key`, as a fresh copy."""
        self._check_open()
        text = self._visible.get(table, {}).get(key)
        return None if text is None else json.loads(text)

    async def all(self, table: str) -> list[Doc]:
        """Every document of a table, as fresh copies, in insertion order."""
        self._check_open()
        texts = list(self._visible.get(table, {}).values())  # a snapshot: strings never change
        if len(texts) <= _DECODE_INLINE:
            return [json.loads(t) for t in texts]
        return await asyncio.to_thread(lambda: [json.loads(t) for t in texts])

    # --- writes -------------------------------------------------------------------

    async def put(self, table: str, key: str, doc: Doc) -> None:
        """Store `doc` under `key`; durable on return."""
        await self.apply([Change(table, key, doc)])

    async def delete(self, table: str, key: str) -> None:
        """Remove `key` (no error if absent); durable on return."""
        await self.apply([Change(table, key, None)])

    async def apply(self, changes: Sequence[Change]) -> None:
        """Apply all changes or none, in one flush; durable on return."""
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
        # Shielded: a caller that gives up waiting does not cancel the flush it is part of.
        await asyncio.shield(future)

    async def _commit_loop(self) -> None:
        """Flush everything queued, again and again, until the queue stays empty."""
        loop = asyncio.get_running_loop()
        while self._pending:
            batch, self._pending = self._pending, []
            writes = [w for group, _ in batch for w in group]
            try:
                await loop.run_in_executor(self._executor, self._commit_in_worker, writes)
            except Exception as exc:  # noqa: BLE001 - whatever it was, nobody here is acknowledged
                log.error("store flush of %d writes failed: %s", len(writes), exc)
                for _, future in batch:
                    if not future.done():
                        future.set_exception(
                            StoreError(f"The database could not be saved: {_reason(exc)}.")
                        )
                continue
            for w in writes:  # visible only once durable: a read never sees a lost write
                if w.text is None:
                    self._visible.get(w.table, {}).pop(w.key, None)
                else:
                    self._visible.setdefault(w.table, {})[w.key] = w.text
            for _, future in batch:
                if not future.done():
                    future.set_result(None)

    def _commit_in_worker(self, writes: list[_Write]) -> None:
        assert self._storage is not None
        undo = self._apply_in_worker(writes)
        try:
            self._storage.flush()
        except BaseException:
            self._revert_in_worker(undo)
            raise
        self.flushes += 1

    def _apply_in_worker(self, writes: list[_Write]) -> list[_TableUndo]:
        assert self._db is not None and self._storage is not None
        final: dict[str, dict[str, str | None]] = {}
        for w in writes:  # later writes to the same key win, as if applied one by one
            final.setdefault(w.table, {})[w.key] = w.text
        undo: list[_TableUndo] = []
        for name, table_writes in final.items():
            table, ids = self._db.table(name), self._ids.setdefault(name, {})
            raw = (self._storage.read() or {}).get(name, {})
            old = {k: (ids[k], raw[str(ids[k])]) for k in table_writes if k in ids}
            undo.append(_TableUndo(name, list(table_writes), old))
            if old:
                table.remove(doc_ids=[doc_id for doc_id, _ in old.values()])
            inserts: list[tuple[str, int, str]] = []
            for key, text in table_writes.items():
                if text is None:
                    ids.pop(key, None)
                    continue
                doc_id = old[key][0] if key in old else self._new_id(name)
                ids[key] = doc_id
                inserts.append((key, doc_id, text))
            if inserts:
                table.insert_multiple(
                    Document({"key": k, "doc": json.loads(t)}, i) for k, i, t in inserts
                )
                stored = (self._storage.read() or {})[name]
                for key, doc_id, text in inserts:  # saves re-encoding on every flush
                    entry_text = f'{{"key":{json.dumps(key)},"doc":{text}}}'
                    self._storage.remember(name, str(doc_id), stored[str(doc_id)], entry_text)
        return undo

    def _revert_in_worker(self, undo: list[_TableUndo]) -> None:
        assert self._db is not None
        for item in reversed(undo):
            table, ids = self._db.table(item.name), self._ids[item.name]
            written = [ids[k] for k in item.keys if k in ids]
            if written:
                table.remove(doc_ids=written)
            for key in item.keys:
                ids.pop(key, None)
            for key, (doc_id, _) in item.old.items():
                ids[key] = doc_id
            if item.old:
                table.insert_multiple(Document(e, i) for i, e in item.old.values())

    def _new_id(self, name: str) -> int:
        doc_id = self._next_ids.get(name, 1)
        self._next_ids[name] = doc_id + 1
        return doc_id

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
    if not isinstance(change.table, str) or not change.table:
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


def _encode(doc: Doc) -> str:
    # ensure_ascii: a lone surrogate from hostile text still gives valid, writable JSON.
    return json.dumps(doc, separators=(",", ":"), allow_nan=False)


def _reason(exc: BaseException) -> str:
    return (exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)) or "unknown"
