"""New feeds: a batch published in one day is processed whole; back catalogue can come back."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import pytest_asyncio
from aiohttp import web

from core.adapters.http import SafeFetcher
from core.config import FeedSettings, HttpSettings, InsightSettings, Settings
from core.errors import NotFoundError
from core.feeds.back_catalogue import first_poll_queue
from core.feeds.poller import FeedPoller
from core.models import Episode, EpisodeState
from core.store.tables import Table
from tests.fakes.clock import FakeClock
from tests.fakes.http_server import serve_app
from tests.fakes.memory_store import FakeStore

NOW = datetime(2026, 12, 2, 18, 0, tzinfo=UTC)


def settings(**feeds: object) -> Settings:
    return Settings(
        http=HttpSettings(allow_private_addresses=True, total_timeout_s=10, connect_timeout_s=2),
        feeds=FeedSettings(**feeds),  # type: ignore[arg-type]
        insights=InsightSettings(lookback_days=7),
    )


def feed_xml(dates: list[datetime]) -> bytes:
    items = "".join(
        f"<item><guid>ep-{n}</guid><title>Episode {n}</title>"
        f"<pubDate>{format_datetime(when, usegmt=True)}</pubDate>"
        f'<enclosure url="https://cdn.test/{n}.mp3" type="audio/mpeg" length="1000"/></item>'
        for n, when in enumerate(dates)
    )
    channel = f"<channel><title>Batch</title>{items}</channel>"
    return f'<?xml version="1.0"?><rss version="2.0">{channel}</rss>'.encode()


@pytest_asyncio.fixture
async def serve() -> AsyncIterator[tuple[dict[str, bytes], str]]:
    bodies: dict[str, bytes] = {}

    async def handle(request: web.Request) -> web.Response:
        body = bodies.get(request.path)
        if body is None:
            return web.Response(status=404)
        return web.Response(body=body, content_type="application/rss+xml")

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", handle)
    async with serve_app(app) as base:
        yield bodies, base


async def poller_for(store: FakeStore, cfg: Settings) -> tuple[FeedPoller, SafeFetcher]:
    fetcher = SafeFetcher(cfg.http)
    await fetcher.start()
    return FeedPoller(fetcher, store, FakeClock(NOW), cfg), fetcher


async def states(store: FakeStore) -> dict[str, EpisodeState]:
    return {e.identity: e.state for e in await Table(store, "episodes", Episode).all()}


def same_day(count: int) -> list[datetime]:
    return [NOW - timedelta(hours=1 + n) for n in range(count)]


async def test_a_feed_that_publishes_eight_episodes_in_one_day_gets_all_eight_processed(serve):
    bodies, base = serve
    bodies["/batch.xml"] = feed_xml(same_day(8) + [NOW - timedelta(days=40 + n) for n in range(5)])
    store = FakeStore()
    poller, fetcher = await poller_for(store, settings())
    try:
        _, episodes = await poller.add_feed(base + "/batch.xml")
    finally:
        await fetcher.close()
    queued = {e.identity for e in episodes if e.state == EpisodeState.NEW}
    assert queued == {f"ep-{n}" for n in range(8)}
    assert {e.identity for e in episodes if e.state == EpisodeState.SKIPPED} == {
        f"ep-{n}" for n in range(8, 13)}


def test_the_newest_few_are_queued_even_when_the_show_is_monthly():
    monthly = [NOW - timedelta(days=30 * n + 20) for n in range(6)]
    assert first_poll_queue(monthly, NOW, settings()) == {0, 1, 2}


def test_the_cap_keeps_the_newest_of_a_large_batch():
    assert first_poll_queue(same_day(25), NOW, settings()) == set(range(10))


def test_undated_items_count_by_their_position_in_the_feed():
    assert first_poll_queue([None] * 6, NOW, settings()) == {0, 1, 2}


async def requeue_after_raising_the_cap(store: FakeStore) -> list[Episode]:
    """A restart with feeds.new_feed_max_episodes raised to 20: what it queues again."""
    raised, fetcher = await poller_for(store, settings(new_feed_max_episodes=20))
    try:
        return await raised.requeue_back_catalogue()
    finally:
        await fetcher.close()


async def test_raising_the_cap_brings_back_episodes_skipped_when_the_feed_was_added(serve):
    bodies, base = serve
    bodies["/big.xml"] = feed_xml(same_day(14))
    store = FakeStore()
    poller, fetcher = await poller_for(store, settings())
    try:
        await poller.add_feed(base + "/big.xml")
        assert sum(s == EpisodeState.NEW for s in (await states(store)).values()) == 10
        requeued = await requeue_after_raising_the_cap(store)
    finally:
        await fetcher.close()
    assert {e.identity for e in requeued} == {f"ep-{n}" for n in range(10, 14)}
    assert set((await states(store)).values()) == {EpisodeState.NEW}


async def test_the_requeue_never_touches_episodes_that_were_processed_or_surfaced_later(serve):
    bodies, base = serve
    bodies["/f.xml"] = feed_xml(same_day(12))
    store = FakeStore()
    poller, fetcher = await poller_for(store, settings())
    episodes = Table(store, "episodes", Episode)
    try:
        await poller.add_feed(base + "/f.xml")
        late = dataclasses.replace(
            next(e for e in await episodes.all() if e.identity == "ep-11"),
            discovered_at=NOW + timedelta(days=1))
        await episodes.put(late)
        requeued = await requeue_after_raising_the_cap(store)
    finally:
        await fetcher.close()
    assert [e.identity for e in requeued] == ["ep-10"]
    assert (await states(store))["ep-11"] == EpisodeState.SKIPPED


async def test_a_back_catalogue_episode_can_be_queued_by_hand(serve):
    bodies, base = serve
    bodies["/old.xml"] = feed_xml([NOW - timedelta(days=100 + n) for n in range(5)])
    store = FakeStore()
    poller, fetcher = await poller_for(store, settings())
    try:
        _, episodes = await poller.add_feed(base + "/old.xml")
        oldest = next(e for e in episodes if e.identity == "ep-4")
        assert oldest.state == EpisodeState.SKIPPED
        queued = await poller.queue_episode(oldest.id)
    finally:
        await fetcher.close()
    assert queued.state == EpisodeState.NEW
    assert (await states(store))["ep-4"] == EpisodeState.NEW


async def test_queueing_an_unknown_episode_says_so(serve):
    store = FakeStore()
    poller, fetcher = await poller_for(store, settings())
    try:
        with pytest.raises(NotFoundError, match="no episode"):
            await poller.queue_episode("nope")
    finally:
        await fetcher.close()
