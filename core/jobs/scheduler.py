"""One AsyncIOScheduler for the whole service: poll-and-process, the delivery tick, daily upkeep.

Every job runs as a task this class owns, so `stop()` can end them in order: no job starts after
it is called, digest messages already handed to a chat platform finish and are recorded, and
whatever else is running (a poll, a transcription, a round waiting for its turn) is cancelled.
All state lives in the store, so cancelled work simply resumes at the next start.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from core.bootstrap import Services
from core.catalogue import sync_catalogue
from core.errors import DiskFullError
from core.jobs.maintenance import prune
from core.models import DigestItem, SendOutcome, Subscriber
from core.ports import ChatPort
from core.store.diskfull import log_disk_full

log = logging.getLogger(__name__)

@dataclass
class RuntimeStatus:
    """What /healthz reports; times come from the service's clock."""

    started_at: datetime | None = None
    last_poll_at: datetime | None = None
    last_poll_error: str = ""
    last_tick_at: datetime | None = None
    last_maintenance_at: datetime | None = None
    backlog: int = 0
    episodes: dict[str, int] = field(default_factory=dict)  # how many in each state
    polls: int = 0
    ticks: int = 0
    due: int = 0  # of the last delivery round
    messages_sent: int = 0  # since start
    messages_failed: int = 0
    stopping: bool = False
    cluster: dict[str, Any] = field(default_factory=dict)  # distributed mode: queue depths, workers


class SendGate:
    """Lets digest sends through until closed, and knows how many are with a platform right now."""

    def __init__(self) -> None:
        self.open = True
        self.in_flight = 0
        self._idle: asyncio.Event | None = None
        self._never: asyncio.Event | None = None

    def close(self) -> None:
        """From now on a send waits until its task is cancelled: nothing new leaves the process."""
        self.open = False

    async def wait_idle(self, timeout: float) -> bool:
        """True once no send is in flight; False if some still are after `timeout` seconds."""
        if self.in_flight == 0:
            return True
        self._idle = self._idle or asyncio.Event()
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return self.in_flight == 0
        return True

    async def send(self, call: Callable[[], Awaitable[SendOutcome]]) -> SendOutcome:
        """Run one send through the gate."""
        if not self.open:
            # Parked, not refused: a refusal would look like a platform failure and count
            # against the subscriber. Shutdown cancels the parked task; the message stays queued.
            self._never = self._never or asyncio.Event()
            await self._never.wait()
        self.in_flight += 1
        try:
            return await call()
        finally:
            self.in_flight -= 1
            if self.in_flight == 0 and self._idle is not None:
                self._idle.set()


class GatedPort:
    """A ChatPort whose digest sends pass through a SendGate (shutdown drains them)."""

    def __init__(self, port: ChatPort, gate: SendGate) -> None:
        self.port = port
        self.gate = gate
        self.platform = port.platform

    async def send_digest_item(self, subscriber: Subscriber, item: DigestItem) -> SendOutcome:
        """Send one insight unless shutdown has begun."""
        return await self.gate.send(lambda: self.port.send_digest_item(subscriber, item))

    async def send_notice(self, subscriber: Subscriber, text: str) -> SendOutcome:
        """Send a note unless shutdown has begun."""
        return await self.gate.send(lambda: self.port.send_notice(subscriber, text))


