"""TinyDBStore: round trips, atomic batches, group commit, journal, crash safety, recovery, blobs."""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from tinydb import TinyDB

from core.errors import StoreError
from core.ports import Change
from core.store import atomic_json
from core.store.diskfull import reset_log_throttle
from core.store.journal import JOURNAL_NAME, JournalScan, encode_record
from core.store.tinydb_store import TinyDBStore
from tests.store_crash_child import CRASH_AT, CRASH_POINT

CHILD = Path(__file__).with_name("store_crash_child.py")


@pytest.fixture
async def store(tmp_path: Path):
    s = TinyDBStore(tmp_path)
    await s.start()
    yield s
    await s.close()


@pytest.fixture
def fault_hook():
    """Install a fault hook for one test and always remove it."""

    def install(hook):
        reset_log_throttle()  # a full disk is logged once a minute: each test starts afresh
        atomic_json.fault_hook = hook

    yield install
    atomic_json.fault_hook = None


async def reopen(directory: Path, **options) -> TinyDBStore:
    s = TinyDBStore(directory, **options)
    await s.start()
    return s


MODES = {"journal": {}, "whole-file": {"journal": False}}


def records(directory: Path) -> list:
    return list(JournalScan(directory / JOURNAL_NAME))


# --- round trips ----------------------------------------------------------------------


async def test_every_method_round_trips_and_survives_a_restart(tmp_path: Path) -> None:
    s = await reopen(tmp_path)
    await s.put("feeds", "f1", {"title": "One", "tags": ["a", "b"], "n": 1.5})
    await s.put("feeds", "f2", {"title": "Two"})
    await s.put("feeds", "f1", {"title": "One again"})
    await s.delete("feeds", "f2")
    await s.delete("feeds", "never-there")
    await s.apply([Change("episodes", "e1", {"state": "new"}), Change("feeds", "f3", {"t": 3})])
    await s.write_blob("e1.transcript.json", b"\x00binary\xff")
    assert await s.get("feeds", "f1") == {"title": "One again"}
    assert await s.get("feeds", "f2") is None
    assert await s.get("nothing", "x") is None
    assert await s.all("feeds") == [{"title": "One again"}, {"t": 3}]
    assert await s.all("nothing") == []
    await s.close()

    s = await reopen(tmp_path)
    assert await s.all("feeds") == [{"title": "One again"}, {"t": 3}]
    assert await s.get("episodes", "e1") == {"state": "new"}
    assert await s.read_blob("e1.transcript.json") == b"\x00binary\xff"
    await s.delete_blob("e1.transcript.json")
    await s.delete_blob("e1.transcript.json")
    assert await s.read_blob("e1.transcript.json") is None
    await s.close()
    assert json.loads((tmp_path / "castfive.json").read_text())  # valid JSON on disk


async def test_documents_read_back_are_copies_callers_cannot_alias(store: TinyDBStore) -> None:
    doc = {"weights": {"a": 1}}
    await store.put("subscribers", "s1", doc)
    doc["weights"]["a"] = 99
    got = await store.get("subscribers", "s1")
    got["weights"]["a"] = 42
    (await store.all("subscribers"))[0]["weights"]["a"] = 7
    assert await store.get("subscribers", "s1") == {"weights": {"a": 1}}


async def test_a_document_that_is_not_json_is_refused_and_changes_nothing(store) -> None:
    await store.put("t", "k", {"ok": True})
    for bad in ({"x": float("nan")}, {"x": object()}, ["not", "a", "dict"]):
        with pytest.raises(StoreError):
            await store.apply([Change("t", "k", {"changed": True}), Change("t", "k2", bad)])
    assert await store.all("t") == [{"ok": True}]


async def test_a_store_that_is_not_started_refuses_work(tmp_path: Path) -> None:
    s = TinyDBStore(tmp_path / "new")
    assert not (tmp_path / "new").exists()  # the constructor does no I/O
    with pytest.raises(StoreError):
        await s.put("t", "k", {})
    with pytest.raises(StoreError):
        await s.get("t", "k")


