"""Distributed mode over real Redis and PostgreSQL: actors, duplicates, a killed worker, the standby."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import dramatiq
import pytest

from core.bootstrap import build_services
from core.health import health_report
from core.jobs.distributed.broker import build_broker, declare_actors
from core.jobs.distributed.cluster import cluster_view
from core.jobs.distributed.lease import SchedulerLease
from core.jobs.distributed.worker import WorkerApp, make_worker_broker
from core.jobs.scheduler import RuntimeStatus
from core.store.blobs import load_transcript
from core.store.postgres_store import PostgresStore
from core.store.repos import Repos
from tests.distributed_world import all_done, config_toml, distributed_settings, seed_episodes, wait_until
from tests.fakes.pipeline_fakes import FakeExtractor
from tests.services import PG_PASSWORD
from tests.test_pipeline import NoFetcher

pytestmark = pytest.mark.services
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
async def shared(postgres_url: str):
    store = PostgresStore(postgres_url)
    await store.start()
    yield store
    await store.close()


class CountingExtractor(FakeExtractor):
    """FakeExtractor that takes a moment, so duplicates really overlap."""

    async def extract(self, transcript, episode, show_title, chapters=()):
        await asyncio.sleep(0.2)
        return await super().extract(transcript, episode, show_title, chapters)


async def test_duplicated_messages_on_real_redis_process_each_episode_once(
        tmp_path, postgres_url, redis_url, shared) -> None:
    settings = distributed_settings(tmp_path, postgres_url, redis_url)
    ids = await seed_episodes(shared, tmp_path, 6)
    extractor = CountingExtractor()
    app = WorkerApp(settings, threads=4, services_factory=lambda s, store: build_services(
        s, store=store, fetcher=NoFetcher(), extractor=extractor))
    broker, actors = make_worker_broker(app)
    worker = dramatiq.Worker(broker, worker_threads=4)
    worker.start()
    try:
        for episode_id in ids:
            for _ in range(3):  # every message three times, as a redelivery storm would
                actors["transcribe"].send(episode_id)
        await wait_until(lambda: all_done(shared, ids), 60, "every episode done")
        for episode_id in ids:  # and late duplicates of both stages once done
            actors["transcribe"].send(episode_id)
            actors["extract"].send(episode_id)
        await asyncio.sleep(1.5)
        view = await cluster_view(broker, shared)
    finally:
        await asyncio.to_thread(worker.stop)
        broker.close()
    assert sorted(extractor.calls) == sorted(ids)
    assert len(await Repos(shared).insights.all()) == len(ids)
    assert view == {"queues": {"poll": 0, "transcribe": 0, "extract": 0}, "workers": 1}
    checker = build_broker(redis_url, settings.distributed)
    assert (await cluster_view(checker, shared))["workers"] == 0  # a clean stop leaves at once
    checker.close()


async def test_healthz_shows_the_messages_waiting_on_each_queue(tmp_path, postgres_url, redis_url,
                                                                 shared) -> None:
    settings = distributed_settings(tmp_path, postgres_url, redis_url)

    async def nothing(key: str) -> None:
        return None

    sender = build_broker(redis_url, settings.distributed)
    actors = declare_actors(sender, settings.distributed, nothing, nothing, nothing)
    for key in ("a", "b", "c"):
        actors["transcribe"].send(key)
    actors["poll"].send("f1")
    status = RuntimeStatus(started_at=datetime.now(UTC), last_tick_at=datetime.now(UTC))
    status.cluster = await cluster_view(sender, shared)
    sender.close()
    _, body = health_report(status, datetime.now(UTC), 60.0)
    assert body["cluster"] == {"queues": {"poll": 1, "transcribe": 3, "extract": 0}, "workers": 0}
    _, local = health_report(RuntimeStatus(), datetime.now(UTC), 60.0)
    assert "cluster" not in local  # local mode's body is unchanged


def start_worker(config: Path, database_url: str, redis_url: str, log: Path, *extra_env: str,
                 queues: str = "transcribe,extract", processes: int = 1) -> subprocess.Popen:
    env = {**os.environ, "CASTFIVE_DATABASE_URL": database_url, "CASTFIVE_REDIS_URL": redis_url,
           "PYTHONUNBUFFERED": "1"}
    env.pop("CASTFIVE_CRASH_AT", None)
    for pair in extra_env:
        key, _, value = pair.partition("=")
        env[key] = value
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "--config", str(config), "worker", "--queues", queues,
         "--processes", str(processes), "--threads", "1"],
        cwd=REPO, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)  # the dramatiq parent passes it on to its processes
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


async def test_a_worker_killed_mid_transcription_is_finished_by_another_exactly_once(
        tmp_path, postgres_url, redis_url, shared) -> None:
    config = config_toml(tmp_path)
    ids = await seed_episodes(shared, tmp_path, 1)
    (tmp_path / "data").mkdir(exist_ok=True)
    log_a, log_b = tmp_path / "a.log", tmp_path / "b.log"
    # Worker A is killed (-9) after storing the transcript, before recording the state.
    worker_a = start_worker(config, postgres_url, redis_url, log_a, "CASTFIVE_CRASH_AT=before:transcribed")
    worker_b = None
    try:
        settings = distributed_settings(tmp_path, postgres_url, redis_url)

        async def nothing(key: str) -> None:
            return None

        sender = build_broker(redis_url, settings.distributed)
        actors = declare_actors(sender, settings.distributed, nothing, nothing, nothing)
        actors["transcribe"].send(ids[0])
        await wait_until(lambda: asyncio.sleep(0, worker_a.poll() is not None), 60, "worker A to die", log_a)
        assert "crash injected at before:transcribed" in log_a.read_text()
        assert await load_transcript(shared, ids[0]) is not None  # the blob A stored
        worker_b = start_worker(config, postgres_url, redis_url, log_b)
        await wait_until(lambda: all_done(shared, ids), 90, "worker B to finish the episode", log_b)
        sender.close()
    finally:
        stop(worker_a)
        if worker_b is not None:
            stop(worker_b)
    b_log = log_b.read_text()
    assert "transcript already stored episode=e0" in b_log  # B resumed, it did not redo
    assert b_log.count("insights extracted episode=e0") == 1
    assert "insights extracted" not in log_a.read_text()
    assert PG_PASSWORD not in b_log + log_a.read_text()
    insights = [i for i in await Repos(shared).insights.all() if i.episode_id == "e0"]
    assert insights and len({i.id for i in insights}) == len(insights)


async def test_a_second_scheduler_waits_as_standby_and_takes_over_when_the_first_goes(
        postgres_url) -> None:
    lost: list[str] = []
    first = SchedulerLease(postgres_url, lambda: lost.append("first"), check_s=0.2, retry_s=0.2)
    second = SchedulerLease(postgres_url, lambda: lost.append("second"), check_s=0.2, retry_s=0.2)
    await first.acquire()
    standby = asyncio.create_task(second.acquire())
    await asyncio.sleep(1.5)
    assert first.held and not standby.done()  # never two schedulers
    import psycopg

    async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as admin:
        # The first bot's database session dies (as when its machine does): the lock goes with it.
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'"
            " AND granted AND pid <> pg_backend_pid()")
    started = time.monotonic()
    await asyncio.wait_for(standby, 20)
    assert lost == ["first"] and not first.held and second.held
    assert time.monotonic() - started >= 1.0  # it waited five checks before starting
    await second.release()
    await first.release()


async def test_a_worker_stops_cleanly_and_promptly_on_sigterm(tmp_path, postgres_url, redis_url, shared):
    config = config_toml(tmp_path)
    log = tmp_path / "w.log"
    worker = start_worker(config, postgres_url, redis_url, log, processes=2)
    try:
        await wait_until(lambda: asyncio.sleep(0, log.read_text().count("worker ready") == 2), 90,
                         "two worker processes ready", log)
        began = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(worker.wait, 30)
    finally:
        stop(worker)
    assert code == 0 and time.monotonic() - began < 15, log.read_text()[-2000:]
