"""`castfive scan` killed at every state transition resumes and ends with each episode done once."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from core.store.tinydb_store import TinyDBStore

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "examples" / "demo" / "feed.xml"
CRASH_POINTS = ["downloaded", "audio_downloaded", "before:transcribed", "transcribed", "before:done", "done"]


async def stored_episodes(data: Path) -> list[dict]:
    store = TinyDBStore(data)
    await store.start()
    try:
        return await store.all("episodes")
    finally:
        await store.close()


def scan(config: Path, crash_at: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASTFIVE_")}
    if crash_at:
        env["CASTFIVE_CRASH_AT"] = crash_at
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "--config", str(config), "-v", "scan"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=240,
    )


@pytest.mark.slow
def test_scan_killed_at_each_transition_ends_with_every_episode_transcribed_exactly_once(tmp_path):
    config = tmp_path / "castfive.toml"
    config.write_text(f'[data]\ndir = "data"\n[feeds]\ncatalogue = ["{DEMO}"]\n')
    logs = []
    for point in CRASH_POINTS:
        run = scan(config, point)
        logs.append(run.stderr)
        assert run.returncode == -signal.SIGKILL, f"no crash at {point}: {run.stderr[-2000:]}"
    final = scan(config, None)
    logs.append(final.stderr)
    assert final.returncode == 0, final.stderr[-2000:]

    data = tmp_path / "data"
    episodes = asyncio.run(stored_episodes(data))
    assert sorted(e["state"] for e in episodes) == ["done", "done", "done"]
    blobs = sorted(p.name for p in (data / "blobs").iterdir() if p.name.startswith("transcript-"))
    assert len(blobs) == 3
    leftovers = [p for p in data.rglob("*") if p.name.endswith((".part", ".tmp"))]
    assert leftovers == []
    assert not list((data / "audio").iterdir()), "audio is deleted once transcribed"
    everything = "\n".join(logs)
    transcribed = re.findall(r"\btranscribed episode=(\w+)", everything)
    resumed = re.findall(r"transcript already stored episode=(\w+)", everything)
    assert len(transcribed) == len(set(transcribed)), f"an episode was transcribed twice: {transcribed}"
    assert sorted(transcribed + resumed) == sorted({e["id"] for e in episodes})
