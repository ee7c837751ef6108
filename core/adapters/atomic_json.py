"""A TinyDB Storage kept in memory and flushed atomically, with a last-good copy beside it."""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tinydb.storages import Storage

log = logging.getLogger(__name__)

DB_NAME = "castfive.json"

# Crash tests set this (in a child process) to die at a named point of a flush; None in production.
fault_hook: Callable[[str], None] | None = None


def run_fault_hook(point: str) -> None:
    """Call the test fault hook, if one is set, at a named point of a write."""
    if fault_hook is not None:
        fault_hook(point)


def fsync_dir(directory: Path) -> None:
    """Make renames in `directory` durable (a no-op where directories cannot be synced)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on a directory; the rename is still atomic
    finally:
        os.close(fd)


def write_file_atomically(path: Path, data: bytes) -> None:
    """Replace `path` with `data` all at once: unique temp file, fsync, rename, fsync folder."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        run_fault_hook("file-before-rename")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


class DamagedFile(Exception):
    """A database file that cannot be used; the message says why."""


class AtomicJSONStorage(Storage):
    """TinyDB storage: `write` only updates memory, `flush` writes the whole state atomically.

    TinyDB's JSONStorage rewrites the file in place on every operation, so a crash can leave
    half a file. Here a flush writes a temp file, fsyncs it, moves the current file to `.bak`
    (the last-good copy), renames the temp file into place and fsyncs the folder: at every
    moment at least one complete file exists.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.backup = self.path.with_name(self.path.name + ".bak")
        self.tmp = self.path.with_name(self.path.name + ".tmp")
        self._data: dict[str, dict[str, Any]] = {}
        self._dirty = False
        # table -> doc id -> (stored entry, its JSON): an entry is re-encoded only when replaced.
        self._texts: dict[str, dict[str, tuple[object, str]]] = {}

    def read(self) -> dict[str, dict[str, Any]]:
        """The whole database, from memory."""
        return self._data

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        """Take TinyDB's new state; it reaches the disk at the next `flush`, with its group."""
        self._data = data
        self._dirty = True

    def remember(self, table: str, doc_id: str, entry: object, text: str) -> None:
        """Record the JSON of a stored entry so the next flush need not encode it."""
        self._texts.setdefault(table, {})[doc_id] = (entry, _fragment(doc_id, text))

    # --- flushing -------------------------------------------------------------------

    def flush(self) -> None:
        """Write the whole database atomically and keep the previous file as `.bak`."""
        if not self._dirty and self.path.exists():
            return
        payload = self._serialise().encode("ascii")
        with open(self.tmp, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        run_fault_hook("before-rename")
        if self.path.exists():
            os.replace(self.path, self.backup)
            run_fault_hook("between-renames")
        os.replace(self.tmp, self.path)
        fsync_dir(self.path.parent)
        self._dirty = False

    def _serialise(self) -> str:
        # Built from cached per-entry JSON: an unchanged entry costs a dict lookup, and the
        # GIL is released between entries, unlike one json.dumps of the whole state.
        tables = []
        for name, raw in self._data.items():
            cache = self._texts.setdefault(name, {})
            parts = []
            for doc_id, entry in raw.items():
                hit = cache.get(doc_id)
                if hit is None or hit[0] is not entry:
                    text = json.dumps(entry, separators=(",", ":"))
                    hit = cache[doc_id] = (entry, _fragment(doc_id, text))
                parts.append(hit[1])
            if len(cache) > len(raw):  # forget removed entries
                self._texts[name] = {doc_id: cache[doc_id] for doc_id in raw}
            tables.append(f'{json.dumps(name)}:{{{",".join(parts)}}}')
        return "{" + ",".join(tables) + "}"

    # --- loading and recovery ---------------------------------------------------------

    def load(self) -> dict[str, dict[str, Any]]:
        """Read the database; fall back to the last-good copy; never delete a damaged file."""
        leftovers = [self.tmp, *self.path.parent.glob(f".{self.path.name}.*.tmp")]
        for tmp in leftovers:  # writes cut short by a crash: never acknowledged
            if tmp.exists():
                log.info("removing %s left by an interrupted write", tmp.name)
                tmp.unlink()
        main_state = _read_state(self.path)
        if isinstance(main_state, dict):
            self._data = main_state
            return self._data
        backup_state = _read_state(self.backup)
        if main_state is None and backup_state is None:
            self._data = {}  # a new store
        elif isinstance(backup_state, dict):
            if isinstance(main_state, DamagedFile):
                aside = _move_aside(self.path)
                log.warning(
                    "%s is damaged (%s); restored the last-good copy %s; damaged file kept as %s",
                    self.path, main_state, self.backup.name, aside.name,
                )
            else:
                log.warning("%s is missing; restored the last-good copy %s",
                            self.path, self.backup.name)
            self._restore_from_backup()
            self._data = backup_state
        else:
            kept = [_move_aside(p).name for p, s in ((self.path, main_state),
                    (self.backup, backup_state)) if isinstance(s, DamagedFile)]
            log.error(
                "%s and its last-good copy are unusable (%s; %s); kept them as %s and "
                "started with an empty database",
                self.path, main_state or "missing", backup_state or "missing", ", ".join(kept),
            )
            self._data = {}
        self._dirty = True  # the next flush writes a good main file
        return self._data

    def _restore_from_backup(self) -> None:
        write_file_atomically(self.path, self.backup.read_bytes())


def _fragment(doc_id: str, text: str) -> str:
    return f'"{doc_id}":{text}'


def _read_state(path: Path) -> dict[str, dict[str, Any]] | DamagedFile | None:
    """The parsed database, None when absent, or DamagedFile saying what is wrong."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        return DamagedFile(f"unreadable: {exc.strerror or exc}")
    if not raw.strip():
        return DamagedFile("empty file")
    try:
        data = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        return DamagedFile(f"not valid JSON: {exc}")
    problem = _shape_problem(data)
    return DamagedFile(problem) if problem else data


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # NaN and Infinity: we never write them


def _shape_problem(data: Any) -> str:
    """Why `data` is not {table: {doc id: {"key": str, "doc": dict}}}, or '' when it is."""
    if not isinstance(data, dict):
        return "top level is not an object"
    for name, table in data.items():
        if not isinstance(table, dict):
            return f"table {name!r} is not an object"
        keys: set[str] = set()
        for doc_id, entry in table.items():
            if not doc_id.isdigit():
                return f"table {name!r} has a bad document id {doc_id!r}"
            if not (isinstance(entry, dict) and isinstance(entry.get("key"), str)
                    and isinstance(entry.get("doc"), dict)):
                return f"table {name!r} document {doc_id} is malformed"
            if entry["key"] in keys:
                return f"table {name!r} has the key {entry['key']!r} twice"
            keys.add(entry["key"])
    return ""


def _move_aside(path: Path) -> Path:
    """Rename a damaged file to `<name>.corrupt-<UTC time>` (never overwriting one)."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
    os.replace(path, target)
    fsync_dir(path.parent)
    return target
