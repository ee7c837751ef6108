"""How far back a chat's library reaches: `insights.library_days` of sends survive the daily prune."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import pytest

from core.bootstrap import Services, build_services
from core.config import ConfigError, InsightSettings, Settings, load_settings
from core.jobs.maintenance import prune
from tests.fakes.clock import FakeClock
from tests.fakes.memory_store import FakeStore
from tests.library_world import ADA, SENT_DAY, seed_library

SENT = datetime.fromisoformat(f"{SENT_DAY}T08:00:00+00:00")
SENT_IDS = ["i00", "i01", "i10", "i20", "i21"]


async def pruned_after(days: int, library_days: int) -> Services:
    """The seeded library, its insights made the day before the send, pruned `days` later."""
    settings = Settings(insights=InsightSettings(library_days=library_days))
    built = build_services(settings, clock=FakeClock(SENT), store=FakeStore(),
                           fetcher=object(), transcriber=object())  # type: ignore[arg-type]
    await seed_library(built)
    for insight in await built.repos.insights.all():
        await built.repos.insights.put(dataclasses.replace(insight, created_at=SENT - timedelta(days=1)))
    built.clock.set(SENT + timedelta(days=days))  # type: ignore[attr-defined]
    await prune(built.repos, built.clock, built.settings, built.delivery.history)
    return built


async def kept(services: Services) -> list[str]:
    return sorted(e.item.insight.id for e in await services.api.library.entries(ADA))


async def test_by_default_the_library_reaches_back_over_the_dedupe_window_only() -> None:
    assert await kept(await pruned_after(20, library_days=30)) == SENT_IDS
    assert await kept(await pruned_after(100, library_days=30)) == []


async def test_a_longer_library_keeps_the_sends_and_their_insights_through_the_prune() -> None:
    services = await pruned_after(100, library_days=365)
    assert await kept(services) == SENT_IDS
    first = (await services.repos.insights.get("i00"))
    assert first is not None
    page = await services.api.library.search(ADA, first.text.split()[0])
    assert "i00" in {hit.insight_id for hit in page.hits}


async def test_a_library_shorter_than_the_dedupe_window_still_keeps_that_window() -> None:
    assert await kept(await pruned_after(20, library_days=0)) == SENT_IDS


def test_a_negative_library_is_a_config_error(tmp_path) -> None:
    config = tmp_path / "castfive.toml"
    config.write_text("[insights]\nlibrary_days = -1\n")
    with pytest.raises(ConfigError, match=r"insights\.library_days"):
        load_settings(config)
