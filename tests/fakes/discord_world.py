"""The real CastfiveService on a FakeStore and FakeClock, with a DiscordAdapter against FakeDiscord.

    from tests.fakes.discord_api import fake_discord  # noqa: F401
    from tests.fakes.discord_world import world  # noqa: F401

    async def test_x(world):
        ix = await world.fake.slash("castfive", "today", channel_id=CHANNEL_ID)
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest_asyncio

from bot.discord_bot import DiscordAdapter
from core.bootstrap import Services, build_services
from core.config import Settings
from core.models import Insight, Segment, Subscriber, Transcript
from core.ports import DownloadResult, FetchResult
from core.store.blobs import save_transcript
from tests.fakes.clock import FakeClock
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.discord_payloads import TOKEN
from tests.fakes.memory_store import FakeStore
from tests.fakes.seed import seed

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


class NoTranscriber:
    """Speech-to-text is never needed by the chat adapters."""

    name = "none"

    async def start(self) -> None:
        return None

    async def transcribe(self, audio_path: Any, on_progress: Any = None) -> Any:
        raise AssertionError("no speech-to-text in Discord tests")


RSS = """<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}</title>
<link>https://example.org/</link><description>A show.</description><item><title>Pilot</title>
<guid>pilot</guid><pubDate>Fri, 27 Nov 2026 10:00:00 +0000</pubDate>
<enclosure url="https://example.org/pilot.mp3" type="audio/mpeg" length="1000"/></item></channel></rss>"""

SEARCH = {"results": [{"collectionName": "Hard Fork", "artistName": "The New York Times",
                       "feedUrl": "https://feeds.example.org/hardfork.xml"}]}


class FeedFetcher:
    """Our Fetcher port answering from memory: any feed URL is a tiny show, search finds Hard Fork."""

    def __init__(self, search_url: str) -> None:
        self.search_url = search_url
        self.urls: list[str] = []

    async def get(self, url: str, *, headers: Any = None, max_bytes: Any = None) -> FetchResult:
        self.urls.append(url)
        if url.startswith(self.search_url):
            return FetchResult(200, url, json.dumps(SEARCH).encode(), {"content-type": "application/json"})
        title = "Hard Fork" if "hardfork" in url else f"Show at {url.rsplit('/', 1)[-1]}"
        return FetchResult(200, url, RSS.format(title=title).encode(),
                           {"content-type": "application/rss+xml"})

    async def download(self, url: str, dest: Any, *, max_bytes: int) -> DownloadResult:
        raise AssertionError("no network in Discord tests")


@dataclass
class World:
    """Everything a Discord test touches."""

    fake: FakeDiscord
    services: Services
    adapter: DiscordAdapter
    clock: FakeClock
    insights: list[Insight]

    @property
    def api(self) -> Any:
        return self.services.api

    def new_adapter(self, api: Any = None) -> DiscordAdapter:
        """A fresh adapter on the same fake (a restart)."""
        return DiscordAdapter(api or self.services.api, TOKEN, api_base_url=self.fake.api_base_url,
                              gateway_url=self.fake.gateway_url, ready_timeout=10, guild_ready_timeout=0.05)

    async def subscriber(self, chat_id: int) -> Subscriber:
        """Subscribe a chat directly through the service, created long ago so today is due."""
        sub = await self.api.subscribe("discord", str(chat_id), "test chat")
        old = Subscriber(**{**sub.__dict__, "created_at": datetime(2026, 11, 1, tzinfo=UTC)})
        await self.services.repos.subscribers.put(old)
        return old


async def make_world(fake: FakeDiscord, settings: Settings | None = None) -> World:
    """Seeded services (3 shows, 12 insights with transcripts) and a started adapter."""
    clock = FakeClock(NOW)
    settings = settings or Settings()
    fetcher = FeedFetcher(settings.feeds.search_url)
    services = build_services(settings, clock=clock, store=FakeStore(), fetcher=fetcher,
                              transcriber=NoTranscriber())
    insights = await seed(services.repos)
    for episode_id in {i.episode_id for i in insights}:
        segments = tuple(Segment(i.start, i.end, i.quote) for i in insights if i.episode_id == episode_id)
        await save_transcript(services.store, Transcript(episode_id, segments, source="test"))
    world = World(fake, services, None, clock, insights)  # type: ignore[arg-type]
    world.adapter = world.new_adapter()
    services.add_port(world.adapter)
    await world.adapter.start()
    return world


@pytest_asyncio.fixture
async def world(fake_discord: FakeDiscord) -> AsyncIterator[World]:
    """A started World; the adapter is stopped after the test."""
    built = await make_world(fake_discord)
    try:
        yield built
    finally:
        await built.adapter.stop()


@pytest_asyncio.fixture
async def world_factory(fake_discord: FakeDiscord) -> AsyncIterator[Callable[[Settings], Awaitable[World]]]:
    """Build worlds with other settings; their adapters are stopped after the test."""
    built: list[World] = []

    async def make(settings: Settings) -> World:
        built.append(await make_world(fake_discord, settings))
        return built[-1]

    try:
        yield make
    finally:
        for each in built:
            await each.adapter.stop()
