"""The Store port's contract, the same tests against TinyDBStore and PostgresStore."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from core.errors import StoreError
from core.ports import Change, Store
from core.store.tinydb_store import TinyDBStore

KINDS = ["tinydb", pytest.param("postgres", marks=pytest.mark.services)]


def make_store(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Store:
    if kind == "tinydb":
        return TinyDBStore(tmp_path / "data")
    from core.store.postgres_store import PostgresStore

    return PostgresStore(request.getfixturevalue("postgres_url"))


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
async def opened(kind: str, tmp_path: Path, request: pytest.FixtureRequest):
    store = make_store(kind, tmp_path, request)
    await store.start()
    yield store
    await store.close()


async def reopen(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Store:
    store = make_store(kind, tmp_path, request)
    await store.start()
    return store


async def test_every_operation_round_trips_and_survives_a_restart(kind, tmp_path, request) -> None:
    s = await reopen(kind, tmp_path, request)
    await s.put("feeds", "f1", {"title": "One", "tags": ["a", "b"], "n": 1.5, "big": 2**53 + 1})
    await s.put("feeds", "f2", {"title": "Two", "nested": {"x": [None, True, "ü ✓ 🎧"]}})
    await s.put("feeds", "f1", {"title": "One again"})  # a replaced document keeps its place
    await s.delete("feeds", "f2")
    await s.delete("feeds", "never-there")
    await s.apply([Change("episodes", "e1", {"state": "new"}), Change("feeds", "f3", {"t": 3})])
    await s.write_blob("transcript-e1.json", b"\x00binary\xff" * 10_000)
    await s.write_blob("chapters-e1.json", b"")
    assert await s.get("feeds", "f1") == {"title": "One again"}
    assert await s.get("feeds", "f2") is None
    assert await s.get("nothing", "x") is None
    assert await s.all("feeds") == [{"title": "One again"}, {"t": 3}]
    assert await s.all("nothing") == []
    await s.close()

    s = await reopen(kind, tmp_path, request)
    assert await s.all("feeds") == [{"title": "One again"}, {"t": 3}]
    assert await s.get("episodes", "e1") == {"state": "new"}
    assert await s.read_blob("transcript-e1.json") == b"\x00binary\xff" * 10_000
    assert await s.read_blob("chapters-e1.json") == b""
    await s.delete_blob("transcript-e1.json")
    await s.delete_blob("transcript-e1.json")
    assert await s.read_blob("transcript-e1.json") is None
    await s.close()


async def test_documents_read_back_are_copies_callers_cannot_alias(opened: Store) -> None:
    doc = {"weights": {"a": 1}}
    await opened.put("subscribers", "s1", doc)
    doc["weights"]["a"] = 99
    got = await opened.get("subscribers", "s1")
    assert got is not None
    got["weights"]["a"] = 42
    (await opened.all("subscribers"))[0]["weights"]["a"] = 7
    assert await opened.get("subscribers", "s1") == {"weights": {"a": 1}}


async def test_a_batch_with_one_bad_document_changes_nothing(opened: Store) -> None:
    await opened.put("t", "k", {"ok": True})
    for bad in ({"x": float("nan")}, {"x": object()}, ["not", "a", "dict"]):
        with pytest.raises(StoreError):
            await opened.apply([Change("t", "k", {"changed": True}), Change("t", "k2", bad)])  # type: ignore[arg-type]
    assert await opened.all("t") == [{"ok": True}]


async def test_apply_is_atomic_across_tables_and_later_changes_to_a_key_win(opened: Store) -> None:
    await opened.apply([
        Change("episodes", "e1", {"state": "done"}),
        Change("insights", "i1", {"text": "one"}),
        Change("insights", "i2", {"text": "two"}),
        Change("insights", "i2", None),
        Change("insights", "i3", None),
        Change("insights", "i3", {"text": "three"}),
    ])
    assert await opened.all("insights") == [{"text": "one"}, {"text": "three"}]
    assert await opened.get("episodes", "e1") == {"state": "done"}


async def test_a_large_batch_is_written_and_read_whole_in_order(opened: Store) -> None:
    await opened.apply([Change("ledger", f"s{i:05d}", {"i": i}) for i in range(3000)])
    docs = await opened.all("ledger")
    assert [d["i"] for d in docs] == list(range(3000))
    batches = getattr(opened, "batches", None)
    assert batches is not None
    seen = [d["i"] async for batch in batches("ledger", 1000) for d in batch]
    assert seen == list(range(3000))


async def test_concurrent_writes_to_one_key_from_many_tasks_leave_one_whole_document(opened) -> None:
    await asyncio.gather(*(opened.put("subscribers", "s", {"writer": i, "pad": "x" * 200})
                           for i in range(50)))
    doc = await opened.get("subscribers", "s")
    assert doc is not None and doc["pad"] == "x" * 200 and 0 <= doc["writer"] < 50
    assert len(await opened.all("subscribers")) == 1


async def test_a_store_that_is_not_started_refuses_work(kind, tmp_path, request) -> None:
    s = make_store(kind, tmp_path, request)
    with pytest.raises(StoreError):
        await s.put("t", "k", {})
    with pytest.raises(StoreError):
        await s.get("t", "k")


async def test_a_blob_name_that_could_leave_its_place_is_refused(opened: Store) -> None:
    for name in ("../x", "a/b", ".hidden", "", "x" * 300):
        with pytest.raises(StoreError):
            await opened.write_blob(name, b"x")


async def test_table_names_of_every_shape_the_core_uses_round_trip(opened: Store) -> None:
    for table in ("llm_budget", "search_choices", "Mixed-Case.v2", "t1"):
        await opened.put(table, "k", {"table": table})
    for table in ("llm_budget", "search_choices", "Mixed-Case.v2", "t1"):
        assert await opened.all(table) == [{"table": table}]


# --- PostgresStore only ----------------------------------------------------------------


@pytest.mark.services
async def test_blobs_are_compressed_in_the_database(postgres_url: str) -> None:
    import psycopg

    from core.store.postgres_store import PostgresStore

    store = PostgresStore(postgres_url)
    await store.start()
    text = b'{"segments": [' + b'{"start": 1.0, "text": "the same sentence again"},' * 4000 + b"]}"
    await store.write_blob("transcript-big.json", text)
    assert await store.read_blob("transcript-big.json") == text
    await store.close()
    async with await psycopg.AsyncConnection.connect(postgres_url) as conn:
        row = await (await conn.execute(
            "SELECT codec, size, octet_length(data) FROM castfive_blobs")).fetchone()
    assert row is not None and row[0] == "zlib" and row[1] == len(text) and row[2] < len(text) / 10


@pytest.mark.services
async def test_migrations_run_once_even_when_many_stores_start_together(postgres_url: str) -> None:
    import psycopg

    from core.store.postgres_schema import MIGRATIONS
    from core.store.postgres_store import PostgresStore

    stores = [PostgresStore(postgres_url) for _ in range(4)]
    await asyncio.gather(*(s.start() for s in stores))
    assert {s.schema_version for s in stores} == {MIGRATIONS[-1][0]}
    await asyncio.gather(*(s.put("feeds", "f", {"n": i}) for i, s in enumerate(stores)))  # table races
    for s in stores:
        await s.close()
    async with await psycopg.AsyncConnection.connect(postgres_url) as conn:
        rows = await (await conn.execute("SELECT version FROM castfive_schema ORDER BY 1")).fetchall()
    assert [r[0] for r in rows] == [v for v, _ in MIGRATIONS]


@pytest.mark.services
async def test_a_table_name_that_is_not_a_plain_name_is_refused(postgres_url) -> None:
    from core.store.postgres_store import PostgresStore

    store = PostgresStore(postgres_url)
    await store.start()
    for bad in ('x"; DROP TABLE doc_feeds; --', "", "a" * 60, "with space", "../x"):
        with pytest.raises(StoreError, match="not valid"):
            await store.put(bad, "k", {})
    await store.close()


@pytest.mark.services
async def test_a_document_with_a_nul_character_is_refused_with_a_clear_error(postgres_url) -> None:
    from core.store.postgres_store import PostgresStore

    store = PostgresStore(postgres_url)
    await store.start()
    await store.put("t", "ok", {"text": "a literal \\u0000 is fine"})
    with pytest.raises(StoreError, match="NUL"):
        await store.put("t", "bad", {"text": "a\x00b"})
    assert await store.all("t") == [{"text": "a literal \\u0000 is fine"}]
    await store.close()


@pytest.mark.services
async def test_an_unreachable_database_is_one_clear_error_without_the_password(caplog) -> None:
    from core.store.postgres_store import PostgresStore
    from tests.services import free_port

    url = f"postgresql://castfive:hunter2-secret@127.0.0.1:{free_port()}/castfive?connect_timeout=1"
    store = PostgresStore(url, retry_delays_s=(), connect_timeout_s=2.0)
    with pytest.raises(StoreError) as err:
        await asyncio.wait_for(store.start(), 60)
    assert "hunter2" not in str(err.value) and "castfive:***@127.0.0.1" in str(err.value)
    assert "hunter2" not in caplog.text


CHILD = textwrap.dedent("""
    import asyncio, sys
    from core.store.postgres_store import PostgresStore

    async def main():
        store = PostgresStore(sys.argv[1])
        await store.start()
        for i in range(200):
            await store.put("counters", f"{sys.argv[2]}-{i}", {"i": i})
            await store.put("counters", "shared", {"by": sys.argv[2], "i": i})
        await store.close()

    asyncio.run(main())
""")


@pytest.mark.services
async def test_two_processes_writing_the_same_tables_lose_nothing(postgres_url: str) -> None:
    from core.store.postgres_store import PostgresStore

    root = Path(__file__).resolve().parent.parent
    children = [subprocess.Popen([sys.executable, "-c", CHILD, postgres_url, name], cwd=root)
                for name in ("a", "b")]
    for child in children:
        assert await asyncio.to_thread(child.wait, 120) == 0
    store = PostgresStore(postgres_url)
    await store.start()
    docs = await store.all("counters")
    assert len(docs) == 401  # 200 each plus the shared key
    shared = await store.get("counters", "shared")
    assert shared is not None and shared["i"] == 199
    await store.close()
