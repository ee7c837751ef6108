"""One AsyncIOScheduler with two jobs: poll-and-process feeds, and the minute delivery tick."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from core.bootstrap import Services

log = logging.getLogger(__name__)


@dataclass
class RuntimeStatus:
    """What /healthz reports."""

    last_poll_at: datetime | None = None
    last_tick_at: datetime | None = None
    backlog: int = 0
    polls: int = 0
    ticks: int = 0


class CastfiveScheduler:
    """Polls due feeds and runs the pipeline; ticks deliveries every minute. State lives in the store."""

    def __init__(self, services: Services, *, poll_seconds: float = 60, tick_seconds: float = 60) -> None:
        self.services = services
        self.poll_seconds = poll_seconds
        self.tick_seconds = tick_seconds
        self.status = RuntimeStatus()
        self._scheduler: AsyncIOScheduler | None = None

    def start(self) -> None:
        """Start both jobs on the running event loop; each runs at once, then on its interval."""
        scheduler = AsyncIOScheduler(timezone="UTC")
        now = datetime.now().astimezone()
        # max_instances=1 + coalesce: a long transcription never stacks up poll runs
        scheduler.add_job(self.poll_and_process, "interval", seconds=self.poll_seconds, id="poll",
                          max_instances=1, coalesce=True, next_run_time=now, misfire_grace_time=None)
        scheduler.add_job(self.delivery_tick, "interval", seconds=self.tick_seconds, id="tick",
                          max_instances=1, coalesce=True, next_run_time=now, misfire_grace_time=None)
        scheduler.start()
        self._scheduler = scheduler

    async def poll_and_process(self) -> None:
        """Poll the feeds that are due, then move every episode with work forward."""
        try:
            reports = await self.services.poller.poll_due()
            self.status.last_poll_at = self.services.clock.now()
            self.status.polls += 1
            new = sum(len(r.new_episodes) for r in reports)
            if reports:
                log.info("polled feeds=%d new_episodes=%d", len(reports), new)
            self.status.backlog = len(await self.services.pipeline.backlog())
            await self.services.pipeline.run_pending(progress=_log_progress())
            self.status.backlog = len(await self.services.pipeline.backlog())
        except Exception:  # the job must survive anything: the next run tries again
            log.exception("poll job failed")

    async def delivery_tick(self) -> None:
        """Deliver every digest that is due."""
        try:
            await self.services.delivery.tick()
            self.status.last_tick_at = self.services.clock.now()
            self.status.ticks += 1
        except Exception:
            log.exception("delivery tick failed")

    def shutdown(self) -> None:
        """Stop scheduling new runs (runs in flight finish on their own)."""
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None


def _log_progress():
    """A progress callback that logs every 10% of each episode's transcription."""
    marks: dict[str, int] = {}

    def progress(episode, stage: str, fraction: float) -> None:
        step = int(fraction * 10)
        if step > marks.get(episode.id, -1):
            marks[episode.id] = step
            log.info("progress episode=%s stage=%s %d%%", episode.id, stage, step * 10)

    return progress
