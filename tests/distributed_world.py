"""Helpers for the distributed tests: settings over the test servers, a seeded feed, waiting."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from core.config import DataSettings, InsightSettings, PipelineSettings, Secrets, Settings
from core.jobs.distributed.settings import DistributedSettings
from core.models import Episode, EpisodeState, Feed, TranscriptLink
from core.store.postgres_store import PostgresStore
from core.store.repos import Repos

VTT = """WEBVTT

00:00:00.000 --> 00:00:04.000
<v Host>Welcome back to the show, episode {n}.

00:00:04.000 --> 00:00:11.000
<v Guest>Battery prices fell ninety percent in ten years, so storage now beats gas peakers.

00:00:11.000 --> 00:00:19.000
<v Guest>Teams that deploy every day halve their failure rate because each change is small.
"""


def distributed_settings(tmp_path: Path, database_url: str, redis_url: str, **options: float) -> Settings:
    """Settings for a distributed test: fast dead-worker detection, offline extraction."""
    return Settings(
        data=DataSettings(dir=str(tmp_path / "data")),
        pipeline=PipelineSettings(max_attempts=3, retry_base_minutes=0.05),
        insights=InsightSettings(embeddings=False),
        distributed=DistributedSettings(mode="distributed", heartbeat_timeout_s=3.0,
                                        maintenance_chance=1.0, lease_check_seconds=0.2, **options),
        secrets=Secrets(database_url=database_url, redis_url=redis_url),
    )


def config_toml(tmp_path: Path, **extra: str) -> Path:
    """The same settings as a config file for `castfive worker` and `python -m bot` processes."""
    lines = [
        "[data]", f'dir = "{tmp_path / "data"}"',
        "[http]", "allow_private_addresses = true",
        "[insights]", "embeddings = false",
        "[pipeline]", "retry_base_minutes = 0.05",
        "[distributed]", 'mode = "distributed"', "heartbeat_timeout_s = 3.0", "maintenance_chance = 1.0",
        "lease_check_seconds = 0.2",
    ]
    for section, body in extra.items():
        lines += [f"[{section}]", body]
    path = tmp_path / "config.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


async def seed_episodes(store: PostgresStore, tmp_path: Path, count: int) -> list[str]:
    """An operator feed with `count` episodes, each with a publisher VTT transcript on disk."""
    repos = Repos(store)
    folder = tmp_path / "show"
    folder.mkdir(exist_ok=True)
    await repos.feeds.put(Feed(id="f1", url=str(folder / "feed.xml"), title="Show", origin="operator",
                               next_poll_at=datetime(2100, 1, 1, tzinfo=UTC)))
    ids = []
    for n in range(count):
        vtt = folder / f"e{n}.vtt"
        vtt.write_text(VTT.format(n=n))
        episode = Episode(id=f"e{n}", feed_id="f1", identity=f"e{n}", title=f"Episode {n}",
                          published_at=datetime.now(UTC), duration_s=19, audio_url=None,
                          audio_type="", page_url=None, description="",
                          transcripts=(TranscriptLink(vtt.as_uri(), "text/vtt"),))
        await repos.episodes.put(episode)
        ids.append(episode.id)
    return ids


async def wait_until(check: Callable[[], Awaitable[bool]], timeout: float, what: str,
                     *logs: Path) -> None:
    """Poll `check` until true; fail naming `what` (with the tail of each of `logs`) after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.1)
    tails = "".join(f"\n--- {log.name}:\n{log.read_text(errors='replace')[-3000:]}"
                    for log in logs if log.exists())
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}{tails}")


async def all_done(store: PostgresStore, ids: list[str]) -> bool:
    """True once every episode is done."""
    repos = Repos(store)
    for episode_id in ids:
        episode = await repos.episodes.get(episode_id)
        if episode is None or episode.state != EpisodeState.DONE:
            return False
    return True
