"""The bot's scheduler in distributed mode: the poll job queues work instead of doing it."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from dramatiq.brokers.redis import RedisBroker
from redis.exceptions import RedisError

from core.bootstrap import Services
from core.catalogue import sync_catalogue
from core.errors import DiskFullError
from core.jobs.distributed.cluster import cluster_view
from core.jobs.distributed.dispatch import Dispatcher
from core.jobs.distributed.sweep import Sweeper
from core.jobs.scheduler import CastfiveScheduler
from core.store.diskfull import log_disk_full

log = logging.getLogger(__name__)
INDEX_REFRESH = timedelta(minutes=10)  # how often the search index looks for the workers' insights


class DistributedScheduler(CastfiveScheduler):
    """Delivery ticks and upkeep as in local mode; polls and episodes go to the workers' queues."""

    def __init__(self, services: Services, dispatch: Dispatcher, broker: RedisBroker | None = None,
                 **options: float) -> None:
        super().__init__(services, **options)
        self.broker = broker
        settings = services.settings
        self.sweeper = Sweeper(services.repos, services.pipeline, dispatch, services.clock,
                               settings.distributed.redispatch_minutes)
        self._settings_applied = False
        self._index_refreshed: datetime | None = None

    def _refresh_search_index(self) -> None:
        """Workers store insights and transcripts in the shared database, past this process's
        search index: every INDEX_REFRESH the index catches up (in the background)."""
        now = self.services.clock.now()
        if self._index_refreshed is None or now - self._index_refreshed >= INDEX_REFRESH:
            self._index_refreshed = now
            self.services.api.library.refresh()

    async def poll_and_process(self) -> None:
        """Add missing catalogue feeds, then queue due polls and unfinished episodes."""
        services = self.services
        try:
            await sync_catalogue(services.poller, services.repos, services.settings)
            if not self._settings_applied:  # as poll_due does in local mode: a raised lookback applies
                await services.poller.requeue_back_catalogue()
                self._settings_applied = True
            report = await self.sweeper.sweep()
            self._refresh_search_index()
            self.status.last_poll_at = services.clock.now()
            self.status.polls += 1
            self.status.last_poll_error = ""
            self.status.backlog = report.backlog
            self.status.episodes = report.episodes
            if self.broker is not None:
                self.status.cluster = await cluster_view(self.broker, services.store)
            if report.feeds_queued or report.episodes_queued:
                log.info("queued polls=%d episodes=%d backlog=%d", report.feeds_queued,
                         report.episodes_queued, report.backlog)
        except DiskFullError as exc:
            self.status.last_poll_error = type(exc).__name__
            log_disk_full(log, exc, "poll job")
        except RedisError as exc:  # an outage, not a bug: one line a run, no traceback
            self.status.last_poll_error = type(exc).__name__
            log.warning("poll job: the queue is unreachable (%s); the next run tries again",
                        type(exc).__name__)
        except Exception as exc:  # the job must survive anything (Redis away): the next run retries
            self.status.last_poll_error = type(exc).__name__
            log.exception("poll job failed")