async def test_a_second_store_on_an_open_folder_is_refused_and_nothing_is_lost(tmp_path: Path) -> None:
    # Before, the second process's writes were overwritten by the first one's next snapshot.
    running = TinyDBStore(tmp_path)
    await running.start()
    await running.put("subscribers", "a", {"id": "a"})
    second = TinyDBStore(tmp_path)
    with pytest.raises(StoreError, match="Another Castfive process is using the data folder"):
        await second.start()
    with pytest.raises(StoreError):
        await second.put("subscribers", "b", {"id": "b"})  # refused, never half-open
    await running.put("subscribers", "c", {"id": "c"})
    await running.close()
    await second.start()  # free once the first has closed
    assert sorted(d["id"] for d in await second.all("subscribers")) == ["a", "c"]
    await second.close()


async def test_a_large_table_is_read_whole(store: TinyDBStore) -> None:
    await store.apply([Change("subscribers", f"s{i:05d}", {"i": i}) for i in range(2000)])
    docs = await store.all("subscribers")
    assert [d["i"] for d in docs] == list(range(2000))
    assert await store.get("subscribers", "s01999") == {"i": 1999}


# --- atomicity and group commit ----------------------------------------------------------


async def test_apply_writes_every_table_in_one_journal_record(store: TinyDBStore, tmp_path) -> None:
    before = store.flushes
    await store.apply([
        Change("episodes", "e1", {"state": "done"}),
        Change("insights", "i1", {"text": "one"}),
        Change("insights", "i2", {"text": "two"}),
        Change("insights", "i2", None),  # later changes to a key win
    ])
    assert store.flushes == before + 1
    (record,) = records(tmp_path)
    assert [(t, k) for t, k, _ in record.writes] == [
        ("episodes", "e1"), ("insights", "i1"), ("insights", "i2"), ("insights", "i2")]
    await store.close()
    on_disk = json.loads((tmp_path / "castfive.json").read_text())
    assert {e["key"] for e in on_disk["insights"].values()} == {"i1"}
    assert {e["key"] for e in on_disk["episodes"].values()} == {"e1"}


async def test_a_write_appends_to_the_journal_and_leaves_the_snapshot_alone(tmp_path: Path) -> None:
    s = await reopen(tmp_path)
    await s.put("feeds", "f1", {"title": "one"})
    await s.put("feeds", "f2", {"title": "two"})
    assert not (tmp_path / "castfive.json").exists()  # nothing rewritten whole yet
    assert [r.seq for r in records(tmp_path)] == [1, 2]
    await s.close()  # close folds the journal into the snapshot and starts an empty one
    assert (tmp_path / JOURNAL_NAME).stat().st_size == 0
    assert json.loads((tmp_path / "castfive.json").read_text())["feeds"]["2"]["doc"] == {"title": "two"}
    s = await reopen(tmp_path)
    assert s.replayed == 0 and await s.all("feeds") == [{"title": "one"}, {"title": "two"}]
    await s.close()


async def test_a_journal_past_its_threshold_is_folded_into_a_new_snapshot(tmp_path: Path) -> None:
    s = await reopen(tmp_path, journal_min_bytes=2000, journal_ratio=0.0)
    for i in range(40):
        await s.put("t", f"k{i}", {"text": "x" * 100, "i": i})
    assert s.snapshots >= 2
    assert (tmp_path / JOURNAL_NAME).stat().st_size < 2000 + 200
    assert (tmp_path / "castfive.json.bak").exists()
    image = crash_image(tmp_path)  # every fold and every record since: nothing lost, nothing twice
    s2 = await reopen(image)
    assert [d["i"] for d in await s2.all("t")] == list(range(40))
    assert s2.replayed == len(records(tmp_path))
    await s2.close()
    await s.close()


async def test_the_snapshot_is_a_tinydb_database_any_tinydb_reads(tmp_path: Path) -> None:
    s = await reopen(tmp_path)
    await s.apply([Change("feeds", "f1", {"title": "One"}), Change("ledger", "s|2026-11-28", {"n": 5})])
    await s.close()
    db = TinyDB(tmp_path / "castfive.json", access_mode="r")
    assert db.table("feeds").all() == [{"key": "f1", "doc": {"title": "One"}}]
    assert db.table("ledger").get(doc_id=1) == {"key": "s|2026-11-28", "doc": {"n": 5}}
    db.close()


async def test_a_file_written_by_plain_tinydb_opens_with_its_documents(tmp_path: Path) -> None:
    db = TinyDB(tmp_path / "castfive.json")  # an older Castfive, or an operator's script
    db.table("feeds").insert({"key": "f1", "doc": {"title": "caf\u00e9"}})
    db.close()
    s = await reopen(tmp_path)
    assert await s.get("feeds", "f1") == {"title": "caf\u00e9"}
    await s.put("feeds", "f2", {"title": "two"})
    await s.close()
    s = await reopen(tmp_path)
    assert await s.all("feeds") == [{"title": "caf\u00e9"}, {"title": "two"}]
    await s.close()


