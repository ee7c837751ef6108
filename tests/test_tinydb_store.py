"""TinyDBStore: round trips, atomic batches, group commit, crash safety, recovery and blobs."""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from core.adapters import atomic_json
from core.adapters.tinydb_store import TinyDBStore
from core.errors import StoreError
from core.ports import Change
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
        atomic_json.fault_hook = hook

    yield install
    atomic_json.fault_hook = None


async def reopen(directory: Path) -> TinyDBStore:
    s = TinyDBStore(directory)
    await s.start()
    return s


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


async def test_a_large_table_is_read_whole(store: TinyDBStore) -> None:
    await store.apply([Change("subscribers", f"s{i:05d}", {"i": i}) for i in range(2000)])
    docs = await store.all("subscribers")
    assert [d["i"] for d in docs] == list(range(2000))
    assert await store.get("subscribers", "s01999") == {"i": 1999}


# --- atomicity and group commit ----------------------------------------------------------


async def test_apply_writes_every_table_in_one_flush(store: TinyDBStore, tmp_path) -> None:
    before = store.flushes
    await store.apply([
        Change("episodes", "e1", {"state": "done"}),
        Change("insights", "i1", {"text": "one"}),
        Change("insights", "i2", {"text": "two"}),
        Change("insights", "i2", None),  # later changes to a key win
    ])
    assert store.flushes == before + 1
    on_disk = json.loads((tmp_path / "castfive.json").read_text())
    assert {e["key"] for e in on_disk["insights"].values()} == {"i1"}
    assert {e["key"] for e in on_disk["episodes"].values()} == {"e1"}


async def test_a_failed_flush_rejects_the_whole_batch_and_keeps_the_old_state(
    store: TinyDBStore, tmp_path: Path, fault_hook
) -> None:
    await store.apply([Change("a", "k", {"v": 1}), Change("b", "k", {"v": 1})])

    def disk_full(point: str) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    fault_hook(disk_full)
    with pytest.raises(StoreError, match="No space left"):
        await store.apply([Change("a", "k", {"v": 2}), Change("b", "k", None),
                           Change("c", "new", {"v": 2})])
    assert await store.get("a", "k") == {"v": 1}
    assert await store.get("b", "k") == {"v": 1}
    assert await store.get("c", "new") is None
    fault_hook(None)
    await store.put("a", "other", {"v": 3})  # the store still works after the failure
    await store.close()
    s = await reopen(tmp_path)
    assert await s.get("a", "k") == {"v": 1} and await s.get("b", "k") == {"v": 1}
    assert await s.get("c", "new") is None and await s.get("a", "other") == {"v": 3}
    await s.close()


async def test_concurrent_writers_are_all_persisted_with_fewer_flushes(tmp_path: Path) -> None:
    s = await reopen(tmp_path)

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

    def hold(point: str) -> None:
        if point == "before-rename":
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


async def test_the_event_loop_keeps_ticking_during_flushes(store: TinyDBStore) -> None:
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
    elapsed = time.perf_counter() - started
    stop.set()
    await task
    # A flush done on the loop thread allows about one tick per write, between flushes.
    assert ticks >= 20, f"{ticks} ticks in {elapsed:.3f}s of flushing"


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


@pytest.mark.parametrize("point", ["before-rename", "between-renames"])
async def test_a_crash_mid_flush_loses_no_acknowledged_write(tmp_path: Path, point: str) -> None:
    code, acked = run_child(tmp_path, "db", point, at=8)
    assert code == 1, "the child should have died at the fault point"
    assert len(acked) > 20
    s = await reopen(tmp_path)
    stored = {(t, d["key"]) for t in ("a", "b") for d in _entries(tmp_path, t)}
    assert {tuple(line.split()) for line in acked} <= stored
    a_keys = {d["key"] for d in _entries(tmp_path, "a")}
    b_keys = {d["key"] for d in _entries(tmp_path, "b")}
    assert {k for k in a_keys if int(k[-3:]) % 2} == b_keys  # apply pairs: both or neither
    assert len(await s.all("a")) == len(a_keys)
    assert not (tmp_path / "castfive.json.tmp").exists()
    await s.close()


def _entries(directory: Path, table: str) -> list[dict]:
    data = json.loads((directory / "castfive.json").read_text())  # raises if not valid JSON
    return list(data.get(table, {}).values())


async def test_a_truncated_database_is_restored_from_the_last_good_copy(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    s = await reopen(tmp_path)
    await s.put("feeds", "f1", {"title": "first"})
    await s.put("feeds", "f2", {"title": "second"})  # the flush before this one is the .bak
    await s.close()
    main = tmp_path / "castfive.json"
    damaged = main.read_bytes()[: main.stat().st_size // 2]
    main.write_bytes(damaged)

    with caplog.at_level(logging.WARNING):
        s = await reopen(tmp_path)
    assert await s.all("feeds") == [{"title": "first"}]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any("restored the last-good copy" in r.getMessage() for r in warnings)
    kept = list(tmp_path.glob("castfive.json.corrupt-*"))
    assert [p.read_bytes() for p in kept] == [damaged]  # never silently deleted
    await s.put("feeds", "f3", {"title": "third"})
    await s.close()
    s = await reopen(tmp_path)
    assert len(await s.all("feeds")) == 2
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
