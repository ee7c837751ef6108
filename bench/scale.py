"""Episodes per minute with 1, 2 and 4 `castfive worker` processes over real PostgreSQL and Redis.

    python bench/scale.py                 # the waiting workload (a remote GPU's wait, CPU idle)
    python bench/scale.py --whisper       # real faster-whisper on the demo's one-minute episodes

Each run gets a fresh database and an empty queue, seeds the episodes, starts the workers (one
message at a time per process), waits until every process has booted, then times from the first
message queued to the last episode done. The speed-up is against the 1-process run of the same
invocation. PostgreSQL and Redis start from the installed binaries as in the tests, or come from
CASTFIVE_TEST_DATABASE_URL / CASTFIVE_TEST_REDIS_URL.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from core.config import DataSettings, InsightSettings, Secrets, Settings  # noqa: E402
from core.jobs.distributed.broker import build_broker, declare_actors  # noqa: E402
from core.jobs.distributed.settings import DistributedSettings  # noqa: E402
from core.models import Episode, EpisodeState, Feed  # noqa: E402
from core.store.postgres_store import PostgresStore  # noqa: E402
from core.store.repos import Repos  # noqa: E402
from tests.services import PostgresServer, RedisServer, _pg_bin, _start_postgres, free_port  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/_needs.py
from _needs import Need, require, tool  # noqa: E402

# PostgreSQL's initdb lives in /usr/lib/postgresql/*/bin on Debian, off PATH: tests/services finds it.
POSTGRES = Need("PostgreSQL", "apt-get install postgresql", lambda: _pg_bin("initdb") is not None,
                apt="postgresql")
NEEDS = (POSTGRES, tool("redis-server"))
from tests.test_pipeline import write_wav  # noqa: E402

DEMO = REPO / "examples" / "demo"


def servers() -> tuple[PostgresServer | str, RedisServer | str]:
    pg: PostgresServer | str = os.environ.get("CASTFIVE_TEST_DATABASE_URL", "") or _start_postgres()
    given = os.environ.get("CASTFIVE_TEST_REDIS_URL", "")
    if given:
        return pg, given
    redis = RedisServer(free_port(), Path(tempfile.mkdtemp(prefix="castfive-bench-redis-")))
    redis.start()
    return pg, redis


def fresh_database(pg: PostgresServer | str, name: str) -> str:
    if isinstance(pg, str):
        return pg  # a given database: the run clears its tables itself
    pg.admin(f"DROP DATABASE IF EXISTS {name}")
    pg.admin(f"CREATE DATABASE {name} OWNER castfive TEMPLATE template0")
    return pg.url(name)


def write_config(folder: Path) -> Path:
    path = folder / "castfive.toml"
    path.write_text(f'[data]\ndir = "{folder / "data"}"\n[insights]\nembeddings = false\n'
                    '[distributed]\nmode = "distributed"\n')
    return path


async def seed(url: str, audio: list[Path], count: int) -> list[str]:
    store = PostgresStore(url)
    await store.start()
    repos = Repos(store)
    for table in ("episodes", "feeds", "insights"):  # a given database may hold an earlier run
        for doc_key in [getattr(x, "id", None) for x in await getattr(repos, table).all()]:
            if doc_key:
                await getattr(repos, table).delete(doc_key)
    await repos.feeds.put(Feed(id="bench", url=str(audio[0].parent / "feed.xml"), title="Bench",
                               origin="operator", next_poll_at=datetime(2100, 1, 1, tzinfo=UTC)))
    ids = []
    for n in range(count):
        path = audio[n % len(audio)]
        episode = Episode(id=f"b{n:03d}", feed_id="bench", identity=f"b{n}", title=f"Bench {n}",
                          published_at=datetime.now(UTC), duration_s=None, audio_url=path.as_uri(),
                          audio_type="audio/wav" if path.suffix == ".wav" else "audio/mpeg",
                          page_url=None, description="")
        await repos.episodes.put(episode)
        ids.append(episode.id)
    await store.close()
    return ids


async def count_where(url: str, sql: str) -> int:
    store = PostgresStore(url)
    await store.start()
    try:
        async with store.connection() as conn:
            row = await (await conn.execute(sql)).fetchone()
            return int(row[0]) if row else 0
    finally:
        await store.close()


async def run_once(pg, redis_url: str, workers: int, args, audio: list[Path], folder: Path) -> float:
    url = fresh_database(pg, f"bench_scale_{workers}")
    import redis as redis_client

    redis_client.Redis.from_url(redis_url).flushall()
    ids = await seed(url, audio, args.episodes)
    env = {**os.environ, "CASTFIVE_CONFIG": str(write_config(folder)), "CASTFIVE_DATABASE_URL": url,
           "CASTFIVE_REDIS_URL": redis_url, "CASTFIVE_BENCH_DELAY": str(args.delay),
           "CASTFIVE_BENCH_TRANSCRIBER": "whisper" if args.whisper else "wait", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dramatiq", "bench.scale_worker:broker", "--processes", str(workers),
         "--threads", "1", "--queues", "transcribe", "extract", "--skip-logging"],
        cwd=REPO, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=folder.joinpath(
            f"workers-{workers}.log").open("w"))
    try:
        deadline = time.monotonic() + 300
        while await count_where(url, "SELECT count(*) FROM castfive_workers") < workers:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"workers did not start; see {folder}/workers-{workers}.log")
            await asyncio.sleep(0.2)
        settings = Settings(data=DataSettings(dir=str(folder / "data")), insights=InsightSettings(),
                            distributed=DistributedSettings(mode="distributed"),
                            secrets=Secrets(database_url=url, redis_url=redis_url))

        async def unused(key: str) -> None:
            return None

        sender = build_broker(redis_url, settings.distributed)
        actors = declare_actors(sender, settings.distributed, unused, unused, unused)
        started = time.monotonic()
        for episode_id in ids:
            actors["transcribe"].send(episode_id)
        done_sql = ("SELECT count(*) FROM doc_episodes WHERE doc->>'state' IN "
                    f"('{EpisodeState.DONE}', '{EpisodeState.FAILED}')")
        while await count_where(url, done_sql) < len(ids):
            if time.monotonic() - started > 1800:
                raise SystemExit("the run did not finish in 30 minutes")
            await asyncio.sleep(0.1)
        elapsed = time.monotonic() - started
        failed = await count_where(url, "SELECT count(*) FROM doc_episodes WHERE doc->>'state' = 'failed'")
        if failed:
            print(f"  warning: {failed} episode(s) failed; see {folder}/workers-{workers}.log")
        sender.close()
        return elapsed
    finally:
        proc.send_signal(signal.SIGTERM)  # the dramatiq parent stops its processes itself
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


async def main() -> None:
    require(__file__, NEEDS)
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", default="1,2,4", help="worker process counts (default 1,2,4)")
    parser.add_argument("--episodes", type=int, default=0,
                        help="episodes per run (default 24; 6 with --whisper)")
    parser.add_argument("--delay", type=float, default=2.0,
                        help="waiting workload: seconds per audio minute (default 2.0)")
    parser.add_argument("--whisper", action="store_true", help="real faster-whisper on the demo audio")
    args = parser.parse_args()
    args.episodes = args.episodes or (6 if args.whisper else 24)
    counts = [int(n) for n in args.workers.split(",")]
    folder = Path(tempfile.mkdtemp(prefix="castfive-bench-scale-"))
    if args.whisper:
        audio = sorted(DEMO.glob("episode-*.mp3"))
        workload = f"faster-whisper ({len(audio)} demo episodes of about a minute, cycled)"
    else:
        audio = [write_wav(folder / "one-minute.wav", seconds=60.0)]
        workload = f"waiting transcriber, {args.delay:.1f} s per audio minute, 1-minute episodes"
    pg, redis = servers()
    redis_url = redis if isinstance(redis, str) else redis.url
    print(f"bench/scale.py: {args.episodes} episodes, {workload}; {os.cpu_count()} CPU cores")
    print(f"{'workers':>8} {'seconds':>8} {'episodes/min':>13} {'speed-up':>9}")
    reference = None
    try:
        for workers in counts:
            elapsed = await run_once(pg, redis_url, workers, args, audio, folder)
            per_minute = args.episodes / elapsed * 60
            reference = reference or per_minute
            print(f"{workers:>8} {elapsed:>8.1f} {per_minute:>13.1f} {per_minute / reference:>8.2f}x",
                  flush=True)
    finally:
        if not isinstance(redis, str):
            redis.stop()
        if not isinstance(pg, str):
            pg.stop()


if __name__ == "__main__":
    asyncio.run(main())
