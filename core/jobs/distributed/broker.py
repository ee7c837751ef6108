"""The Dramatiq Redis broker and the three actors, declared on it (no import-time globals)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import dramatiq
from dramatiq.brokers.redis import MAINTENANCE_SCALE, RedisBroker
from dramatiq.middleware import AsyncIO

from core.jobs.distributed.settings import DistributedSettings

ActorFn = Callable[[str], Awaitable[Any]]

# Dramatiq's own retry backoff for crashes the pipeline could not record (then it counts itself).
MIN_BACKOFF_MS = 5_000
MAX_BACKOFF_MS = 300_000


def build_broker(redis_url: str, settings: DistributedSettings) -> RedisBroker:
    """A Redis broker that requeues a dead worker's unacknowledged messages, with asyncio actors."""
    broker = RedisBroker(
        url=redis_url,
        heartbeat_timeout=int(settings.heartbeat_timeout_s * 1000),
        maintenance_chance=max(1, int(settings.maintenance_chance * MAINTENANCE_SCALE)),
    )
    broker.add_middleware(AsyncIO())
    return broker


def declare_actors(broker: dramatiq.Broker, settings: DistributedSettings,
                   poll: ActorFn, transcribe: ActorFn, extract: ActorFn) -> dict[str, dramatiq.Actor]:
    """The poll, transcribe and extract actors, each on its own queue, by stage name."""
    minutes = 60_000

    def declare(fn: ActorFn, name: str, queue: str, limit_minutes: float) -> dramatiq.Actor:
        return dramatiq.Actor(fn, broker=broker, actor_name=name, queue_name=queue, priority=0, options={
            "max_retries": settings.max_retries, "min_backoff": MIN_BACKOFF_MS,
            "max_backoff": MAX_BACKOFF_MS, "time_limit": int(limit_minutes * minutes),
        })

    return {
        "poll": declare(poll, "poll_feed", "poll", settings.poll_time_limit_minutes),
        "transcribe": declare(transcribe, "transcribe_episode", "transcribe",
                              settings.transcribe_time_limit_minutes),
        "extract": declare(extract, "extract_episode", "extract", settings.extract_time_limit_minutes),
    }
