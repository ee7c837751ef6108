"""/healthz: last poll, backlog and last tick as JSON; 503 when deliveries stall or on the way out."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

import aiohttp

from bot import runtime
from core.bootstrap import build_services
from core.config import DataSettings, DeliverySettings, FeedSettings, HealthSettings, Settings
from core.health import health_report, start_health_server
from core.jobs.scheduler import RuntimeStatus
from core.models import EpisodeState
from core.store.repos import Repos
from tests.e2e.process import free_port
from tests.fakes.clock import FakeClock
from tests.fakes.memory_store import FakeStore
from tests.fakes.seed import seed

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


def test_a_recent_tick_is_healthy_and_reported_with_the_last_poll_and_backlog():
    status = RuntimeStatus(started_at=NOW - timedelta(hours=1), last_tick_at=NOW - timedelta(seconds=30),
                           last_poll_at=NOW - timedelta(minutes=2), backlog=4, polls=3, ticks=60)
    healthy, body = health_report(status, NOW, tick_seconds=60)
    assert healthy and body["ok"] is True
    assert body["last_tick_at"] == "2026-11-28T07:59:30+00:00"
    assert body["last_poll_at"] == "2026-11-28T07:58:00+00:00"
    assert (body["backlog"], body["polls"], body["ticks"]) == (4, 3, 60)


def test_no_tick_for_three_intervals_and_a_minute_is_unhealthy():
    status = RuntimeStatus(started_at=NOW - timedelta(hours=1),
                           last_tick_at=NOW - timedelta(minutes=4, seconds=1))
    assert health_report(status, NOW, tick_seconds=60)[0] is False
    status.last_tick_at = NOW - timedelta(minutes=3, seconds=59)
    assert health_report(status, NOW, tick_seconds=60)[0] is True


def test_a_service_just_started_is_healthy_before_its_first_tick_but_not_for_long():
    status = RuntimeStatus(started_at=NOW - timedelta(seconds=5))
    assert health_report(status, NOW, tick_seconds=60)[0] is True
    status.started_at = NOW - timedelta(minutes=10)
    assert health_report(status, NOW, tick_seconds=60)[0] is False
    assert health_report(RuntimeStatus(), NOW, tick_seconds=60)[0] is False  # never started


def test_a_stopping_service_says_so():
    status = RuntimeStatus(started_at=NOW, last_tick_at=NOW, stopping=True)
    healthy, body = health_report(status, NOW, tick_seconds=60)
    assert not healthy and body["stopping"] is True


async def test_the_endpoint_answers_200_when_healthy_and_503_when_stalled():
    status = RuntimeStatus(started_at=NOW, last_tick_at=NOW)
    clock = FakeClock(NOW)
    port = free_port()
    runner = await start_health_server(status, "127.0.0.1", port, now=clock.now, tick_seconds=60)
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/healthz") as resp:
                assert resp.status == 200 and (await resp.json())["ok"] is True
            clock.advance(minutes=10)
            async with session.get(f"http://127.0.0.1:{port}/healthz") as resp:
                assert resp.status == 503 and (await resp.json())["ok"] is False
    finally:
        await runner.cleanup()


async def test_the_running_service_reports_its_polls_backlog_and_ticks(tmp_path):
    clock = FakeClock(NOW)
    store = FakeStore()
    port = free_port()
    settings = Settings(data=DataSettings(dir=str(tmp_path)), delivery=DeliverySettings(tick_seconds=0.1),
                        feeds=FeedSettings(poll_check_seconds=0.1),
                        health=HealthSettings(enabled=True, port=port))
    services = build_services(settings, store=store, clock=clock)
    repos = Repos(store)
    await seed(repos, feeds=1, per_feed=1)
    (feed,) = await repos.feeds.all()  # never polled: its URL is not ours
    await repos.feeds.put(dataclasses.replace(feed, next_poll_at=NOW + timedelta(days=1)))
    (episode,) = await repos.episodes.all()
    # backlog: a new episode counts; one failed for good does not. (This one's feed is not in
    # the store, so the pipeline passes it by and it stays in the backlog.)
    await repos.episodes.put(dataclasses.replace(episode, id="ep-new", feed_id="gone",
                                                 state=EpisodeState.NEW))
    await repos.episodes.put(dataclasses.replace(episode, id="ep-failed", state=EpisodeState.FAILED))
    stop = asyncio.Event()
    serving = asyncio.create_task(runtime.serve(settings, stop, services=services, adapters=[]))
    try:
        body: dict = {}
        async with aiohttp.ClientSession() as session:
            for _ in range(100):
                await asyncio.sleep(0.05)
                try:
                    async with session.get(f"http://127.0.0.1:{port}/healthz") as resp:
                        body = await resp.json()
                except aiohttp.ClientConnectionError:
                    continue
                if body["ticks"] >= 2 and body["polls"] >= 1:
                    break
        assert body["ok"] is True
        assert body["last_tick_at"] == NOW.isoformat() and body["last_poll_at"] == NOW.isoformat()
        assert body["backlog"] == 1 and body["last_poll_error"] is None
        assert body["episodes"] == {"done": 1, "new": 1, "failed": 1}
    finally:
        stop.set()
        await asyncio.wait_for(serving, 5)
    async with aiohttp.ClientSession() as session:  # gone with the service
        try:
            async with session.get(f"http://127.0.0.1:{port}/healthz"):
                raise AssertionError("/healthz still answers after stop")
        except aiohttp.ClientConnectionError:
            pass
