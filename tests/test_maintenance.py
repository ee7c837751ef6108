"""Daily pruning keeps what ranking, delivery and follow-up questions still need, and no more."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from core.config import Settings
from core.digests import SentHistory
from core.jobs.maintenance import PruneReport, prune
from core.models import Insight, Turn
from core.ports import SearchResult
from core.store.repos import (
    Conversation,
    LedgerEntry,
    LedgerMessage,
    MessageLink,
    Repos,
    SearchChoice,
    ledger_key,
)
from core.store.tinydb_store import TinyDBStore
from tests.fakes.clock import FakeClock
from tests.fakes.memory_store import FakeStore

NOW = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
SETTINGS = Settings()  # dedupe_days 30, lookback_days 7: ledger kept 31 days, insights 32


def day(days_ago: int) -> str:
    return (date(2026, 11, 28) - timedelta(days=days_ago)).isoformat()


def insight(insight_id: str, days_old: float | None) -> Insight:
    created = None if days_old is None else NOW - timedelta(days=days_old)
    return Insight(id=insight_id, episode_id="e1", feed_id="f1", text=f"Idea {insight_id}.",
                   quote="...", start=0.0, end=10.0, score=0.8, created_at=created)


def entry(subscriber: str, days_ago: int, *insight_ids: str) -> LedgerEntry:
    return LedgerEntry(subscriber, day(days_ago), tuple(LedgerMessage(i) for i in insight_ids),
                       chosen_at=NOW - timedelta(days=days_ago), finished=True)


@pytest.fixture
def repos() -> Repos:
    return Repos(FakeStore())


async def test_ledger_entries_older_than_the_dedupe_window_are_removed(repos: Repos) -> None:
    for days_ago in (0, 30, 31, 32, 60):
        await repos.ledger.put(entry("telegram:1", days_ago, "i1"))
    report = await prune(repos, FakeClock(NOW), SETTINGS)
    assert report.ledger == 2
    assert sorted(e.local_date for e in await repos.ledger.all()) == [day(31), day(30), day(0)]


async def test_old_insights_go_with_their_message_links_unless_still_referenced(repos: Repos) -> None:
    for item in (insight("fresh", 5), insight("edge", 31.9), insight("old", 33),
                 insight("old-but-sent", 40), insight("undated", None)):
        await repos.insights.put(item)
    await repos.ledger.put(entry("telegram:1", 25, "old-but-sent"))  # still dedupes: kept
    for mid, insight_id in (("1", "old"), ("2", "fresh"), ("3", "never-existed")):
        await repos.messages.put(MessageLink("telegram:1", mid, insight_id, f"telegram:1:{mid}"))
    report = await prune(repos, FakeClock(NOW), SETTINGS)
    assert (report.insights, report.messages) == (1, 2)
    assert sorted(i.id for i in await repos.insights.all()) == ["edge", "fresh", "old-but-sent",
                                                                "undated"]
    assert [m.insight_id for m in await repos.messages.all()] == ["fresh"]


async def test_an_insight_is_pruned_once_its_last_ledger_entry_is(repos: Repos) -> None:
    await repos.insights.put(insight("old", 40))
    await repos.ledger.put(entry("telegram:1", 32, "old"))
    report = await prune(repos, FakeClock(NOW), SETTINGS)
    assert (report.ledger, report.insights) == (1, 1)
    assert await repos.insights.all() == []


async def test_idle_conversations_and_day_old_search_choices_are_removed(repos: Repos) -> None:
    await repos.insights.put(insight("talked-about", 40))
    await repos.conversations.put(Conversation("c-live", "talked-about", (Turn("q", "a"),),
                                               NOW - timedelta(days=2)))
    await repos.conversations.put(Conversation("c-idle", "x", (), NOW - timedelta(days=31)))
    await repos.conversations.put(Conversation("c-undated", "x", ()))
    result = SearchResult("s1", "Show", "Host", "https://example.org/feed.xml")
    await repos.search_choices.put(SearchChoice("telegram:1", result, NOW - timedelta(hours=2)))
    await repos.search_choices.put(SearchChoice("telegram:2", result, NOW - timedelta(hours=30)))
    report = await prune(repos, FakeClock(NOW), SETTINGS)
    assert (report.conversations, report.search_choices) == (2, 1)
    assert [c.id for c in await repos.conversations.all()] == ["c-live"]
    assert [c.subscriber_id for c in await repos.search_choices.all()] == ["telegram:1"]
    assert [i.id for i in await repos.insights.all()] == ["talked-about"]  # a live question


async def test_pruning_again_removes_nothing_more_and_forgets_pruned_sends(repos: Repos) -> None:
    history = SentHistory()
    for days_ago in (1, 40):
        e = entry("telegram:1", days_ago, f"i{days_ago}")
        await repos.ledger.put(e)
        history.record(e)
    await prune(repos, FakeClock(NOW), SETTINGS, history)
    assert history.sent_ids("telegram:1") == {"i1": day(1)}
    assert await prune(repos, FakeClock(NOW), SETTINGS) == PruneReport()


async def test_documents_prune_cannot_read_are_left_alone(repos: Repos) -> None:
    await repos.store.put("ledger", "weird", {"subscriber_id": "telegram:1"})
    await repos.store.put("insights", "broken", {"id": "broken", "created_at": "not a time"})
    await repos.store.put("conversations", "bad", {"id": "bad", "updated_at": 5})
    report = await prune(repos, FakeClock(NOW), SETTINGS)
    assert (report.ledger, report.insights) == (0, 0)
    assert await repos.store.get("ledger", "weird") is not None
    assert await repos.store.get("insights", "broken") is not None


async def test_prune_reads_a_big_ledger_in_batches_from_the_real_store(tmp_path: Path) -> None:
    store = TinyDBStore(tmp_path)
    await store.start()
    repos = Repos(store)
    await store.apply([repos.ledger.change(entry(f"telegram:{n}", n % 40, "i"))
                       for n in range(5000)])  # 2.5 batches of TinyDBStore.batches
    await repos.insights.put(insight("i", 50))
    report = await prune(repos, FakeClock(NOW), SETTINGS)
    assert report.ledger == sum(1 for n in range(5000) if n % 40 > 31)
    assert report.insights == 0  # still named by the entries that stay
    await store.close()
    store = TinyDBStore(tmp_path)
    await store.start()
    left = await Repos(store).ledger.all()
    assert len(left) == 5000 - report.ledger
    assert await Repos(store).ledger.get(ledger_key("telegram:39", day(39))) is None
    await store.close()