async def test_a_hand_edited_snapshot_fails_its_checksum_and_is_parsed_in_full(tmp_path: Path) -> None:
    s = await reopen(tmp_path)
    await s.put("feeds", "f1", {"title": "One"})
    await s.close()
    main = tmp_path / "castfive.json"
    main.write_text(main.read_text().replace('"title":"One"', '"title": "Edited", "n": [1]'))
    s = await reopen(tmp_path)
    assert await s.get("feeds", "f1") == {"title": "Edited", "n": [1]}
    await s.close()


async def test_the_reserved_table_cannot_be_written(store: TinyDBStore) -> None:
    with pytest.raises(StoreError):
        await store.put("_castfive", "journal", {"seq": 0})


@pytest.mark.parametrize("mode", MODES)
async def test_a_failed_flush_rejects_the_whole_batch_and_keeps_the_old_state(
    tmp_path: Path, fault_hook, mode: str
) -> None:
    store = await reopen(tmp_path, **MODES[mode])
    await store.apply([Change("a", "k", {"v": 1}), Change("b", "k", {"v": 1})])

    def disk_full(point: str) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    fault_hook(disk_full)
    with pytest.raises(StoreError, match=r"the data folder is full: [0-9]+ MB free"):
        await store.apply([Change("a", "k", {"v": 2}), Change("b", "k", None),
                           Change("c", "new", {"v": 2})])
    assert await store.get("a", "k") == {"v": 1}
    assert await store.get("b", "k") == {"v": 1}
    assert await store.get("c", "new") is None
    fault_hook(None)
    await store.put("a", "other", {"v": 3})  # the store still works after the failure
    for directory in (crash_image(tmp_path), tmp_path):  # the failed batch left no trace
        if directory == tmp_path:
            await store.close()
        s = await reopen(directory, **MODES[mode])
        assert await s.get("a", "k") == {"v": 1} and await s.get("b", "k") == {"v": 1}
        assert await s.get("c", "new") is None and await s.get("a", "other") == {"v": 3}
        await s.close()


async def test_a_failed_snapshot_still_acknowledges_writes_the_journal_holds(
    tmp_path: Path, fault_hook, caplog: pytest.LogCaptureFixture
) -> None:
    s = await reopen(tmp_path, journal_min_bytes=1, journal_ratio=0.0)  # fold after every write

    def disk_full(point: str) -> None:
        if point == "before-rename":
            raise OSError(errno.ENOSPC, "No space left on device")

    fault_hook(disk_full)
    with caplog.at_level(logging.ERROR):
        await s.put("a", "k", {"v": 1})
    assert any("snapshot failed" in r.getMessage() for r in caplog.records)
    fault_hook(None)
    await s.put("a", "k2", {"v": 2})  # the next fold works again
    s2 = await reopen(crash_image(tmp_path))
    assert await s2.all("a") == [{"v": 1}, {"v": 2}]
    await s2.close()
    await s.close()


@pytest.mark.parametrize("mode", MODES)
async def test_concurrent_writers_are_all_persisted_with_fewer_flushes(tmp_path: Path, mode) -> None:
    s = await reopen(tmp_path, **MODES[mode])

    async def writer(w: int) -> None:
        for j in range(20):
            await s.put("subscribers", f"w{w}-{j}", {"w": w, "j": j})

    await asyncio.gather(*(writer(w) for w in range(50)))
    assert s.flushes < 1000 / 5  # writes that arrive during a flush share the next one
    await s.close()
    s = await reopen(tmp_path)
    docs = await s.all("subscribers")
    assert sorted((d["w"], d["j"]) for d in docs) == [(w, j) for w in range(50) for j in range(20)]
    await s.close()


async def test_reads_do_not_wait_for_a_flush_nor_see_unacknowledged_writes(
    store: TinyDBStore, fault_hook
) -> None:
    await store.put("t", "k", {"v": "old"})
    in_flush, release = threading.Event(), threading.Event()

    def hold(point: str) -> None:  # the first fault point of the commit: mid-append
        in_flush.set()
        release.wait(10)

    fault_hook(hold)
    write = asyncio.create_task(store.put("t", "k", {"v": "new"}))
    while not in_flush.is_set():
        await asyncio.sleep(0.001)
    assert await store.get("t", "k") == {"v": "old"}  # answered while the worker is stuck
    assert not write.done()  # not acknowledged before its flush is complete
    release.set()
    await write
    assert await store.get("t", "k") == {"v": "new"}


