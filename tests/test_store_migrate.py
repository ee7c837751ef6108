"""`castfive store migrate`: a TinyDB install copied into PostgreSQL, verified, refused when unsafe."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import StoreError
from core.jobs.distributed.migrate import migrate_store, table_checksum
from core.ports import Change
from core.store.postgres_store import PostgresStore
from core.store.tinydb_store import TinyDBStore
from tests.services import PG_PASSWORD

pytestmark = pytest.mark.services
REPO = Path(__file__).resolve().parent.parent


async def fill(directory: Path, ledger: int = 500) -> None:
    store = TinyDBStore(directory, journal_min_bytes=1 << 30)  # the journal keeps the tail: replayed
    await store.start()
    await store.apply([Change("feeds", f"f{i}", {"title": f"Show {i}", "n": i}) for i in range(20)])
    await store.apply([Change("subscribers", f"telegram:{i}", {"tz": "Europe/Paris", "w": {"a": 0.5}})
                       for i in range(30)])
    await store.apply([Change("ledger", f"telegram:{i}|2026-11-{i % 28 + 1:02d}", {"i": i})
                       for i in range(ledger)])
    await store.put("episodes", "e1", {"state": "done", "title": "ü ✓ 🎧 \\u0000 literal"})
    await store.delete("feeds", "f3")
    await store.write_blob("transcript-e1.json", json.dumps({"segments": ["x"] * 5000}).encode())
    await store.write_blob("chapters-e1.json", b"[]")
    await store.close()
    store = TinyDBStore(directory)  # written after the last snapshot: only in the journal
    await store.start()
    await store.put("insights", "i1", {"text": "Battery prices fell 90%.", "score": 0.8})
    await store.close()


async def test_a_tinydb_install_is_copied_whole_and_verified(tmp_path, postgres_url) -> None:
    await fill(tmp_path / "data")
    target = PostgresStore(postgres_url)
    await target.start()
    report = await migrate_store(tmp_path / "data", target)
    assert report.mismatches == []
    assert report.tables == {"feeds": 19, "subscribers": 30, "ledger": 500, "episodes": 1, "insights": 1}
    assert report.blobs == 2
    source = TinyDBStore(tmp_path / "data")
    await source.start()
    for table in report.tables:
        assert await target.all(table) == await source.all(table)  # insertion order kept too
    assert await target.read_blob("transcript-e1.json") == await source.read_blob("transcript-e1.json")
    await source.close()
    await target.close()


async def test_migrating_into_a_database_that_holds_data_is_refused(tmp_path, postgres_url) -> None:
    await fill(tmp_path / "data", ledger=5)
    target = PostgresStore(postgres_url)
    await target.start()
    await target.put("feeds", "other", {"title": "someone else's"})
    with pytest.raises(StoreError, match="empty database"):
        await migrate_store(tmp_path / "data", target)
    assert await target.all("feeds") == [{"title": "someone else's"}]
    await target.close()


def test_the_checksum_sees_a_changed_document_but_not_key_order() -> None:
    a = [("k1", {"x": 1, "y": [1, 2]}), ("k2", {"z": "t"})]
    assert table_checksum(a) == table_checksum([("k2", {"z": "t"}), ("k1", {"y": [1, 2], "x": 1})])
    assert table_checksum(a) != table_checksum([("k1", {"x": 1, "y": [2, 1]}), ("k2", {"z": "t"})])


def test_the_command_prints_counts_and_never_the_password(tmp_path, postgres_url) -> None:
    import asyncio

    asyncio.run(fill(tmp_path / "data", ledger=2000))
    config = tmp_path / "config.toml"
    config.write_text(f'[data]\ndir = "{tmp_path / "data"}"\n')
    env = {**os.environ, "CASTFIVE_DATABASE_URL": postgres_url}
    done = subprocess.run([sys.executable, "-m", "bot.cli", "--config", str(config), "-v", "store",
                           "migrate"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "ledger" in done.stdout and "2000 documents" in done.stdout
    assert "counts and checksums match" in done.stdout
    assert PG_PASSWORD not in done.stdout + done.stderr
    again = subprocess.run([sys.executable, "-m", "bot.cli", "--config", str(config), "store", "migrate"],
                           cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 1 and "empty database" in again.stderr
    assert PG_PASSWORD not in again.stdout + again.stderr
