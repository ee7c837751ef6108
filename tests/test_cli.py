"""The castfive command: the Quickstart main job offline, and one-line errors."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def castfive(*args: str, cwd: Path = REPO, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CASTFIVE_", "TELEGRAM_", "DISCORD_"))}
    # no key, no network: any attempt to reach out through a proxy would fail loudly
    env.update({"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"}, **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def demo_config(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("cli")
    config = folder / "castfive.toml"
    config.write_text(f'[data]\ndir = "data"\n[feeds]\ncatalogue = ["{REPO / "examples/demo/feed.xml"}"]\n')
    return config


@pytest.fixture(scope="module")
def digest_run(demo_config) -> subprocess.CompletedProcess:
    return castfive("--config", str(demo_config), "digest")


def test_digest_prints_five_real_insights_from_the_demo_feed_offline(digest_run):
    assert digest_run.returncode == 0, digest_run.stderr
    out = digest_run.stdout
    items = re.findall(r"^\d\. ", out, flags=re.M)
    assert len(items) == 5, out
    assert len(re.findall(r"#t=\d+", out)) == 5
    assert "Build Notes" in out
    assert "Traceback" not in digest_run.stderr


def test_digest_with_no_podcast_configured_says_how_to_add_one(tmp_path):
    config = tmp_path / "castfive.toml"
    config.write_text('[data]\ndir = "data"\n')
    run = castfive("--config", str(config), "digest")
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("You follow no podcasts yet: add one with `castfive feeds add URL`")


def test_digest_on_the_same_day_shows_the_same_five(demo_config, digest_run):
    again = castfive("--config", str(demo_config), "digest", "--no-scan")
    ids = lambda text: re.findall(r"id (\w{7})", text)  # noqa: E731
    assert again.returncode == 0 and ids(again.stdout) == ids(digest_run.stdout)


def test_ask_answers_about_a_digest_insight_with_timestamps(demo_config, digest_run):
    insight_id = re.findall(r"id (\w{7})", digest_run.stdout)[0]
    answer = castfive("--config", str(demo_config), "ask", insight_id, "Why does that happen?")
    assert answer.returncode == 0, answer.stderr
    assert re.search(r"\[\d\d:\d\d\]", answer.stdout)


def test_episodes_transcript_and_insights_commands(demo_config, digest_run):
    listing = castfive("--config", str(demo_config), "episodes")
    ids = re.findall(r"^(e\w+)\s", listing.stdout, flags=re.M)
    assert len(ids) == 3 and listing.stdout.count(" done ") == 3
    transcript = castfive("--config", str(demo_config), "transcript", ids[0][:5])
    assert transcript.returncode == 0 and re.search(r"^\[00:0\d\] ", transcript.stdout, flags=re.M)
    insights = castfive("--config", str(demo_config), "insights", ids[0])
    assert insights.returncode == 0 and "score=" in insights.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("transcript", "nosuchepisode"), "No single episode matches"),
        (("queue", "nosuchepisode"), "No single episode matches"),
        (("ask", "zzzzzzz", "why?"), "No insight with id"),
        (("feeds", "add", "file:///etc/passwd"), "http"),
        (("feeds", "remove", "fnope"), "No feed with id"),
    ],
)
def test_errors_are_one_clear_line_not_a_traceback(demo_config, digest_run, args, message):
    run = castfive("--config", str(demo_config), *args)
    assert run.returncode == 1
    assert message.lower() in run.stderr.lower()
    assert "Traceback" not in run.stderr and len(run.stderr.strip().splitlines()) == 1


def test_a_command_while_another_process_holds_the_data_folder_is_refused_in_one_line(
        demo_config, digest_run):
    import asyncio

    from core.store.tinydb_store import TinyDBStore

    holder = TinyDBStore(demo_config.parent / "data")  # as a running `castfive run` does

    async def while_held() -> subprocess.CompletedProcess:
        await holder.start()
        try:
            return await asyncio.to_thread(castfive, "--config", str(demo_config), "episodes")
        finally:
            await holder.close()

    run = asyncio.run(while_held())
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines() == [
        f"castfive: Another Castfive process is using the data folder {demo_config.parent / 'data'}: "
        "stop it first (`castfive run` holds it while it runs), or make the change from chat."]
    assert castfive("--config", str(demo_config), "episodes").stdout.count(" done ") == 3


def test_a_broken_config_names_the_key_and_the_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[http]\nmax_redirects = -1\n")
    run = castfive("--config", str(bad), "poll")
    assert run.returncode == 2
    assert "http.max_redirects" in run.stderr and str(bad) in run.stderr