async def test_a_writer_that_stops_waiting_still_has_its_whole_batch_saved(
    store: TinyDBStore, tmp_path: Path, fault_hook
) -> None:
    in_flush, release = threading.Event(), threading.Event()
    fault_hook(lambda point: (in_flush.set(), release.wait(10)))
    write = asyncio.create_task(store.apply([Change("a", "k", {"v": 1}), Change("b", "k", {})]))
    while not in_flush.is_set():
        await asyncio.sleep(0.001)
    write.cancel()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await write
    await store.close()
    s = await reopen(tmp_path)
    assert await s.get("a", "k") == {"v": 1} and await s.get("b", "k") == {}
    await s.close()


@pytest.mark.parametrize("mode", MODES)
async def test_the_event_loop_keeps_ticking_during_flushes(tmp_path: Path, mode: str) -> None:
    store = await reopen(tmp_path, **MODES[mode])
    big = "insight text " * 150  # ~2 kB documents: ~10 MB database
    await store.apply([Change("insights", f"i{i}", {"text": big, "i": i}) for i in range(5000)])
    ticks = 0
    stop = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not stop.is_set():
            await asyncio.sleep(0.001)
            ticks += 1

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    started = time.perf_counter()
    for i in range(5):
        await store.put("insights", f"i{i}", {"text": big, "i": -i})
    await store.close()  # journal mode writes its one whole snapshot here
    elapsed = time.perf_counter() - started
    stop.set()
    await task
    # A flush done on the loop thread allows about one tick per write (six here), between
    # flushes; a free loop ticks every millisecond or two however long the writes take.
    assert ticks >= max(10, elapsed * 1000 / 4), f"{ticks} ticks in {elapsed:.3f}s of flushing"


# --- crashes and damaged files ------------------------------------------------------------


def run_child(directory: Path, mode: str, point: str, at: int) -> tuple[int, list[str]]:
    env = {**os.environ, CRASH_POINT: point, CRASH_AT: str(at)}
    proc = subprocess.run(
        [sys.executable, str(CHILD), str(directory), mode],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )
    acked = [line[4:] for line in proc.stdout.splitlines(keepends=True)
             if line.startswith("ack ") and line.endswith("\n")]
    return proc.returncode, [a.strip() for a in acked]


CRASHES = [
    ("whole", "before-rename", 8), ("whole", "between-renames", 8),
    ("journal", "journal-mid-append", 20), ("journal", "journal-before-fsync", 20),
    ("journal", "before-rename", 3), ("journal", "between-renames", 3),
    ("journal", "snapshot-before-truncate", 3), ("journal", "journal-rotated", 3),
]


@pytest.mark.parametrize(("mode", "point", "at"), CRASHES)
async def test_a_crash_mid_write_loses_no_acknowledged_write_and_applies_none_twice(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, mode: str, point: str, at: int
) -> None:
    code, acked = run_child(tmp_path, mode, point, at)
    assert code == 1, "the child should have died at the fault point"
    assert len(acked) > 20
    options = {"journal": mode == "journal"}
    with caplog.at_level(logging.WARNING):
        s = await reopen(tmp_path, **options)
    await assert_consistent(s, acked)
    if point in ("snapshot-before-truncate", "journal-rotated"):
        assert s.replayed == 0  # every record was already in the snapshot: none applied twice
    if point == "journal-mid-append":
        assert any("cut short" in r.getMessage() for r in caplog.records)
    await s.close()
    s = await reopen(tmp_path, **options)  # and again after the clean start folded everything
    await assert_consistent(s, acked)
    await s.close()
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob("*.corrupt-*"))


async def assert_consistent(s: TinyDBStore, acked: list[str]) -> None:
    """Every acknowledged write is there, every batch whole, every writer's batches in order."""
    a = {d["k"] for d in await s.all("a")}
    b = {d["k"] for d in await s.all("b")}
    assert len(a) == len(await s.all("a"))
    assert {tuple(line.split()) for line in acked} <= {("a", k) for k in a} | {("b", k) for k in b}
    assert {k for k in a if int(k[-3:]) % 2} == b  # apply pairs: both or neither
    for w in range(20):
        steps = sorted(int(k[-3:]) for k in a if k.startswith(f"w{w:02d}-"))
        counter = await s.get("last", f"w{w:02d}")
        if not steps:
            assert counter is None
            continue
        assert steps == list(range(len(steps)))  # sequential batches: none missing in between
        assert counter == {"j": steps[-1]}  # never moved back by an old record replayed late


