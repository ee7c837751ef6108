"""Atomic whole-file writes: the database snapshot (with a last-good copy) and blobs."""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DB_NAME = "castfive.json"
META_TABLE = "_castfive"  # in the snapshot: the last journal record it holds; not a user table
_CHUNK = 2000  # documents per string handed to the file: bounded memory, GIL released often

Row = tuple[int, str]  # (TinyDB document id, the document as compact ASCII JSON)

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


class SnapshotFile:
    """The database snapshot: written whole and atomically, with a last-good copy beside it.

    A save writes a temp file, fsyncs it, moves the current file to `.bak` (the last-good
    copy), renames the temp file into place and fsyncs the folder: at every moment at least
    one complete file exists. The layout is TinyDB's ({table: {doc id: {"key", "doc"}}}), one
    document per line so any TinyDB (or a person with `less`) can read it.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.backup = self.path.with_name(self.path.name + ".bak")
        self.tmp = self.path.with_name(self.path.name + ".tmp")

    def save(self, chunks: Iterable[str]) -> int:
        """Write the ASCII text of `chunks` as the new snapshot; returns its size in bytes."""
        size = 0
        with open(self.tmp, "wb") as f:
            for chunk in chunks:
                data = chunk.encode("ascii")
                f.write(data)
                size += len(data)
            f.flush()
            os.fsync(f.fileno())
        run_fault_hook("before-rename")
        if self.path.exists():
            os.replace(self.path, self.backup)
            run_fault_hook("between-renames")
        os.replace(self.tmp, self.path)
        fsync_dir(self.path.parent)
        return size

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
            return main_state
        backup_state = _read_state(self.backup)
        if main_state is None and backup_state is None:
            return {}  # a new store
        if isinstance(backup_state, dict):
            if isinstance(main_state, DamagedFile):
                aside = move_aside(self.path)
                log.warning(
                    "%s is damaged (%s); restored the last-good copy %s; damaged file kept as %s",
                    self.path, main_state, self.backup.name, aside.name,
                )
            else:
                log.warning("%s is missing; restored the last-good copy %s",
                            self.path, self.backup.name)
            write_file_atomically(self.path, self.backup.read_bytes())
            return backup_state
        kept = [move_aside(p).name for p, s in ((self.path, main_state),
                (self.backup, backup_state)) if isinstance(s, DamagedFile)]
        log.error(
            "%s and its last-good copy are unusable (%s; %s); kept them as %s and "
            "started with an empty database (plus whatever the journal still holds)",
            self.path, main_state or "missing", backup_state or "missing", ", ".join(kept),
        )
        return {}


def snapshot_chunks(tables: dict[str, dict[str, Row]], seq: int) -> Iterator[str]:
    """The TinyDB file for `tables` (key -> row) holding journal records up to `seq`, in pieces."""
    meta = {"journal": (1, json.dumps({"seq": seq}))}
    yield "{"
    for index, (name, rows) in enumerate([(META_TABLE, meta), *tables.items()]):
        yield f"{',' if index else ''}\n{json.dumps(name)}:{{\n"
        lines: list[str] = []
        first = True
        for key, (doc_id, text) in rows.items():  # one document per line
            lines.append(f'"{doc_id}":{{"key":{json.dumps(key)},"doc":{text}}}')
            if len(lines) == _CHUNK:
                yield ("" if first else ",\n") + ",\n".join(lines)
                first, lines = False, []
        if lines:
            yield ("" if first else ",\n") + ",\n".join(lines)
        yield "\n}"
    yield "\n}\n"


def folded_seq(meta: dict[str, Any]) -> int:
    """The last journal record a snapshot holds (0 for a snapshot written before journals)."""
    for entry in meta.values():
        seq = entry["doc"].get("seq") if entry["key"] == "journal" else None
        if isinstance(seq, int) and seq >= 0:
            return seq
    return 0


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


def move_aside(path: Path) -> Path:
    """Rename a damaged file to `<name>.corrupt-<UTC time>` (never overwriting one)."""
    target = _aside_name(path)
    os.replace(path, target)
    fsync_dir(path.parent)
    return target


def copy_aside(path: Path) -> Path:
    """Keep a durable copy of a damaged file as `<name>.corrupt-<UTC time>`; returns its path."""
    target = _aside_name(path)
    write_file_atomically(target, path.read_bytes())
    return target


def _aside_name(path: Path) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
    return target
