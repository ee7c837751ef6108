"""The write-ahead journal: record framing, checksums, scanning, appends that fail, rotation."""

from __future__ import annotations

import errno
import zlib
from pathlib import Path

import pytest

from core.store import atomic_json
from core.store.journal import (
    JournalScan,
    JournalWriter,
    decode_record,
    encode_record,
)

WRITES = [("ledger", "telegram:1|2026-11-28", '{"n":1,"t":"caf\\u00e9"}'), ("t", "k\u00e9y", None)]


@pytest.fixture
def fault_hook():
    def install(hook):
        atomic_json.fault_hook = hook

    yield install
    atomic_json.fault_hook = None


def test_a_record_round_trips_its_writes_in_order_as_one_ascii_line() -> None:
    data = encode_record(7, WRITES)
    assert data.isascii() and data.endswith(b"\n") and data.count(b"\n") == 1
    record = decode_record(data)
    assert record.seq == 7
    assert record.writes == [("ledger", "telegram:1|2026-11-28", {"n": 1, "t": "caf\u00e9"}),
                             ("t", "k\u00e9y", None)]


def test_every_record_cut_short_is_rejected() -> None:
    data = encode_record(1, WRITES)
    for end in range(len(data)):
        with pytest.raises(ValueError):
            decode_record(data[:end])


def test_any_changed_byte_is_caught() -> None:
    data = encode_record(12, WRITES)
    for i in range(len(data)):
        changed = data[:i] + (b"0" if data[i:i + 1] != b"0" else b"1") + data[i + 1:]
        with pytest.raises(ValueError):
            decode_record(changed)


@pytest.mark.parametrize("payload", [b'{"a": 1}', b'[["", "k", null]]', b'[["t", 1, null]]',
                                     b'[["t", "k", [1]]]', b'[["t", "k", {"x": NaN}]]'])
def test_a_checksummed_payload_that_is_not_a_list_of_writes_is_rejected(payload: bytes) -> None:
    body = b"3 " + payload
    with pytest.raises(ValueError):
        decode_record(b"%08x %s\n" % (zlib.crc32(body), body))


def test_a_scan_stops_at_the_first_bad_record_and_says_whether_more_follows(tmp_path: Path) -> None:
    path = tmp_path / "j"
    good = [encode_record(n, [("t", f"k{n}", "{}")]) for n in (1, 2, 3)]
    path.write_bytes(good[0] + good[1][:-5] + b"xxxx\n" + good[2])
    scan = JournalScan(path)
    assert [r.seq for r in scan] == [1]
    assert scan.trailing and "record 2" in scan.problem and scan.valid_bytes == len(good[0])

    path.write_bytes(good[0] + good[1] + good[2][:10])  # a crash mid-append: the tail only
    scan = JournalScan(path)
    assert [r.seq for r in scan] == [1, 2] and scan.problem and not scan.trailing

    scan = JournalScan(tmp_path / "absent")
    assert list(scan) == [] and not scan.problem


def test_a_failed_append_leaves_the_file_as_it_was(tmp_path: Path, fault_hook) -> None:
    writer = JournalWriter(tmp_path / "j")
    writer.open()
    writer.append(encode_record(1, WRITES))
    before = (tmp_path / "j").read_bytes()

    def disk_full(point: str) -> None:
        if point == "journal-mid-append":
            raise OSError(errno.ENOSPC, "No space left on device")

    fault_hook(disk_full)
    with pytest.raises(OSError):
        writer.append(encode_record(2, WRITES))
    assert (tmp_path / "j").read_bytes() == before and writer.size == len(before)
    fault_hook(None)
    writer.append(encode_record(2, WRITES))
    writer.close()
    assert [r.seq for r in JournalScan(tmp_path / "j")] == [1, 2]


def test_rotation_keeps_the_folded_journal_beside_an_empty_one(tmp_path: Path) -> None:
    writer = JournalWriter(tmp_path / "j")
    writer.open()
    writer.append(encode_record(1, WRITES))
    writer.rotate()
    writer.append(encode_record(2, WRITES))
    writer.rotate()
    writer.append(encode_record(3, WRITES))
    writer.close()
    assert [r.seq for r in JournalScan(tmp_path / "j.1")] == [2]
    assert [r.seq for r in JournalScan(tmp_path / "j")] == [3]
    reopened = JournalWriter(tmp_path / "j")
    reopened.open()
    assert reopened.size == (tmp_path / "j").stat().st_size
    reopened.close()
