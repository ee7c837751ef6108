"""Faults mid-run with real servers: PostgreSQL restarts, Redis restarts, a poison episode."""

from __future__ import annotations

import asyncio
from pathlib import Path

import dramatiq
import pytest

from core.bootstrap import build_services
from core.errors import TranscriptionError
from core.jobs.distributed.worker import WorkerApp, make_worker_broker
from core.models import EpisodeState
from core.store.postgres_store import PostgresStore
from core.store.repos import Repos
from tests.distributed_world import all_done, distributed_settings, seed_episodes, wait_until
from tests.fakes.pipeline_fakes import FakeExtractor
from tests.services import PostgresServer, RedisServer, unavailable
from tests.test_pipeline import NoFetcher

pytestmark = pytest.mark.services


class SlowExtractor(FakeExtractor):
    async def extract(self, transcript, episode, show_title, chapters=()):
        await asyncio.sleep(0.3)
        return await super().extract(transcript, episode, show_title, chapters)


class InProcessWorker:
    """A dramatiq Worker in this process whose services use our fakes."""

    def __init__(self, tmp_path: Path, postgres_url: str, redis_url: str, extractor=None, **options) -> None:
        settings = distributed_settings(tmp_path, postgres_url, redis_url, **options)
        self.extractor = extractor or SlowExtractor()
        self.app = WorkerApp(settings, threads=2, services_factory=lambda s, store: build_services(
            s, store=store, fetcher=NoFetcher(), extractor=self.extractor))
        self.broker, self.actors = make_worker_broker(self.app)
        self.worker = dramatiq.Worker(self.broker, worker_threads=2, worker_timeout=200)

    def __enter__(self) -> InProcessWorker:
        self.worker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.worker.stop(timeout=20_000)
        self.broker.close()


def restartable(server, kind: str):
    if isinstance(server, str):
        unavailable(f"a {kind} given by URL cannot be restarted here")
    return server


async def test_a_postgres_restart_mid_write_delays_it_instead_of_failing_it(postgres_server, postgres_url):
    server: PostgresServer = restartable(postgres_server, "database")
    store = PostgresStore(postgres_url)
    await store.start()
    await store.put("t", "before", {"n": 0})
    await asyncio.to_thread(server.stop)
    try:
        write = asyncio.create_task(store.put("t", "during", {"n": 1}))
        await asyncio.sleep(1.0)
        assert not write.done()  # waiting with backoff, not failed
    finally:
        await asyncio.to_thread(server.start)
    await asyncio.wait_for(write, 40)
    assert await store.all("t") == [{"n": 0}, {"n": 1}]
    await store.close()


async def test_workers_finish_every_episode_across_a_postgres_restart(
        tmp_path, postgres_server, postgres_url, redis_url) -> None:
    server: PostgresServer = restartable(postgres_server, "database")
    seed_store = PostgresStore(postgres_url)
    await seed_store.start()
    ids = await seed_episodes(seed_store, tmp_path, 6)
    await seed_store.close()
    with InProcessWorker(tmp_path, postgres_url, redis_url) as worker:
        for episode_id in ids:
            worker.actors["transcribe"].send(episode_id)
        await asyncio.sleep(1.0)  # some done, some in flight
        await asyncio.to_thread(server.stop)
        await asyncio.sleep(2.0)
        await asyncio.to_thread(server.start)
        check = PostgresStore(postgres_url)
        await check.start()
        await wait_until(lambda: all_done(check, ids), 120, "every episode done after the restart")
    assert len({i.episode_id for i in await Repos(check).insights.all()}) == len(ids)
    await check.close()


async def test_messages_queued_before_a_redis_restart_are_all_processed(
        tmp_path, postgres_url, redis_server, redis_url) -> None:
    server: RedisServer = restartable(redis_server, "Redis")
    store = PostgresStore(postgres_url)
    await store.start()
    ids = await seed_episodes(store, tmp_path, 4)
    sender = InProcessWorker(tmp_path, postgres_url, redis_url)  # only its actors: not started
    for episode_id in ids:
        sender.actors["transcribe"].send(episode_id)
    sender.broker.close()
    await asyncio.to_thread(server.stop)  # appendonly: the queued messages are on disk
    await asyncio.to_thread(server.start)
    with InProcessWorker(tmp_path, postgres_url, redis_url):
        await wait_until(lambda: all_done(store, ids), 60, "every queued episode done")
    await store.close()


async def test_a_redis_restart_mid_run_loses_nothing(tmp_path, postgres_url, redis_server, redis_url) -> None:
    server: RedisServer = restartable(redis_server, "Redis")
    store = PostgresStore(postgres_url)
    await store.start()
    ids = await seed_episodes(store, tmp_path, 6)
    with InProcessWorker(tmp_path, postgres_url, redis_url) as worker:
        for episode_id in ids:
            worker.actors["transcribe"].send(episode_id)
        await asyncio.sleep(0.8)
        await asyncio.to_thread(server.stop)
        await asyncio.sleep(1.0)
        await asyncio.to_thread(server.start)
        await wait_until(lambda: all_done(store, ids), 120, "every episode done after the restart")
    await store.close()


async def test_a_poison_episode_fails_after_max_attempts_and_never_holds_up_the_others(
        tmp_path, postgres_url, redis_url) -> None:
    class PoisonExtractor(SlowExtractor):
        async def extract(self, transcript, episode, show_title, chapters=()):
            if episode.id == "e0":
                raise TranscriptionError("this episode breaks the model")
            return await super().extract(transcript, episode, show_title, chapters)

    store = PostgresStore(postgres_url)
    await store.start()
    ids = await seed_episodes(store, tmp_path, 5)
    repos = Repos(store)
    with InProcessWorker(tmp_path, postgres_url, redis_url, extractor=PoisonExtractor()) as worker:
        for episode_id in ids:
            worker.actors["transcribe"].send(episode_id)
        await wait_until(lambda: all_done(store, ids[1:]), 60, "the healthy episodes done")
        for _ in range(2):  # the sweep would resend it when its retry is due (3 s apart here)
            await wait_until(lambda: _retry_due(repos), 30, "the poison episode's retry")
            worker.actors["extract"].send("e0")
            await asyncio.sleep(0.5)

        async def failed() -> bool:
            episode = await repos.episodes.get("e0")
            return episode is not None and episode.state == EpisodeState.FAILED

        await wait_until(failed, 30, "the poison episode failed for good")
    episode = await repos.episodes.get("e0")
    assert episode is not None and episode.attempts == 3 and "breaks the model" in episode.last_error
    await store.close()


async def _retry_due(repos: Repos) -> bool:
    from datetime import UTC, datetime

    episode = await repos.episodes.get("e0")
    return episode is not None and episode.attempts > 0 and episode.next_attempt_at is not None \
        and episode.next_attempt_at <= datetime.now(UTC)
