"""Commands that arrive at once (PTB runs updates concurrently) never lose a subscriber's write."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import pytest_asyncio
from aiohttp import web

from core.adapters.http import SafeFetcher
from core.bootstrap import build_services
from core.config import FeedSettings, HttpSettings, Settings
from core.errors import LimitReachedError
from core.models import FeedStatus
from core.subscriber_locks import KeyedLocks
from tests.fakes.chat_port import FakeChatPort
from tests.fakes.clock import FakeClock
from tests.fakes.memory_store import FakeStore
from tests.opml_world import feed_xml
from tests.test_service import NoTranscriber

FEEDS = 100


async def serve_feed(request: web.Request) -> web.Response:
    # a random delay, so the fetches finish in another order than they started
    await asyncio.sleep(random.random() * 0.05)
    return web.Response(body=feed_xml(int(request.match_info["n"])),
                        content_type="application/rss+xml")


@pytest_asyncio.fixture
async def world(request, http_server) -> AsyncIterator[tuple[object, str]]:
    app = web.Application()
    app.router.add_get("/feed{n}.xml", serve_feed)
    base = await http_server(app)
    catalogue = tuple(f"{base}/feed{n}.xml" for n in getattr(request, "param", ()))
    settings = Settings(http=HttpSettings(allow_private_addresses=True, total_timeout_s=20,
                                          connect_timeout_s=5),
                        feeds=FeedSettings(catalogue=catalogue))
    fetcher = SafeFetcher(settings.http)
    await fetcher.start()
    services = build_services(settings, clock=FakeClock(datetime(2026, 11, 28, 9, 0, tzinfo=UTC)),
                              store=FakeStore(), fetcher=fetcher, transcriber=NoTranscriber(),
                              ports={"telegram": FakeChatPort()})
    try:
        yield services, base
    finally:
        await fetcher.close()


async def add(api, sub_id: str, url: str):
    try:
        return (await api.add_feed(sub_id, url)).feed
    except LimitReachedError:
        return None


async def test_a_hundred_adds_at_once_store_exactly_what_the_replies_said_up_to_the_limit(world):
    services, base = world
    api = services.api
    sub = await api.subscribe("telegram", "1")
    limit = services.settings.feeds.max_feeds_per_subscriber
    replies = await asyncio.gather(*(add(api, sub.id, f"{base}/feed{n}.xml") for n in range(FEEDS)))
    added = {f.id for f in replies if f is not None}
    stored = (await api.get_subscriber(sub.id)).feed_ids
    assert len(stored) == len(set(stored))
    assert set(stored) == added
    assert len(added) == limit
    assert {f.id for f in await api.list_feeds(sub.id)} == added


async def test_adds_and_removes_at_once_store_what_the_replies_said(world):
    services, base = world
    api = services.api
    sub = await api.subscribe("telegram", "1")
    urls = [f"{base}/feed{n}.xml" for n in range(FEEDS)]

    async def add_then_maybe_remove(n: int):
        feed = await add(api, sub.id, urls[n])
        if feed is not None and n % 2 == 0:
            await api.remove_feed(sub.id, feed.id)
            return None
        return feed

    replies = await asyncio.gather(*(add_then_maybe_remove(n) for n in range(FEEDS)))
    kept = {f.id for f in replies if f is not None}
    stored = (await api.get_subscriber(sub.id)).feed_ids
    assert len(stored) == len(set(stored))
    assert set(stored) == kept
    assert kept  # some adds succeeded and stayed


async def test_after_removal_no_feed_that_nobody_follows_is_polled(world):
    services, base = world
    api = services.api
    sub = await api.subscribe("telegram", "1")
    other = await api.subscribe("telegram", "2")
    urls = [f"{base}/feed{n}.xml" for n in range(20)]
    feeds = await asyncio.gather(*(add(api, sub.id, u) for u in urls))
    shared = feeds[0]
    await api.add_feed(other.id, urls[0])
    await asyncio.gather(*(api.remove_feed(sub.id, f.id) for f in feeds))
    services.clock.advance(days=2)
    polled = {r.feed.id for r in await services.poller.poll_due()}
    assert polled == {shared.id}  # still followed by the other chat
    stored = {f.id: f for f in await services.poller.list_feeds()}
    assert all(stored[f.id].status != FeedStatus.ACTIVE for f in feeds[1:])
    # following one again brings it back to polling
    await api.add_feed(sub.id, urls[5])
    services.clock.advance(days=2)
    polled = {r.feed.id for r in await services.poller.poll_due()}
    assert polled == {shared.id, feeds[5].id}



@pytest.mark.parametrize("world", [(3,)], indirect=True)
async def test_a_feed_in_the_operator_catalogue_is_still_polled_when_its_last_user_leaves(world):
    services, base = world
    api = services.api
    sub = await api.subscribe("telegram", "1")
    feed = (await api.add_feed(sub.id, f"{base}/feed3.xml")).feed  # before the catalogue synced
    await api.remove_feed(sub.id, feed.id)
    services.clock.advance(days=2)
    assert {r.feed.id for r in await services.poller.poll_due()} == {feed.id}


async def test_a_subscriber_lock_serialises_its_holders_and_is_forgotten_when_idle():
    locks = KeyedLocks()
    inside: list[int] = []
    most = 0

    async def hold(key: str) -> None:
        nonlocal most
        async with locks.hold(key):
            inside.append(1)
            most = max(most, len(inside))
            await asyncio.sleep(0)
            inside.pop()

    await asyncio.gather(*(hold("telegram:1") for _ in range(50)), hold("telegram:2"))
    assert most <= 2  # one holder of "telegram:1" at a time, beside the one of "telegram:2"
    assert len(locks) == 0
