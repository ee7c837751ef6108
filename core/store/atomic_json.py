"""Atomic whole-file writes: the database snapshot (with a last-good copy) and blobs."""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from json.decoder import scanstring  # type: ignore[attr-defined]
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


@dataclass
class Snapshot:
    """A loaded snapshot: rows by table and key, and the last journal record it holds."""

    tables: dict[str, dict[str, Row]] = field(default_factory=dict)
    seq: int = 0
    fell_back: bool = False  # the main file was missing or damaged: `.bak` (or nothing) was used


class SnapshotFile:
    """The database snapshot: written whole and atomically, with a last-good copy beside it.

    A save writes a temp file, fsyncs it, moves the current file to `.bak` (the last-good
    copy), renames the temp file into place and fsyncs the folder: at every moment at least
    one complete file exists. The layout is TinyDB's ({table: {doc id: {"key", "doc"}}}), one
    document per line, ending with a `_castfive` table that holds the journal position and a
    CRC of everything before it: a file that passes the CRC loads line by line without
    parsing each document again; any other valid TinyDB file loads through a full parse.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.backup = self.path.with_name(self.path.name + ".bak")
        self.tmp = self.path.with_name(self.path.name + ".tmp")

    def save(self, tables: dict[str, dict[str, Row]], seq: int) -> int:
        """Write `tables` holding journal records up to `seq`; returns the size in bytes."""
        size = crc = 0
        with open(self.tmp, "wb") as f:
            for chunk in _body_chunks(tables):
                data = chunk.encode("ascii")
                crc = zlib.crc32(data, crc)
                f.write(data)
                size += len(data)
            trailer = _trailer(seq, crc).encode("ascii")
            f.write(trailer)
            f.flush()
            os.fsync(f.fileno())
        run_fault_hook("before-rename")
        if self.path.exists():
            os.replace(self.path, self.backup)
            run_fault_hook("between-renames")
        os.replace(self.tmp, self.path)
        fsync_dir(self.path.parent)
        return size + len(trailer)

    def load(self) -> Snapshot:
        """Read the database; fall back to the last-good copy; never delete a damaged file."""
        leftovers = [self.tmp, *self.path.parent.glob(f".{self.path.name}.*.tmp")]
        for tmp in leftovers:  # writes cut short by a crash: never acknowledged
            if tmp.exists():
                log.info("removing %s left by an interrupted write", tmp.name)
                tmp.unlink()
        main_state = _read_state(self.path)
        if isinstance(main_state, Snapshot):
            return main_state
        backup_state = _read_state(self.backup)
        if main_state is None and backup_state is None:
            return Snapshot()  # a new store
        if isinstance(backup_state, Snapshot):
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
            backup_state.fell_back = True
            return backup_state
        kept = [move_aside(p).name for p, s in ((self.path, main_state),
                (self.backup, backup_state)) if isinstance(s, DamagedFile)]
        log.error(
            "%s and its last-good copy are unusable (%s; %s); kept them as %s and "
            "started with an empty database (plus whatever the journal still holds)",
            self.path, main_state or "missing", backup_state or "missing", ", ".join(kept),
        )
        return Snapshot(fell_back=True)


def encode_doc(doc: Any) -> str:
    """A document as compact JSON; ASCII, so a lone surrogate from hostile text still writes."""
    return json.dumps(doc, separators=(",", ":"), allow_nan=False)


# --- the file layout ----------------------------------------------------------------


def _body_chunks(tables: dict[str, dict[str, Row]]) -> Iterator[str]:
    """Every table, one document per line, each table followed by a comma; in pieces."""
    yield "{\n"
    for name, rows in tables.items():
        if not rows:
            continue
        yield f"{json.dumps(name)}:{{\n"
        lines: list[str] = []
        first = True
        for key, (doc_id, text) in rows.items():
            lines.append(f'"{doc_id}":{{"key":{json.dumps(key)},"doc":{text}}}')
            if len(lines) == _CHUNK:
                yield ("" if first else ",\n") + ",\n".join(lines)
                first, lines = False, []
        if lines:
            yield ("" if first else ",\n") + ",\n".join(lines)
        yield "\n},\n"


def _trailer(seq: int, crc: int) -> str:
    meta = json.dumps({"seq": seq, "crc32": f"{crc:08x}"}, separators=(",", ":"))
    return f'{json.dumps(META_TABLE)}:{{\n"1":{{"key":"journal","doc":{meta}}}\n}}\n}}\n'


def _read_state(path: Path) -> Snapshot | DamagedFile | None:
    """The database, None when absent, or DamagedFile saying what is wrong."""
    try:
        fast = _read_lines(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return DamagedFile(f"unreadable: {exc.strerror or exc}")
    if fast is not None:
        return fast
    try:  # not our layout (an older or hand-edited file), or damaged: the full parse says which
        raw = path.read_bytes()
    except OSError as exc:
        return DamagedFile(f"unreadable: {exc.strerror or exc}")
    if not raw.strip():
        return DamagedFile("empty file")
    try:
        data = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        return DamagedFile(f"not valid JSON: {exc}")
    problem = _shape_problem(data)
    if problem:
        return DamagedFile(problem)
    snapshot = Snapshot(seq=_folded_seq(data.pop(META_TABLE, {})))
    for name, raw_table in data.items():
        snapshot.tables[name] = {e["key"]: (int(i), encode_doc(e["doc"])) for i, e in raw_table.items()}
    return snapshot


def _read_lines(path: Path) -> Snapshot | None:
    """The snapshot, read line by line and trusted by its CRC; None when that does not work."""
    snapshot, crc = Snapshot(), 0
    rows: dict[str, Row] | None = None
    with open(path, "rb") as f:
        first = f.readline()
        if first != b"{\n":
            return None
        crc = zlib.crc32(first)
        for raw in f:
            if raw.startswith(b'"_castfive":{') and rows is None:
                return _check_trailer(snapshot, crc, raw + f.read())
            crc = zlib.crc32(raw, crc)
            try:
                line = raw.decode("ascii")
            except UnicodeDecodeError:
                return None
            if rows is None:
                if not line.endswith(":{\n"):
                    return None
                name = _string_at(line, 0, len(line) - 3)
                if name is None or name in snapshot.tables:
                    return None
                rows = snapshot.tables[name] = {}
            elif line == "},\n":
                rows = None
            elif not _add_row(rows, line.rstrip("\n").removesuffix(",")):
                return None
    return None


def _add_row(rows: dict[str, Row], line: str) -> bool:
    """Add one `"id":{"key":K,"doc":D}` line; False when it is not one (or repeats a key)."""
    split = line.find('":{"key":', 1)
    doc_id = line[1:split]
    if split < 0 or line[0] != '"' or not doc_id.isdigit():
        return False
    start = split + 9
    try:
        key, end = scanstring(line, start + 1) if line[start:start + 1] == '"' else (None, 0)
    except ValueError:
        return False
    if (not isinstance(key, str) or key in rows or line[end:end + 7] != ',"doc":'
            or line[end + 7:end + 8] != "{" or line[-2:] != "}}"):
        return False
    rows[key] = (int(doc_id), line[end + 7:-1])
    return True


def _string_at(line: str, start: int, end: int) -> str | None:
    try:
        value, stop = scanstring(line, start + 1)
    except (ValueError, IndexError):
        return None
    return value if stop == end else None


def _check_trailer(snapshot: Snapshot, crc: int, trailer: bytes) -> Snapshot | None:
    try:
        meta = json.loads(b"{" + trailer)[META_TABLE]["1"]["doc"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(meta, dict) or meta.get("crc32") != f"{crc:08x}":
        return None
    seq = meta.get("seq")
    snapshot.seq = seq if isinstance(seq, int) and seq >= 0 else 0
    return snapshot


def _folded_seq(meta: dict[str, Any]) -> int:
    """The last journal record a snapshot holds (0 for a snapshot written before journals)."""
    for entry in meta.values():
        seq = entry["doc"].get("seq") if entry["key"] == "journal" else None
        if isinstance(seq, int) and seq >= 0:
            return seq
    return 0


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