def crash_image(directory: Path) -> Path:
    """What a power cut now would leave: a copy of the folder (acknowledged = already fsynced)."""
    image = Path(tempfile.mkdtemp(dir=directory.parent)) / "image"
    shutil.copytree(directory, image)
    return image


@pytest.mark.parametrize(("mode", "expected"), [("whole-file", 1), ("journal", 2)])
async def test_a_truncated_database_is_restored_from_the_last_good_copy(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, mode: str, expected: int
) -> None:
    for n, title in enumerate(("first", "second")):  # the write before the last is the .bak
        s = await reopen(tmp_path, **MODES[mode])
        await s.put("feeds", f"f{n}", {"title": title})
        await s.close()
    main = tmp_path / "castfive.json"
    damaged = main.read_bytes()[: main.stat().st_size // 2]
    main.write_bytes(damaged)

    with caplog.at_level(logging.WARNING):
        s = await reopen(tmp_path, **MODES[mode])
    # Whole-file mode loses the last write; the journal kept beside the .bak replays it.
    assert await s.all("feeds") == [{"title": "first"}, {"title": "second"}][:expected]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any("restored the last-good copy" in r.getMessage() for r in warnings)
    kept = list(tmp_path.glob("castfive.json.corrupt-*"))
    assert [p.read_bytes() for p in kept] == [damaged]  # never silently deleted
    await s.put("feeds", "f3", {"title": "third"})
    await s.close()
    s = await reopen(tmp_path, **MODES[mode])
    assert len(await s.all("feeds")) == expected + 1
    await s.close()


async def test_a_damaged_snapshot_without_a_last_good_copy_is_rebuilt_from_the_journal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    s = await reopen(tmp_path)
    await s.put("feeds", "f1", {"title": "first"})
    await s.put("feeds", "f2", {"title": "second"})
    await s.close()  # the first snapshot: no .bak yet, the folded journal kept as .1
    (tmp_path / "castfive.json").write_bytes(b'{"feeds": {"1": ')
    with caplog.at_level(logging.WARNING):
        s = await reopen(tmp_path)
    assert await s.all("feeds") == [{"title": "first"}, {"title": "second"}]
    assert s.replayed == 2
    assert len(list(tmp_path.glob("castfive.json.corrupt-*"))) == 1
    await s.close()


async def test_a_record_cut_short_by_a_crash_is_ignored_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    s = await reopen(tmp_path / "live")
    await s.put("t", "a", {"v": 1})
    await s.put("t", "b", {"v": 2})
    image = crash_image(tmp_path / "live")
    await s.close()
    torn = encode_record(3, [("t", "c", '{"v":3}')])
    journal = image / JOURNAL_NAME
    journal.write_bytes(journal.read_bytes() + torn[: len(torn) // 2])
    with caplog.at_level(logging.WARNING):
        s = await reopen(image)
    assert await s.all("t") == [{"v": 1}, {"v": 2}] and s.replayed == 2
    assert any(r.levelno == logging.WARNING and "cut short" in r.getMessage() for r in caplog.records)
    await s.put("t", "d", {"v": 4})  # appended after the good records, not after the torn one
    await s.close()
    s = await reopen(image)
    assert await s.all("t") == [{"v": 1}, {"v": 2}, {"v": 4}]
    await s.close()


async def test_a_damaged_record_stops_the_replay_and_the_journal_is_kept_aside(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    s = await reopen(tmp_path / "live")
    for n in range(3):
        await s.put("t", f"k{n}", {"v": n})
    image = crash_image(tmp_path / "live")
    await s.close()
    journal = image / JOURNAL_NAME
    lines = journal.read_bytes().splitlines(keepends=True)
    lines[1] = lines[1].replace(b'"v":1', b'"v":7')  # bit rot: the checksum no longer matches
    journal.write_bytes(b"".join(lines))
    with caplog.at_level(logging.ERROR):
        s = await reopen(image)
    assert await s.all("t") == [{"v": 0}]  # nothing after the bad record is replayed
    assert any("damaged" in r.getMessage() for r in caplog.records)
    assert [p.read_bytes() for p in image.glob(f"{JOURNAL_NAME}.corrupt-*")] == [b"".join(lines)]
    await s.close()


async def test_a_journal_that_does_not_follow_its_snapshot_is_not_replayed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / JOURNAL_NAME).write_bytes(encode_record(5, [("t", "k", '{"v":5}')]))
    with caplog.at_level(logging.ERROR):
        s = await reopen(tmp_path)
    assert await s.all("t") == [] and s.replayed == 0
    assert any("jumps from record 0 to 5" in r.getMessage() for r in caplog.records)
    assert len(list(tmp_path.glob(f"{JOURNAL_NAME}.corrupt-*"))) == 1
    await s.close()


async def test_both_files_broken_keeps_them_aside_and_starts_empty_with_an_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "castfive.json").write_bytes(b'{"feeds": {"1": {"key": "f1", "doc": {')
    (tmp_path / "castfive.json.bak").write_bytes(b"\x00\x00garbage")
    with caplog.at_level(logging.WARNING):
        s = await reopen(tmp_path)
    assert await s.all("feeds") == []
    assert any(r.levelno == logging.ERROR and "empty database" in r.getMessage()
               for r in caplog.records)
    assert [p.read_bytes() for p in tmp_path.glob("castfive.json.corrupt-*")] == [
        b'{"feeds": {"1": {"key": "f1", "doc": {'
    ]
    assert [p.read_bytes() for p in tmp_path.glob("castfive.json.bak.corrupt-*")] == [
        b"\x00\x00garbage"
    ]
    await s.put("feeds", "f1", {"title": "fresh"})
    await s.close()
    s = await reopen(tmp_path)
    assert await s.all("feeds") == [{"title": "fresh"}]
    await s.close()


@pytest.mark.parametrize(
    ("content", "reason"),
    [('{"feeds": [1, 2, 3]}', "not an object"),
     ('{"feeds": {"1": {"key": "f", "doc": {"x": NaN}}}}', "not valid JSON"),
     ('{"feeds": {"1": {"key": "f", "doc": {}}, "2": {"key": "f", "doc": {}}}}', "twice"),
     ("", "empty file")],
)
async def test_a_database_file_we_could_not_have_written_counts_as_damaged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: str, reason: str
) -> None:
    (tmp_path / "castfive.json").write_text(content)
    with caplog.at_level(logging.ERROR):
        s = await reopen(tmp_path)
    assert await s.all("feeds") == []
    assert any(reason in r.getMessage() for r in caplog.records)
    assert len(list(tmp_path.glob("castfive.json.corrupt-*"))) == 1
    await s.close()


# --- blobs ------------------------------------------------------------------------------------


async def test_a_crash_while_writing_a_blob_keeps_the_previous_version(tmp_path: Path) -> None:
    code, acked = run_child(tmp_path, "blob", "file-before-rename", at=2)
    assert code == 1 and acked == ["blob old"]
    assert list((tmp_path / "blobs").glob(".*.tmp"))  # the crash left its temp file
    s = await reopen(tmp_path)
    assert await s.read_blob("transcript.json") == b"old" * 100_000
    assert not list((tmp_path / "blobs").glob(".*.tmp"))  # cleaned up on start
    await s.close()


async def test_a_blob_overwrite_replaces_it_whole(store: TinyDBStore, tmp_path: Path) -> None:
    await store.write_blob("t.json", b"a" * 1000)
    await store.write_blob("t.json", b"b" * 10)
    assert await store.read_blob("t.json") == b"b" * 10
    assert [p.name for p in (tmp_path / "blobs").iterdir()] == ["t.json"]


@pytest.mark.parametrize(
    "name", ["", "..", "../escape", "a/b", "a\\b", ".hidden", "x..y", "nul\0", "line\nbreak",
             "x" * 201],
)
async def test_a_blob_name_that_could_leave_the_folder_is_refused(
    store: TinyDBStore, tmp_path: Path, name: str
) -> None:
    with pytest.raises(StoreError):
        await store.write_blob(name, b"data")
    with pytest.raises(StoreError):
        await store.read_blob(name)
    with pytest.raises(StoreError):
        await store.delete_blob(name)
    assert not (tmp_path / "escape").exists()
    assert list((tmp_path / "blobs").iterdir()) == []
