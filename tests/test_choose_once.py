"""A day's digest is chosen once, even when /today and the schedule (or two /today) ask at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import pytest_asyncio

from core.bootstrap import Services
from tests.fakes.seed import seed
from tests.opml_world import build_world

pytestmark = pytest.mark.timeout(30)
DUE = datetime(2026, 11, 28, 8, 1, tzinfo=UTC)


@pytest_asyncio.fixture
async def services() -> AsyncIterator[Services]:
    built, fetcher = await build_world()
    built.clock.set(DUE)  # type: ignore[attr-defined]
    await seed(built.repos)
    try:
        yield built
    finally:
        await fetcher.close()


async def test_two_today_at_once_in_a_private_chat_both_show_the_same_five(services) -> None:
    await services.api.subscribe("telegram", "1")
    first, second = await asyncio.gather(services.api.today("telegram:1"),
                                         services.api.today("telegram:1"))
    ids = [[i.insight.id for i in d.items] for d in (first, second)]
    assert len(ids[0]) == 5 and ids[0] == ids[1]
    entry = await services.repos.ledger.get("telegram:1|2026-11-28")
    assert entry is not None and [m.insight_id for m in entry.messages] == ids[0]


async def test_the_schedule_and_today_choosing_at_once_agree_on_one_entry(services) -> None:
    subscriber = await services.api.subscribe("telegram", "1")
    catalog = await services.builder.load_catalog()
    tick, asked = await asyncio.gather(
        services.delivery.choose(subscriber, "2026-11-28", catalog),
        services.delivery.choose(subscriber, "2026-11-28", catalog, on_request=True))
    assert tick == asked and len(tick.messages) == 5
    assert await services.repos.ledger.get("telegram:1|2026-11-28") == tick


async def test_ranking_runs_off_the_event_loop(services) -> None:
    """Choosing is CPU work and may call the sentence-embedding model: never on the loop."""
    import asyncio

    subscriber = await services.api.subscribe("telegram", "1")
    choose, on_loop = services.builder.choose, []

    def recording(*args, **kwargs):  # type: ignore[no-untyped-def]
        try:
            asyncio.get_running_loop()
            on_loop.append(True)
        except RuntimeError:
            on_loop.append(False)
        return choose(*args, **kwargs)

    services.builder.choose = recording
    entry = await services.delivery.choose(subscriber, "2026-11-28", await services.builder.load_catalog())
    assert len(entry.messages) == 5 and on_loop == [False]
