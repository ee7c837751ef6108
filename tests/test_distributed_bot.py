"""Two `python -m bot` processes in distributed mode: one sends, the other waits; kill -9 the first."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from core.jobs.distributed.migrate import migrate_store
from core.store.postgres_store import PostgresStore
from core.store.repos import MessageState, Repos
from tests.distributed_world import wait_until as wait_for
from tests.e2e.content import seed_store
from tests.e2e.process import TELEGRAM_TOKEN, BotProcess, bot_env, wait_until, write_config
from tests.services import PG_PASSWORD, unavailable

pytestmark = pytest.mark.services
CHATS = list(range(6001, 6031))
PER_DIGEST = 5


def make_bot(folder: Path, telegram, postgres_url: str, redis_url: str) -> BotProcess:
    folder.mkdir()
    config = write_config(folder, {
        "telegram": {"api_base_url": telegram.base_url},
        "delivery": {"telegram_messages_per_second": 60.0},
        "insights": {"embeddings": False},
        "distributed": {"mode": "distributed", "lease_check_seconds": 0.2},
    })
    env = bot_env(TELEGRAM_BOT_TOKEN=TELEGRAM_TOKEN, CASTFIVE_DATABASE_URL=postgres_url,
                  CASTFIVE_REDIS_URL=redis_url)
    return BotProcess(config, env, folder)


async def test_the_standby_bot_never_sends_until_the_active_one_dies_then_finishes_the_round(
        telegram, tmp_path, postgres_url, redis_url) -> None:
    telegram.send_delay_s = 0.03
    await seed_store(tmp_path / "seed", CHATS)
    store = PostgresStore(postgres_url)
    await store.start()
    assert (await migrate_store(tmp_path / "seed", store)).mismatches == []  # the install grows up
    active = make_bot(tmp_path / "a", telegram, postgres_url, redis_url)
    standby = make_bot(tmp_path / "b", telegram, postgres_url, redis_url)
    try:
        await active.start()
        await active.wait_log("scheduler lease acquired", 60)
        await standby.start()
        await standby.wait_log("another scheduler is active: waiting as standby", 60)
        await wait_until(lambda: len(telegram.digest_messages()) >= 40, 60, "40 sends", active)
        assert "scheduler lease acquired" not in standby.log_text()
        await active.kill()  # mid-round: its database session dies, and the lease with it
        await standby.wait_log("scheduler lease acquired", 30)
        await wait_until(lambda: _covered(telegram) == set(CHATS), 60, "every chat's five", standby)
        # The last send is recorded before its digest is marked finished: a stop in between is
        # resumed at the next start, so wait for the ledger rather than for the chats.
        await wait_for(lambda: _all_finished(store), 30, "every digest marked finished")
        code, _ = await standby.stop()
        assert code == 0
    finally:
        for bot in (active, standby):
            if bot.proc is not None and bot.proc.returncode is None:
                await bot.kill()
    ledger = await Repos(store).ledger.all()
    await store.close()
    assert len(ledger) == len(CHATS)  # one digest per chat, chosen once, in the shared database
    per_chat = telegram.per_chat()
    for entry in ledger:
        chat = int(entry.subscriber_id.split(":")[1])
        assert entry.finished and all(m.state == MessageState.SENT for m in entry.messages)
        counts = per_chat[chat]
        assert set(counts) == {m.insight_id for m in entry.messages}
        assert sum(counts.values()) - PER_DIGEST <= 1  # at most the one message in doubt at the kill
    assert PG_PASSWORD not in active.all_output() + standby.all_output()


async def _all_finished(store: PostgresStore) -> bool:
    entries = await Repos(store).ledger.all()
    return len(entries) == len(CHATS) and all(e.finished for e in entries)


def _covered(telegram) -> set[int]:
    return {chat for chat, counts in telegram.per_chat().items() if len(counts) >= PER_DIGEST}


async def test_a_bot_that_loses_its_database_stops_sending_and_exits_for_its_supervisor(
        telegram, tmp_path, postgres_server, postgres_url, redis_url) -> None:
    if isinstance(postgres_server, str):
        unavailable("a database given by URL cannot be restarted here")
    bot = make_bot(tmp_path / "a", telegram, postgres_url, redis_url)
    await bot.start()
    try:
        await bot.wait_log("scheduler lease acquired", 60)
        await asyncio.to_thread(postgres_server.stop)  # the lease's session dies with the server
        try:
            assert bot.proc is not None
            code = await asyncio.wait_for(bot.proc.wait(), 30)
        finally:
            await asyncio.to_thread(postgres_server.start)
        assert code == 0  # a clean stop: restart: unless-stopped brings it back as a standby
        assert "scheduler lease lost" in bot.log_text()
        await bot.kill()  # closes the run's log files
        await bot.start()  # the restarted bot takes the lease again once the database is back
        await bot.wait_log("scheduler lease acquired", 60)
        code, _ = await bot.stop()
        assert code == 0
    finally:
        if bot.proc is not None and bot.proc.returncode is None:
            await bot.kill()
