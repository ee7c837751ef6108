"""Write-ahead journal: one checksummed, numbered line per group commit, replayed at start.

A record is one line of ASCII: `<crc32 hex> <seq> <payload>\\n`, where the payload is a JSON
array of `[table, key, document or null]` writes and the CRC covers `<seq> <payload>`. JSON
escapes every newline, so a line is a record; a crash mid-append leaves a last line without
its newline or with a bad CRC, which readers treat as the end of the journal.
"""

from __future__ import annotations

import json
import logging
import os
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.store import atomic_json
from core.store.atomic_json import copy_aside, fsync_dir, run_fault_hook

log = logging.getLogger(__name__)

JOURNAL_NAME = "castfive.journal"
PREVIOUS_SUFFIX = ".1"  # the journal folded into the current snapshot, kept for the `.bak`

Write = tuple[str, str, str | None]  # (table, key, document as JSON text; None deletes)


@dataclass(frozen=True)
class Record:
    """One group commit read back: its sequence number and its writes, documents decoded."""

    seq: int
    writes: list[tuple[str, str, dict[str, Any] | None]]


def encode_record(seq: int, writes: Sequence[Write]) -> bytes:
    """The bytes of one record; documents are spliced in as the ASCII JSON they already are."""
    payload = ",".join(
        f"[{json.dumps(table)},{json.dumps(key)},{'null' if doc is None else doc}]"
        for table, key, doc in writes
    )
    body = f"{seq} [{payload}]".encode("ascii")
    return b"%08x %s\n" % (zlib.crc32(body), body)


def decode_record(line: bytes) -> Record:
    """The record in one complete line (newline included); ValueError says what is wrong."""
    seq, payload = _frame(line)
    try:
        writes = json.loads(payload, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"payload is not JSON: {exc}") from None
    if not isinstance(writes, list) or not all(_is_write(w) for w in writes):
        raise ValueError("payload is not a list of writes")
    return Record(seq, [(t, k, d) for t, k, d in writes])


def _frame(line: bytes) -> tuple[int, bytes]:
    """The sequence number and payload of a line whose framing and checksum are right."""
    if not line.endswith(b"\n"):
        raise ValueError("no end of line (cut short)")
    if len(line) < 12 or line[8:9] != b" ":
        raise ValueError("no checksum")
    body = line[9:-1]
    try:
        crc = int(line[:8], 16)
    except ValueError:
        raise ValueError("no checksum") from None
    if zlib.crc32(body) != crc:
        raise ValueError("checksum mismatch")
    seq_text, _, payload = body.partition(b" ")
    if not seq_text.isdigit():
        raise ValueError("bad sequence number")
    return int(seq_text), payload


def _is_write(w: Any) -> bool:
    return (isinstance(w, list) and len(w) == 3 and isinstance(w[0], str) and bool(w[0])
            and isinstance(w[1], str) and (w[2] is None or isinstance(w[2], dict)))


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


class JournalScan:
    """Iterates the valid records of a journal file in order, stopping at the first bad one.

    After iteration: `problem` says why it stopped early ('' when the whole file was read),
    `valid_bytes` is where the good records end and `trailing` is True when more lines follow
    the bad record (damage inside the file, not just a record cut short by a crash).
    """

    def __init__(self, path: Path, after: int = 0) -> None:
        self.path = path
        self.after = after  # records up to this one are only checked, not decoded nor yielded
        self.problem = ""
        self.valid_bytes = 0
        self.size = 0
        self.trailing = False
        self.records = 0

    def __iter__(self) -> Iterator[Record]:
        if not self.path.exists():
            return
        with open(self.path, "rb") as f:
            self.size = os.fstat(f.fileno()).st_size
            for line in f:
                try:
                    seq = _frame(line)[0]
                    record = None if seq <= self.after else decode_record(line)
                except ValueError as exc:
                    self.problem = f"record {self.records + 1} at byte {self.valid_bytes}: {exc}"
                    self.trailing = f.read(1) != b""
                    return
                self.valid_bytes += len(line)
                self.records += 1
                if record is not None:
                    yield record


def replay(paths: Sequence[Path], after: int, apply: Callable[[Record], None]) -> int:
    """Apply every record numbered after `after`, in order across `paths`; returns the last.

    Records up to `after` are already in the snapshot and are skipped: never applied twice.
    Replay stops at a gap in the numbers or at a bad record in the last file; a record cut
    short at the very end (a crash mid-append, never acknowledged) is only a warning, other
    damage is an error and the file is kept aside.
    """
    seq = after
    for path in paths:
        scan = JournalScan(path, after=seq)
        for record in scan:
            if record.seq != seq + 1:
                aside = copy_aside(path)
                log.error("journal %s jumps from record %d to %d (the records between were in a "
                          "damaged snapshot); not replaying the rest; journal kept as %s",
                          path.name, seq, record.seq, aside.name)
                return seq
            apply(record)
            seq = record.seq
        if scan.problem and path == paths[-1]:
            if scan.trailing:
                aside = copy_aside(path)
                log.error("journal %s is damaged (%s); later records not replayed; journal kept "
                          "as %s", path.name, scan.problem, aside.name)
            else:
                log.warning("journal %s ends with a record cut short by a crash (%s); ignored: it "
                            "was never acknowledged", path.name, scan.problem)
    if seq > after:
        log.info("replayed %d journal records up to record %d", seq - after, seq)
    return seq


class JournalWriter:
    """Appends records durably (write + fsync) to one journal file; one thread uses it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.previous = path.with_name(path.name + PREVIOUS_SUFFIX)
        self.size = 0
        self.damaged = False  # an append failed and could not be undone: rotate before the next
        self._fd: int | None = None

    def open(self) -> None:
        """Open (creating if needed) for appending after whatever the file holds."""
        created = not self.path.exists()
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self.size = os.fstat(self._fd).st_size
        if created:
            os.fsync(self._fd)
            fsync_dir(self.path.parent)

    def append(self, record: bytes) -> None:
        """Write one record and fsync it; on failure the file is cut back to its old size."""
        if self._fd is None or self.damaged:
            raise OSError("the journal is not open")
        start = self.size
        try:
            if atomic_json.fault_hook is not None:  # crash tests: leave half a record behind
                half = len(record) // 2
                _write_all(self._fd, record[:half])
                run_fault_hook("journal-mid-append")
                _write_all(self._fd, record[half:])
            else:
                _write_all(self._fd, record)
            run_fault_hook("journal-before-fsync")
            os.fsync(self._fd)
        except BaseException:
            try:
                os.ftruncate(self._fd, start)
            except OSError:
                self.damaged = True  # garbage may follow the good records: never append after it
            raise
        self.size = start + len(record)

    def rotate(self) -> None:
        """Keep the current journal as `<name>.1` and start an empty one (after a snapshot)."""
        self.damaged = True  # until the new file exists
        self.close()
        if self.path.exists():
            os.replace(self.path, self.previous)
        run_fault_hook("journal-rotated")
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_TRUNC, 0o644)
        os.fsync(self._fd)
        fsync_dir(self.path.parent)
        self.size = 0
        self.damaged = False

    def close(self) -> None:
        """Close the file (appends already fsynced)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
