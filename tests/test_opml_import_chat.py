"""A big OPML import answers with one message in chat: the counts, the first failures, the rest attached.

The real PTB bot and the real discord.py client over the real service, fetching from a local feed
server; before, a 10,000-feed file answered with 31 messages.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from bot.render_import import FAILURES_FILENAME
from bot.telegram_bot import TelegramAdapter
from core.bootstrap import Services
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.discord_payloads import CHANNEL_ID, FileRef
from tests.fakes.discord_world import World as DiscordWorld
from tests.fakes.telegram_api import TOKEN, FakeTelegramApi
from tests.opml_world import FeedServer, build_world, opml

pytestmark = pytest.mark.timeout(60)
USER = 6101
MISSING = 12  # more than a message shows


@pytest_asyncio.fixture
async def feeds(http_server) -> AsyncIterator[tuple[Services, bytes]]:
    """The services and an OPML of 12 dead feeds then 488 good ones."""
    base = await http_server(FeedServer().app())
    services, fetcher = await build_world()
    urls = [f"{base}/missing/{n}.xml" for n in range(MISSING)] + [f"{base}/ok/{n}.xml" for n in range(488)]
    try:
        yield services, opml(urls)
    finally:
        await fetcher.close()


async def started_discord(fake: FakeDiscord, services: Services) -> DiscordWorld:
    world = DiscordWorld(fake, services, None, services.clock, [])  # type: ignore[arg-type]
    world.adapter = world.new_adapter()
    services.add_port(world.adapter)
    await world.adapter.start()
    await world.subscriber(CHANNEL_ID)
    return world


def assert_report(text: str, added: str) -> None:
    assert f"Imported {added} podcast(s)" in text
    assert "12 could not be added" in text and "450 skipped" in text
    assert "missing/0.xml" in text and "missing/11.xml" not in text  # only the first few


def assert_failure_file(data: bytes) -> None:
    lines = data.decode().splitlines()
    assert lines[0] == "feed\treason" and len(lines) == 1 + MISSING
    assert [line.split("\t")[0] for line in lines[1:]] == [f"missing/{n}.xml" for n in range(MISSING)]


async def test_telegram_answers_a_500_feed_import_with_one_document_captioned_with_the_counts(
        fake_telegram: FakeTelegramApi, feeds: tuple[Services, bytes]) -> None:
    services, data = feeds
    adapter = TelegramAdapter(services.api, TOKEN, base_url=fake_telegram.base_url, poll_timeout=1,
                              clock=services.clock)
    services.add_port(adapter)
    await adapter.start()
    try:
        await services.api.subscribe("telegram", str(USER), "Ada")
        mark = fake_telegram.mark()
        fake_telegram.push_message(USER, None, user_id=USER, document=fake_telegram.add_file("big", data),
                                   caption="/import")
        sent = await fake_telegram.wait_for("sendDocument", after=mark, timeout=30)
        await asyncio.sleep(0.3)  # anything more would have followed at once
        replies = [r for r in fake_telegram.requests[mark:] if r.method.startswith("send")]
    finally:
        await adapter.stop()
    assert [r.method for r in replies] == ["sendDocument"]
    assert sent.params["parse_mode"] == "HTML" and len(sent.params["caption"]) <= 1024
    assert_report(sent.params["caption"], "<b>38</b>")
    filename, attached = sent.files["document"]
    assert filename == FAILURES_FILENAME
    assert_failure_file(attached)


async def test_discord_answers_a_500_feed_import_with_one_message_and_the_failures_attached(
        fake_discord: FakeDiscord, feeds: tuple[Services, bytes]) -> None:
    services, data = feeds
    world = await started_discord(fake_discord, services)
    try:
        ix = await fake_discord.slash("castfive", "feeds", "import",
                                      options={"file": FileRef("subs.opml", data)})
        (message,) = await fake_discord.reply_to(ix)
        await asyncio.sleep(0.3)
    finally:
        await world.adapter.stop()
    assert len(ix.messages) == 1
    assert_report(message["content"], "**38**")
    assert [a["filename"] for a in message["attachments"]] == [FAILURES_FILENAME]
    (attached,) = [r.files[FAILURES_FILENAME] for r in fake_discord.requests
                   if FAILURES_FILENAME in (r.files or {})]
    assert_failure_file(attached)


async def test_discord_answers_a_slow_import_after_thinking_with_the_counts_and_the_file(
        fake_discord: FakeDiscord, http_server) -> None:
    base = await http_server(FeedServer().app())
    services, fetcher = await build_world(import_time_budget_s=2.0)  # past Discord's 1.5 s defer
    urls = [f"{base}/missing/{n}.xml" for n in range(MISSING)] + [f"{base}/slow/{n}.xml" for n in range(30)]
    world = await started_discord(fake_discord, services)
    try:
        ix = await fake_discord.slash("castfive", "feeds", "import",
                                      options={"file": FileRef("subs.opml", opml(urls))})
        (message,) = await fake_discord.reply_to(ix)
    finally:
        await world.adapter.stop()
        await fetcher.close()
    assert (await fake_discord.callback(ix))["type"] == 5  # deferred: "thinking…"
    assert "12 could not be added" in message["content"] and "30 not tried" in message["content"]
    assert [a["filename"] for a in message["attachments"]] == [FAILURES_FILENAME]
