"""A big OPML import is bounded: the allowance caps the fetches, a pool and a time budget cap the wait."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from core.bootstrap import Services
from core.errors import PermissionDeniedError
from core.models import FeedStatus
from tests.opml_world import SLOW_S, FeedServer, build_world, opml

pytestmark = pytest.mark.timeout(60)


class World:
    def __init__(self, services: Services, server: FeedServer, base: str) -> None:
        self.services, self.server, self.base = services, server, base
        self.api = services.api

    def urls(self, kind: str, numbers: range) -> list[str]:
        return [f"{self.base}/{kind}/{n}.xml" for n in numbers]

    async def followed(self, sub_id: str) -> tuple[str, ...]:
        return (await self.api.get_subscriber(sub_id)).feed_ids or ()


async def make(http_server, **feed_settings: object) -> AsyncIterator[World]:
    server = FeedServer()
    base = await http_server(server.app())
    services, fetcher = await build_world(**feed_settings)
    try:
        yield World(services, server, base)
    finally:
        await fetcher.close()


@pytest_asyncio.fixture
async def world(http_server) -> AsyncIterator[World]:
    async for built in make(http_server):
        yield built


async def test_a_file_of_500_feeds_fetches_only_the_allowance_eight_at_a_time(world: World) -> None:
    sub = await world.api.subscribe("telegram", "1")
    result = await world.api.import_opml(sub.id, opml(world.urls("ok", range(500))))
    limit = world.services.settings.feeds.max_feeds_per_subscriber
    assert len(world.server.hits) == limit  # nothing beyond the allowance is fetched
    assert len(result.added) == limit and result.over_allowance == 500 - limit
    assert result.failed == () and result.out_of_time == 0
    assert 1 < world.server.most_in_flight <= 8
    assert [f.title for f in result.added] == [f"Show {n}" for n in range(limit)]  # file order
    assert set(await world.followed(sub.id)) == {f.id for f in result.added}


async def test_feeds_already_followed_are_counted_not_fetched_and_spend_no_allowance(world: World) -> None:
    sub = await world.api.subscribe("telegram", "1")
    for url in world.urls("ok", range(3)):
        await world.api.add_feed(sub.id, url)
    world.server.hits.clear()
    result = await world.api.import_opml(sub.id, opml(world.urls("ok", range(60))))
    assert result.already_followed == 3 and len(result.added) == 47 and result.over_allowance == 10
    assert not any(hit in world.server.hits for hit in ("/ok/0.xml", "/ok/1.xml", "/ok/2.xml"))
    assert len(await world.followed(sub.id)) == 50


async def test_a_full_allowance_fetches_nothing(world: World) -> None:
    sub = await world.api.subscribe("telegram", "1")
    await world.api.import_opml(sub.id, opml(world.urls("ok", range(50))))
    world.server.hits.clear()
    result = await world.api.import_opml(sub.id, opml(world.urls("ok", range(50, 80))))
    assert world.server.hits == [] and result.added == () and result.over_allowance == 30


async def test_failures_are_listed_in_file_order_and_spend_the_fetch_allowance(world: World) -> None:
    sub = await world.api.subscribe("telegram", "1")
    urls = [*world.urls("missing", range(9)), "file:///etc/passwd", *world.urls("ok", range(60))]
    result = await world.api.import_opml(sub.id, opml(urls))
    names = [name for name, _ in result.failed]
    assert names == [f"missing/{n}.xml" for n in range(9)] + ["etc/passwd"]
    assert all(reason for _, reason in result.failed)
    # a file of dead feeds cannot make us fetch thousands: each try counts, good or bad
    assert len(result.added) == 40 and result.over_allowance == 20
    assert len(world.server.hits) == 49


async def test_the_time_budget_cuts_slow_feeds_off_and_leaves_them_unpolled(http_server) -> None:
    async for world in make(http_server, import_time_budget_s=0.5):
        sub = await world.api.subscribe("telegram", "1")
        urls = world.urls("ok", range(4)) + world.urls("slow", range(20))
        started = time.monotonic()
        result = await world.api.import_opml(sub.id, opml(urls))
        took = time.monotonic() - started
        assert took < SLOW_S / 2, f"the import took {took:.1f} s against a 0.5 s budget"
        assert len(result.added) == 4 and result.out_of_time == 20 and result.failed == ()
        assert result.over_allowance == 0  # 24 entries, room for 50
        assert world.server.most_in_flight <= 8  # 8 slow ones started, 12 never tried
        assert sum("/slow/" in hit for hit in world.server.hits) == 8
        await asyncio.sleep(0)
        feeds = await world.services.repos.feeds.all()
        assert all(f.status != FeedStatus.ACTIVE for f in feeds if "/slow/" in f.url)
        assert len(await world.followed(sub.id)) == 4


async def test_the_concurrency_is_a_setting(http_server) -> None:
    async for world in make(http_server, import_concurrency=3):
        sub = await world.api.subscribe("telegram", "1")
        await world.api.import_opml(sub.id, opml(world.urls("ok", range(20))))
        assert world.server.most_in_flight == 3


async def test_import_is_refused_where_users_may_not_add_feeds(http_server) -> None:
    async for world in make(http_server, users_may_add_feeds=False):
        sub = await world.api.subscribe("telegram", "1")
        with pytest.raises(PermissionDeniedError):
            await world.api.import_opml(sub.id, opml(world.urls("ok", range(3))))
        assert world.server.hits == []
