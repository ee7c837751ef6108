"""A delivery round never writes back a stale subscriber over a follow made while it was sending.

The round loads every subscriber when it starts; a send can take seconds (rate limits, retries).
Its outcome (gone / reachable again), the digest choice and a chat move re-read the subscriber
under the same per-subscriber lock the commands hold.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_asyncio

from core.bootstrap import Services
from core.models import DigestItem, OutcomeKind, SendOutcome, Subscriber
from tests.fakes.seed import seed
from tests.opml_world import FeedServer, build_world

pytestmark = pytest.mark.timeout(30)
DUE = datetime(2026, 11, 28, 8, 1, tzinfo=UTC)  # just after the default 08:00 UTC


class GatedPort:
    """A ChatPort whose first send waits until the test lets it finish with `outcome`."""

    platform = "telegram"

    def __init__(self, outcome: SendOutcome) -> None:
        self.outcome = outcome
        self.sending = asyncio.Event()
        self.release = asyncio.Event()

    async def send_digest_item(self, subscriber: Subscriber, item: DigestItem) -> SendOutcome:
        self.sending.set()
        await self.release.wait()
        return self.outcome

    async def send_notice(self, subscriber: Subscriber, text: str) -> SendOutcome:
        return SendOutcome.delivered("notice")


@pytest_asyncio.fixture
async def world(http_server) -> AsyncIterator[tuple[Services, str]]:
    """Seeded services at delivery time, and a local feed server to follow feeds from."""
    base = await http_server(FeedServer().app())
    services, fetcher = await build_world()
    services.clock.set(DUE)  # type: ignore[attr-defined]
    await seed(services.repos)
    try:
        yield services, base
    finally:
        await fetcher.close()


async def subscriber(services: Services, **fields: Any) -> Subscriber:
    sub = await services.api.subscribe("telegram", "1")
    old = dataclasses.replace(sub, created_at=datetime(2026, 11, 1, tzinfo=UTC), **fields)
    await services.repos.subscribers.put(old)
    return old


async def follow_during(services: Services, port: GatedPort, url: str,
                        gate: Callable[[], Awaitable[None]] | None = None) -> str:
    """Run a delivery round; while its send is in flight, follow `url`; returns the feed id."""
    services.add_port(port)  # type: ignore[arg-type]
    tick = asyncio.create_task(services.delivery.tick())
    await (gate() if gate else port.sending.wait())
    feed = (await services.api.add_feed("telegram:1", url)).feed
    assert feed is not None
    port.release.set()
    await tick
    return feed.id


async def test_a_recipient_gone_outcome_keeps_a_feed_followed_during_the_send(world) -> None:
    services, base = world
    await subscriber(services)
    port = GatedPort(SendOutcome(OutcomeKind.GONE, reason="blocked"))
    feed_id = await follow_during(services, port, f"{base}/ok/1.xml")
    stored = await services.api.get_subscriber("telegram:1")
    assert feed_id in (stored.feed_ids or ())
    assert stored.consecutive_gone == 3 and not stored.active  # three gone sends in a row


async def test_a_delivered_outcome_resets_the_streak_and_keeps_a_feed_followed_during_the_send(world) -> None:
    services, base = world
    await subscriber(services, consecutive_gone=2)
    port = GatedPort(SendOutcome.delivered("m1"))
    feed_id = await follow_during(services, port, f"{base}/ok/2.xml")
    stored = await services.api.get_subscriber("telegram:1")
    assert feed_id in (stored.feed_ids or ()) and stored.consecutive_gone == 0


async def test_choosing_the_digest_keeps_a_feed_followed_after_the_round_loaded_its_subscribers(
        world) -> None:
    services, base = world
    await subscriber(services)
    port = GatedPort(SendOutcome.delivered("m1"))
    port.release.set()
    loaded, go_on = asyncio.Event(), asyncio.Event()
    load_catalog = services.builder.load_catalog

    async def slow_catalog() -> Any:  # the round has its subscribers and is about to choose
        loaded.set()
        await go_on.wait()
        return await load_catalog()

    services.builder.load_catalog = slow_catalog  # type: ignore[method-assign]

    services.add_port(port)  # type: ignore[arg-type]
    tick = asyncio.create_task(services.delivery.tick())
    await loaded.wait()
    feed = (await services.api.add_feed("telegram:1", f"{base}/ok/3.xml")).feed
    go_on.set()
    await tick
    stored = await services.api.get_subscriber("telegram:1")
    assert feed is not None and feed.id in (stored.feed_ids or ())
    assert stored.last_digest_date == "2026-11-28"


async def test_a_moved_chat_keeps_a_feed_followed_during_the_send(world) -> None:
    services, base = world
    await subscriber(services)
    port = GatedPort(SendOutcome(OutcomeKind.MOVED, new_chat_id="-1002"))
    sends = 0
    original = port.send_digest_item

    async def moved_then_delivered(sub: Subscriber, item: DigestItem) -> SendOutcome:
        nonlocal sends
        sends += 1
        return await original(sub, item) if sends == 1 else SendOutcome.delivered(f"m{sends}")

    port.send_digest_item = moved_then_delivered  # type: ignore[method-assign]
    feed_id = await follow_during(services, port, f"{base}/ok/4.xml")
    assert await services.api.get_subscriber("telegram:1") is None
    moved = await services.api.get_subscriber("telegram:-1002")
    assert moved is not None and feed_id in (moved.feed_ids or ())
