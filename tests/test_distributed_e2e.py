"""End to end on several processes: the bot and three workers over real PostgreSQL and Redis.

Three shows of ten episodes on the local feed server (27 with publisher transcripts, 3 with only
audio, for faster-whisper); the bot polls nothing itself: it queues polls and episodes for the
workers, and once they are done delivers one digest to each chat through the Telegram fake.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.models import EpisodeState, Subscriber
from core.store.postgres_store import PostgresStore
from core.store.repos import Repos
from tests.distributed_world import wait_until
from tests.e2e.content import Item, build_feed, due_now, script_to_vtt
from tests.e2e.process import TELEGRAM_TOKEN, BotProcess, bot_env, write_config
from tests.services import PG_PASSWORD

pytestmark = [pytest.mark.services, pytest.mark.slow]
REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "examples" / "demo"
CHATS = list(range(7001, 7011))


def shows(folder: Path, server) -> list[str]:
    urls = []
    for n in range(1, 4):
        show = folder / f"show{n}"
        show.mkdir(parents=True)
        (show / "ep.vtt").write_text(script_to_vtt(DEMO / "scripts" / f"episode-{n}.txt"), encoding="utf-8")
        shutil.copy(DEMO / f"episode-{n}.mp3", show / "episode.mp3")
        items = [Item(f"show{n}-{i}", f"Show {n}, part {i}", "ep.vtt" if i else "missing.vtt")
                 for i in range(10)]  # part 0 has no transcript: speech-to-text on its audio
        server.mount(f"show{n}", show)
        build_feed(show, f"{server.base_url}/show{n}/", f"Show {n}", items)
        urls.append(f"{server.base_url}/show{n}/feed.xml")
    return urls


async def test_the_bot_and_three_workers_turn_thirty_episodes_into_one_digest_per_chat(
        telegram, feed_server, tmp_path, postgres_url, redis_url) -> None:
    catalogue = shows(tmp_path / "shows", feed_server)
    urls = {"CASTFIVE_DATABASE_URL": postgres_url, "CASTFIVE_REDIS_URL": redis_url}
    (tmp_path / "bot").mkdir()
    config = write_config(tmp_path / "bot", {
        "feeds": {"catalogue": catalogue, "poll_check_seconds": 1.0},
        "http": {"allow_private_addresses": True},
        "telegram": {"api_base_url": telegram.base_url},
        "insights": {"embeddings": False},
        "distributed": {"mode": "distributed", "lease_check_seconds": 0.2},
    })
    bot = BotProcess(config, bot_env(TELEGRAM_BOT_TOKEN=TELEGRAM_TOKEN, **urls), tmp_path / "bot")
    log = (tmp_path / "workers.log").open("w")
    workers = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "--config", str(config), "worker", "--processes", "3",
         "--threads", "1"], cwd=REPO, env=bot_env(**urls), stdout=log, stderr=subprocess.STDOUT)
    store = PostgresStore(postgres_url)
    began = time.monotonic()
    try:
        await bot.start()
        await bot.wait_log("scheduler lease acquired", 60)
        await store.start()
        repos = Repos(store)

        async def episodes_done() -> bool:
            episodes = await repos.episodes.all()
            assert not any(e.state == EpisodeState.FAILED for e in episodes), [
                (e.id, e.last_error) for e in episodes if e.state == EpisodeState.FAILED]
            return len(episodes) == 30 and all(e.state == EpisodeState.DONE for e in episodes)

        await wait_until(episodes_done, 600, "thirty episodes done by the workers")
        processed_s = time.monotonic() - began
        hhmm, zone = due_now()
        now = datetime.now(UTC)
        for chat in CHATS:  # subscribers arrive now: their digest is due at the bot's next tick
            await repos.subscribers.put(Subscriber(
                id=f"telegram:{chat}", platform="telegram", chat_id=str(chat), title=f"chat {chat}",
                delivery_time=hhmm, timezone=zone, created_at=now - timedelta(days=1)))

        async def delivered() -> bool:
            return all(len(telegram.per_chat().get(chat, {})) >= 5 for chat in CHATS)

        await wait_until(delivered, 60, "every chat's five")
        code, _ = await bot.stop()
        assert code == 0
    finally:
        if bot.proc is not None and bot.proc.returncode is None:
            await bot.kill()
        workers.terminate()
        workers.wait(timeout=60)
        log.close()
    ledger = await repos.ledger.all()
    transcripts = {e.transcript_source.split(":")[0] for e in await repos.episodes.all()}
    await store.close()
    assert len(ledger) == len(CHATS) and all(entry.finished for entry in ledger)
    for chat in CHATS:
        counts = telegram.per_chat()[chat]
        assert len(counts) == 5 and sum(counts.values()) == 5  # five distinct, none twice
    assert transcripts == {"publisher", "whisper"}
    output = (tmp_path / "workers.log").read_text() + bot.all_output()
    assert PG_PASSWORD not in output
    print(f"\n30 episodes (3 by speech-to-text) processed by 3 worker processes in {processed_s:.0f}s")
