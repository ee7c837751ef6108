"""bench/deliver.py at toy scale, and the platform limits its fakes enforce (so the bench cannot rot)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio

from bench.deliver import run, table
from bench.fakes_limits import LimitedDiscord, LimitedTelegramApi, Limits
from bot.discord_bot import DiscordAdapter
from core.models import Subscriber
from tests.fakes.discord_payloads import TOKEN as DISCORD_TOKEN
from tests.fakes.telegram_api import TOKEN as TELEGRAM_TOKEN

pytestmark = pytest.mark.timeout(60)


class Ticker:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def test_the_bench_delivers_every_digest_exactly_once_within_both_platforms_limits() -> None:
    result = await run(12, 3, tick_seconds=1)
    tg, dc = result.platforms["telegram"], result.platforms["discord"]
    assert (tg.subscribers, tg.delivered, tg.messages) == (12, 12, 60)
    assert (dc.subscribers, dc.delivered, dc.messages) == (3, 3, 15)
    assert result.lost == 0 and result.duplicated == 0 and tg.short == dc.short == 0
    assert tg.busiest_second <= 30 and dc.busiest_second <= 50
    assert "share of platform limit" in table(result) and result.bot_rss_mib > 0


async def test_telegram_answers_429_with_retry_after_past_30_a_second_and_20_a_minute_per_group(
        http: aiohttp.ClientSession) -> None:
    clock = Ticker()
    fake = LimitedTelegramApi(clock=clock)
    await fake.start()
    try:
        async def send(chat: int) -> aiohttp.ClientResponse:
            async with http.post(f"{fake.base_url}/bot{TELEGRAM_TOKEN}/sendMessage",
                                 data={"chat_id": str(chat), "text": "hi"}) as response:
                await response.read()
                return response

        assert all([(await send(500 + n)).status == 200 for n in range(30)])
        refused = await send(600)
        assert refused.status == 429 and await refused.json() == {
            "ok": False, "error_code": 429, "description": "Too Many Requests: retry after 1",
            "parameters": {"retry_after": 1}}
        clock.now += 1.0
        assert all([(await send(-100777)).status == 200 for _ in range(20)])
        clock.now += 30.0  # the overall second has passed, the group's minute has not
        refused = await send(-100777)
        assert refused.status == 429 and (await refused.json())["parameters"]["retry_after"] == 30
        assert (await send(501)).status == 200
        assert fake.refused == {"overall": 1, "group": 1} and len(fake.accepted) == 51
    finally:
        await fake.close()


async def test_discord_limits_each_channel_and_all_requests_with_the_headers_discord_py_reads(
        http: aiohttp.ClientSession) -> None:
    clock = Ticker()
    fake = LimitedDiscord(clock=clock)
    await fake.start()
    headers = {"Authorization": f"Bot {DISCORD_TOKEN}"}
    try:
        async def post(channel: int) -> aiohttp.ClientResponse:
            async with http.post(f"{fake.api_base_url}/channels/{channel}/messages", json={"content": "hi"},
                                 headers=headers) as response:
                await response.read()
                return response

        answers = [await post(7) for _ in range(5)]
        assert [r.headers["X-RateLimit-Remaining"] for r in answers] == ["4", "3", "2", "1", "0"]
        assert len({r.headers["X-RateLimit-Bucket"] for r in answers}) == 1
        assert float(answers[-1].headers["X-RateLimit-Reset-After"]) == 5.0
        refused = await post(7)
        assert refused.status == 429 and refused.headers["Via"]
        assert refused.headers["X-RateLimit-Scope"] == "user"
        assert await refused.json() == {"message": "You are being rate limited.", "retry_after": 5.0,
                                        "global": False, "code": 0}
        for channel in range(45):
            assert (await post(100 + channel)).status == 200
        refused = await post(999)  # the 51st request of this second
        assert refused.status == 429 and (await refused.json())["global"] is True
        assert refused.headers["X-RateLimit-Global"] == "true"
        clock.now += 1.0
        assert (await post(999)).status == 200
        assert fake.refused == {"channel": 1, "global": 1}
    finally:
        await fake.close()


async def test_discord_py_waits_out_a_full_channel_bucket_instead_of_hitting_a_429() -> None:
    fake = LimitedDiscord(Limits(discord_channel_seconds=1.0))
    await fake.start()
    adapter = DiscordAdapter(None, DISCORD_TOKEN, api_base_url=fake.api_base_url,  # type: ignore[arg-type]
                             gateway_url=fake.gateway_url, ready_timeout=10, guild_ready_timeout=0.05)
    try:
        await adapter.start()
        channel = 1_200_000_000_000_000_001
        sub = Subscriber(id=f"discord:{channel}", platform="discord", chat_id=str(channel))
        long_note = "\n".join(f"Paragraph {n}: " + "word " * 380 for n in range(7))  # seven 2,000-char posts
        outcome = await adapter.send_notice(sub, long_note)
        assert len(outcome.message_ids) == 7
        assert len(fake.accepted) == 7 and fake.refused == {}
    finally:
        await adapter.stop()
        await fake.close()
