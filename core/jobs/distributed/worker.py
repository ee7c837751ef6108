"""A worker process: the core's services on the actors' event loop, built once at boot.

The Whisper model, the HTTP session and the database pool are per process and shared by the
process's threads (dramatiq `--threads`); the transcriber's own semaphore bounds how many
transcriptions run at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable
from typing import Any

import dramatiq
from dramatiq.asyncio import get_event_loop_thread
from dramatiq.middleware import Middleware

from core.bootstrap import Services, build_services
from core.config import Settings
from core.jobs.distributed.broker import build_broker, declare_actors
from core.jobs.distributed.dispatch import ActorDispatcher, Dispatcher
from core.jobs.distributed.locks import AdvisoryLocks
from core.jobs.distributed.stages import StageRunner
from core.library.index import INDEX_FILE, SearchIndex
from core.store.postgres_store import PostgresStore

log = logging.getLogger(__name__)

HEARTBEAT_S = 15.0  # /healthz counts workers seen in the last minute
ServicesFactory = Callable[[Settings, PostgresStore], Services]


def default_services(settings: Settings, store: PostgresStore) -> Services:
    """The real services over the shared database, indexing into the search index file beside
    the data (the bot's, on the same host), not into memory that grows for the worker's life."""
    return build_services(settings, store=store, index=SearchIndex(settings.data_dir / INDEX_FILE))


class WorkerApp:
    """The actors' one entry point per process; `boot()` runs on the event loop at worker start."""

    def __init__(self, settings: Settings, queues: str = "",
                 services_factory: ServicesFactory = default_services, threads: int = 8) -> None:
        self.settings = settings
        self.queues = queues
        self.services_factory = services_factory
        self.threads = threads
        self.services: Services | None = None
        self.runner: StageRunner | None = None
        self.dispatch: Dispatcher | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._store: PostgresStore | None = None
        self.name = f"{socket.gethostname()}:{os.getpid()}"

    async def boot(self) -> None:
        """Open the pool and session, clean this machine's leftover downloads, start heartbeats."""
        store = PostgresStore(self.settings.secrets.database_url, max_size=self.threads + 4)
        services = self.services_factory(self.settings, store)
        await services.store.start()
        if hasattr(services.fetcher, "start"):
            await services.fetcher.start()
        await services.pipeline.start()
        if not self.queues or "transcribe" in self.queues.split(","):
            await services.transcriber.start()  # the model loads once, now, not in the first episode
        assert self.dispatch is not None
        self.runner = StageRunner(services.repos, services.pipeline, services.poller, services.clock,
                                  AdvisoryLocks(store), self.dispatch)
        self.services = services
        self._store = store
        self._heartbeat = asyncio.create_task(self._beat(), name="castfive-worker-heartbeat")
        log.info("worker ready name=%s queues=%s database=%s", self.name, self.queues or "all",
                 store.safe_dsn)

    async def close(self) -> None:
        """Stop heartbeats, close the session and the pool."""
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            await asyncio.gather(self._heartbeat, return_exceptions=True)
        if self._store is not None:
            try:  # a clean stop leaves at once, rather than being counted for another minute
                async with self._store.connection() as conn:
                    await conn.execute("DELETE FROM castfive_workers WHERE name = %s", (self.name,))
            except Exception as exc:  # noqa: BLE001 - the row ages out by itself
                log.info("worker heartbeat row not removed: %s", type(exc).__name__)
        if self.services is not None:
            await self.services.close()

    async def _beat(self) -> None:
        assert self._store is not None
        while True:
            try:
                async with self._store.connection() as conn:
                    await conn.execute(
                        "INSERT INTO castfive_workers (name, queues, seen_at) VALUES (%s, %s, now())"
                        " ON CONFLICT (name) DO UPDATE SET queues = EXCLUDED.queues, seen_at = now()",
                        (self.name, self.queues or "poll,transcribe,extract"))
                    # rows of processes long gone (each restart is a new pid): keep the table small
                    await conn.execute(
                        "DELETE FROM castfive_workers WHERE seen_at < now() - interval '1 day'")
            except Exception as exc:  # noqa: BLE001 - a missed beat only makes /healthz count one fewer
                log.info("worker heartbeat failed: %s", type(exc).__name__)
            await asyncio.sleep(HEARTBEAT_S)

    def _runner(self) -> StageRunner:
        if self.runner is None:
            raise RuntimeError("the worker has not booted")
        return self.runner

    async def poll(self, feed_id: str) -> None:
        """Actor body: poll one feed."""
        await self._runner().poll_feed(feed_id)

    async def transcribe(self, episode_id: str) -> None:
        """Actor body: an episode's transcript."""
        await self._runner().transcribe(episode_id)

    async def extract(self, episode_id: str) -> None:
        """Actor body: an episode's insights."""
        await self._runner().extract(episode_id)


class BootServices(Middleware):
    """Builds the WorkerApp's services when a worker boots and closes them when it stops."""

    def __init__(self, app: WorkerApp) -> None:
        self.app = app

    def before_worker_boot(self, broker: dramatiq.Broker, worker: Any) -> None:
        loop_thread = get_event_loop_thread()  # the AsyncIO middleware, added first, started it
        assert loop_thread is not None
        loop_thread.run_coroutine(self.app.boot())

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: Any) -> None:
        loop_thread = get_event_loop_thread()
        if loop_thread is not None:
            loop_thread.run_coroutine(self.app.close())


def make_worker_broker(app: WorkerApp) -> tuple[dramatiq.Broker, dict[str, dramatiq.Actor]]:
    """The broker a worker process consumes from, with the actors bound to `app`."""
    settings = app.settings
    broker = build_broker(settings.secrets.redis_url, settings.distributed)
    actors = declare_actors(broker, settings.distributed, app.poll, app.transcribe, app.extract)
    app.dispatch = ActorDispatcher(actors)
    broker.add_middleware(BootServices(app))
    return broker, actors