class CastfiveScheduler:
    """Polls due feeds and runs the pipeline; ticks deliveries; prunes once a day."""

    def __init__(
        self, services: Services, *, poll_seconds: float | None = None,
        tick_seconds: float | None = None, maintenance_hours: float = 24.0,
        maintenance_delay_s: float = 600.0,
    ) -> None:
        settings = services.settings
        self.services = services
        self.poll_seconds = poll_seconds or settings.feeds.poll_check_seconds
        self.tick_seconds = tick_seconds or settings.delivery.tick_seconds
        self.maintenance_hours = maintenance_hours
        self.maintenance_delay_s = maintenance_delay_s  # not at start: a restart loop must not prune
        self.status = RuntimeStatus()
        self.gate = SendGate()
        self._scheduler: AsyncIOScheduler | None = None
        self._running: dict[str, asyncio.Task[None]] = {}

    def gated(self, port: ChatPort) -> ChatPort:
        """The port to register for delivery, so `stop()` can let its sends finish."""
        return GatedPort(port, self.gate)

    def start(self) -> None:
        """Start the jobs on the running event loop; poll and tick run at once, then on interval."""
        scheduler = AsyncIOScheduler(timezone="UTC")
        now = datetime.now().astimezone()
        self.status.started_at = self.services.clock.now()
        # coalesce + our own overlap guard (_job): a long transcription never stacks up polls, and
        # a slow delivery round skips ticks quietly instead of APScheduler warning every second
        common: dict[str, Any] = dict(max_instances=2, coalesce=True, misfire_grace_time=None)
        scheduler.add_job(self._job, "interval", args=("poll", self.poll_and_process),
                          seconds=self.poll_seconds, id="poll", next_run_time=now, **common)
        scheduler.add_job(self._job, "interval", args=("tick", self.delivery_tick),
                          seconds=self.tick_seconds, id="tick", next_run_time=now, **common)
        scheduler.add_job(self._job, "interval", args=("maintenance", self.maintenance),
                          hours=self.maintenance_hours, id="maintenance",
                          next_run_time=now + timedelta(seconds=self.maintenance_delay_s), **common)
        scheduler.start()
        self._scheduler = scheduler
        log.info("scheduler started poll_every=%ss tick_every=%ss", self.poll_seconds, self.tick_seconds)

    async def _job(self, name: str, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run `work` as a task we can stop; skip quietly while the previous run is still going."""
        if name in self._running or self.status.stopping:
            log.debug("job %s still running: this run is skipped", name)
            return
        task = asyncio.create_task(work(), name=f"castfive-{name}")
        self._running[name] = task
        try:
            await asyncio.shield(task)  # APScheduler cancelling its wrapper must not cancel the work
        except asyncio.CancelledError:
            pass
        finally:
            if task.done():
                self._running.pop(name, None)

    async def poll_and_process(self) -> None:
        """Poll the feeds that are due, then move every episode with work forward."""
        services = self.services
        try:
            await sync_catalogue(services.poller, services.repos, services.settings)
            reports = await services.poller.poll_due()
            self.status.last_poll_at = services.clock.now()
            self.status.polls += 1
            self.status.last_poll_error = ""
            new = sum(len(r.new_episodes) for r in reports)
            if reports:
                log.info("polled feeds=%d new_episodes=%d", len(reports), new)
            self.status.backlog = len(await services.pipeline.backlog())
            if self.status.backlog:
                done = await services.pipeline.run_pending(progress=_log_progress())
                self.status.backlog = len(await services.pipeline.backlog())
                log.info("pipeline transcribed=%d extracted=%d failed=%d deferred=%d backlog=%d",
                         len(done.transcribed), len(done.extracted), len(done.failed),
                         len(done.deferred), self.status.backlog)
            self.status.episodes = dict(Counter(str(e.state) for e in await services.repos.episodes.all()))
        except DiskFullError as exc:  # the next run tries again, so it resumes once space is freed
            self.status.last_poll_error = type(exc).__name__
            log_disk_full(log, exc, "poll job")
        except Exception as exc:  # the job must survive anything: the next run tries again
            self.status.last_poll_error = type(exc).__name__
            log.exception("poll job failed")

    async def delivery_tick(self) -> None:
        """Deliver every digest that is due."""
        try:
            report = await self.services.delivery.tick()
        except DiskFullError as exc:
            log_disk_full(log, exc, "delivery tick")
            return
        except Exception:
            log.exception("delivery tick failed")
            return
        self.status.last_tick_at = self.services.clock.now()
        self.status.ticks += 1
        self.status.due = report.due
        self.status.messages_sent += report.messages_sent
        self.status.messages_failed += report.messages_failed

    async def maintenance(self) -> None:
        """Daily upkeep: prune what nothing needs any more, the in-memory sent history too."""
        services = self.services
        try:
            report = await prune(services.repos, services.clock, services.settings,
                                 history=services.delivery.history, locks=services.delivery.locks)
        except Exception:  # tomorrow's run tries again; nothing else depends on it
            log.exception("maintenance failed")
            return
        self.status.last_maintenance_at = services.clock.now()
        log.info("maintenance done: %s", report)

    async def stop(self, grace_s: float = 3.0) -> None:
        """No new runs; sends in flight finish (up to `grace_s`) and are recorded; the rest stops."""
        self.status.stopping = True
        if self._scheduler is not None:
            self._scheduler.pause()  # shutdown() would cancel running jobs at once: do that last
        self.gate.close()
        if not await self.gate.wait_idle(grace_s):
            log.warning("stopping with %d message(s) still unconfirmed: they are resent at next start",
                        self.gate.in_flight)
        running = list(self._running.values())
        for task in running:
            task.cancel()
        # A cancelled task finishes its shielded store writes (the sends just confirmed) first.
        if running:
            _, pending = await asyncio.wait(running, timeout=grace_s)
            if pending:
                log.warning("jobs still stopping after %.0fs: %s", grace_s,
                            ", ".join(t.get_name() for t in pending))
        self._running.clear()
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None

    def shutdown(self) -> None:
        """Stop scheduling at once (running jobs are cancelled); prefer `await stop()`."""
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None


def _log_progress() -> Callable[[Any, str, float], None]:
    """A progress callback that logs every 10% of each episode's transcription."""
    marks: dict[str, int] = {}

    def progress(episode: Any, stage: str, fraction: float) -> None:
        step = int(fraction * 10)
        if step > marks.get(episode.id, -1):
            marks[episode.id] = step
            log.info("progress episode=%s stage=%s %d%%", episode.id, stage, step * 10)

    return progress
