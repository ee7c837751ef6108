"""`castfive search` and `castfive export`: in process over the seeded core, and end to end on disk."""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.cli import build_parser
from bot.cli_library import cmd_export, cmd_search
from core.bootstrap import Services, build_services
from core.config import Settings
from tests.fakes.clock import FakeClock
from tests.fakes.memory_store import FakeStore
from tests.library_world import ADA, BOB, seed_library

REPO = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


@pytest.fixture
async def services() -> Services:
    built = build_services(Settings(), clock=FakeClock(NOW), store=FakeStore(),
                           fetcher=object(), transcriber=object())  # type: ignore[arg-type]
    await seed_library(built)
    return built


async def run(services: Services, *argv: str) -> int:
    args = build_parser().parse_args(list(argv))
    return await {"search": cmd_search, "export": cmd_export}[args.command](services, args)


async def test_search_prints_hits_with_moment_and_id_and_pages(services: Services, capsys) -> None:
    assert await run(services, "search", "--subscriber", ADA, "battery", "prices") == 0
    out = capsys.readouterr().out
    assert "1 match" in out and "Battery prices fell" in out and "Show 0 · Episode 0 · [00:30]" in out
    assert "https://example.org/0.mp3#t=30" in out and "castfive ask i01" in out
    assert await run(services, "search", "--subscriber", ADA, "volcanic", "--page", "9") == 0
    assert "transcript" in capsys.readouterr().out


async def test_search_as_another_chat_finds_only_what_it_may_read(services: Services, capsys) -> None:
    assert await run(services, "search", "--subscriber", BOB, "battery") == 1
    assert "Nothing found" in capsys.readouterr().out


async def test_export_writes_markdown_or_readwise_csv(services: Services, capsys, tmp_path: Path) -> None:
    assert await run(services, "export", "--subscriber", ADA, "--format", "readwise") == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 5 and "Highlight" in rows[0]
    target = tmp_path / "notes.md"
    code = await run(services, "export", "--subscriber", ADA, "--since", "2026-11-28", "--out", str(target))
    assert code == 0
    assert target.read_text(encoding="utf-8").startswith("---\nshow: ")


@pytest.mark.slow
def test_search_and_export_after_a_real_digest_run_on_disk(tmp_path: Path) -> None:
    """The Quickstart demo: digest (scan, index as stored), then search and export in new processes."""
    config = tmp_path / "castfive.toml"
    config.write_text(f'[data]\ndir = "data"\n[feeds]\ncatalogue = ["{REPO / "examples/demo/feed.xml"}"]\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CASTFIVE_", "TELEGRAM_", "DISCORD_"))}

    def castfive(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "bot.cli", "--config", str(config), *args], cwd=REPO,
                              env=env, capture_output=True, text=True, timeout=300)

    digest = castfive("digest")
    assert digest.returncode == 0, digest.stderr
    first_id = re.findall(r"id (\w{7})", digest.stdout)[0]
    found = castfive("search", "answering", "support", "email")
    assert found.returncode == 0, found.stderr
    assert "Build Notes" in found.stdout and re.search(r"\[\d\d:\d\d\]", found.stdout)
    assert (tmp_path / "data" / "search-index.sqlite3").is_file()
    exported = castfive("export", "--format", "readwise")
    assert exported.returncode == 0 and first_id in exported.stdout
