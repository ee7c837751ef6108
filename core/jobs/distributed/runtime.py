"""The bot's side of distributed mode: a scheduler that queues work, behind the scheduler lease."""

from __future__ import annotations

import logging
import signal

from core.bootstrap import Services
from core.jobs.distributed.broker import build_broker, declare_actors
from core.jobs.distributed.dispatch import ActorDispatcher
from core.jobs.distributed.lease import SchedulerLease
from core.jobs.distributed.scheduler import DistributedScheduler

log = logging.getLogger(__name__)


async def _not_here(key: str) -> None:
    raise RuntimeError("actors run in `castfive worker` processes, not in the bot")


def distributed_scheduling(services: Services) -> tuple[DistributedScheduler, SchedulerLease]:
    """The scheduler (sending to the workers' queues) and the lease it must hold to run."""
    settings = services.settings
    broker = build_broker(settings.secrets.redis_url, settings.distributed)
    actors = declare_actors(broker, settings.distributed, _not_here, _not_here, _not_here)
    scheduler = DistributedScheduler(services, ActorDispatcher(actors), broker)

    def on_lost() -> None:
        # Another bot may hold the lease any moment now: nothing more leaves this one, and the
        # process stops (its supervisor restarts it, and it waits as the standby).
        scheduler.gate.close()
        signal.raise_signal(signal.SIGTERM)

    lease = SchedulerLease(settings.secrets.database_url, on_lost,
                           check_s=settings.distributed.lease_check_seconds)
    return scheduler, lease
