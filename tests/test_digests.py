"""Choosing digests from a catalog: the fast path picks exactly what choose_digest picks."""

from __future__ import annotations

import asyncio
import gc
import random
import threading
import time
from datetime import UTC, date, datetime, timedelta

import pytest

from core import digests
from core.config import InsightSettings, Settings
from core.digests import Catalog, DigestBuilder, SentHistory
from core.models import Episode, Feed, Insight, InsightKind, Subscriber
from core.ranking import choose_digest
from core.store.repos import LedgerEntry, LedgerMessage, Repos
from tests.fakes.memory_store import FakeStore

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
TODAY = date(2026, 11, 28)
# A small vocabulary, so that insights often share words and many are near-duplicates.
WORDS = ["battery", "solar", "grid", "storage", "cost", "price", "rate", "inflation", "startup",
         "funding", "market", "model", "data", "training", "chip", "memory", "sleep", "heart",
         "risk", "study", "trial", "drug", "city", "housing", "permit", "rent", "transit",
         "carbon", "tax", "growth", "35", "14", "2023", "ninety"]
BLANK = ["It is what it is.", "That was then and this is now.", "it is what it is"]


def make_world(rng: random.Random, feeds: int = 8, insights: int = 160) -> Catalog:
    feed_map = {f"f{n}": Feed(id=f"f{n}", url=f"https://example.org/{n}.xml", title=f"Show {n}",
                              origin="operator" if n % 4 else "user") for n in range(feeds)}
    episodes, items = {}, {}
    for n in range(insights):
        feed = f"f{rng.randrange(feeds)}"
        episode = f"{feed}-e{rng.randrange(3)}"
        episodes[episode] = Episode(id=episode, feed_id=feed, identity=episode, title=episode,
                                    published_at=None, duration_s=None, audio_url=None,
                                    audio_type=None, page_url=None, description="")
        text = (rng.choice(BLANK) if rng.random() < 0.05
                else " ".join(rng.sample(WORDS, rng.randint(3, 7))) + ".")
        start = float(rng.randrange(0, 600, 15))
        created = None if rng.random() < 0.05 else NOW - timedelta(hours=rng.uniform(0, 240))
        score = rng.choice([round(rng.uniform(0.2, 1.0), 2), 0.5, 0.7])  # ties happen
        items[f"i{n:03d}"] = Insight(
            id=f"i{n:03d}", episode_id=episode, feed_id=feed, text=text, quote=text,
            start=start, end=start + rng.choice([10.0, 20.0, 40.0]),
            kind=rng.choice(list(InsightKind)), score=score, created_at=created)
    by_feed: dict[str, list[Insight]] = {}
    for item in items.values():
        by_feed.setdefault(item.feed_id, []).append(item)
    return Catalog(feeds=feed_map, episodes=episodes, insights=items, by_feed=by_feed)


def make_subscriber(rng: random.Random, n: int, feeds: list[str]) -> Subscriber:
    follows = None if rng.random() < 0.5 else tuple(rng.sample(feeds, rng.randint(1, len(feeds))))
    shows = {f: rng.choice([-0.5, -0.2, 0.1, 0.3]) for f in rng.sample(feeds, 2)} if n % 3 == 0 else {}
    kinds = ({k.value: rng.choice([-0.3, 0.2, 0.5]) for k in rng.sample(list(InsightKind), 2)}
             if n % 4 == 0 else {})
    return Subscriber(id=f"telegram:{n}", platform="telegram", chat_id=str(n), feed_ids=follows,
                      show_weights=shows, kind_weights=kinds)


def make_history(rng: random.Random, catalog: Catalog, subscribers: list[Subscriber]) -> SentHistory:
    history = SentHistory()
    ids = list(catalog.insights) + ["gone1", "gone2"]  # some sent insights were pruned
    for s in subscribers:
        for days_ago in range(1, rng.randint(1, 40)):
            day = (TODAY - timedelta(days=days_ago)).isoformat()
            messages = tuple(LedgerMessage(i) for i in rng.sample(ids, 2))
            history.record(LedgerEntry(s.id, day, messages, chosen_at=NOW))
    return history


def reference_choose(builder: DigestBuilder, catalog: Catalog, subscriber: Subscriber,
                     history: SentHistory, now: datetime, local_day: date) -> list[Insight]:
    """What DigestBuilder.choose did before the fast path: rank every candidate."""
    cfg = builder.settings.insights
    since = now - timedelta(days=cfg.lookback_days)
    sent = history.sent_ids(subscriber.id)
    candidates = [i for f in catalog.feeds_of(subscriber) for i in catalog.by_feed.get(f, ())
                  if i.id not in sent and (i.created_at is None or i.created_at >= since)]
    oldest = (local_day - timedelta(days=cfg.dedupe_days)).isoformat()
    recent = [catalog.insights[i] for i, d in sent.items() if d >= oldest and i in catalog.insights]
    return choose_digest(candidates, subscriber=subscriber, sent_recent=recent,
                         size=cfg.digest_size, max_per_episode=cfg.max_per_episode_in_digest,
                         min_score=cfg.min_score)


@pytest.mark.parametrize("seed", range(6))
def test_the_fast_choice_is_exactly_what_choose_digest_picks(seed: int) -> None:
    rng = random.Random(seed)
    catalog = make_world(rng)
    settings = Settings(insights=InsightSettings(lookback_days=rng.choice([3, 7]),
                                                 dedupe_days=rng.choice([5, 30]),
                                                 digest_size=rng.choice([3, 5, 8])))
    builder = DigestBuilder(Repos(FakeStore()), settings)
    subscribers = [make_subscriber(rng, n, list(catalog.feeds)) for n in range(120)]
    history = make_history(rng, catalog, subscribers)
    compared = 0
    for n, subscriber in enumerate(subscribers):
        now = NOW + timedelta(minutes=n)  # the round goes on: `since` moves with it
        fast = builder.choose(catalog, subscriber, history, now, TODAY)
        assert [i.id for i in fast] == [i.id for i in reference_choose(
            builder, catalog, subscriber, history, now, TODAY)], subscriber
        compared += bool(fast)
    assert compared > 60  # most subscribers got something: the comparison is not vacuous
    later = NOW + timedelta(days=3)  # a catalog kept for days re-sorts, still the same picks
    for subscriber in subscribers[:20]:
        assert builder.choose(catalog, subscriber, history, later, TODAY) == reference_choose(
            builder, catalog, subscriber, history, later, TODAY)


def test_near_duplicates_are_found_in_the_whole_catalog_once() -> None:
    catalog = make_world(random.Random(1))
    ranking = catalog.ranking(0.35)
    marks = ranking.fingerprints
    for insight_id in list(catalog.insights)[:40]:
        expected = {o for o in catalog.insights
                    if o != insight_id and marks[insight_id].repeats(marks[o], 0.5)}
        assert ranking.duplicates(insight_id) == expected
        assert ranking.duplicates(insight_id) is ranking.duplicates(insight_id)


def test_sent_history_loads_ledger_documents_and_skips_malformed_ones() -> None:
    history = SentHistory()
    good = {"subscriber_id": "telegram:1", "local_date": "2026-11-27",
            "messages": [{"insight_id": "a"}, {"insight_id": "b"}], "chosen_at": NOW.isoformat()}
    bad = [{"subscriber_id": "telegram:1"}, {"subscriber_id": 5, "local_date": "x", "messages": []},
           {"subscriber_id": "telegram:1", "local_date": "2026-11-27", "messages": [{"id": "c"}]},
           {"subscriber_id": "telegram:1", "local_date": "2026-11-27", "messages": None}, "text"]
    assert history.record_doc(good)
    assert not any(history.record_doc(doc) for doc in bad)
    assert history.sent_ids("telegram:1") == {"a": "2026-11-27", "b": "2026-11-27"}


def test_forgetting_old_sends_keeps_recent_ones() -> None:
    history = SentHistory()
    for day, insight in (("2026-10-01", "old"), ("2026-11-27", "new")):
        history.record(LedgerEntry("telegram:1", day, (LedgerMessage(insight),), chosen_at=NOW))
    history.record(LedgerEntry("telegram:2", "2026-10-02", (LedgerMessage("x"),), chosen_at=NOW))
    assert history.forget_before("2026-10-29") == 2
    assert history.by_subscriber == {"telegram:1": {"new": "2026-11-27"}}


async def test_catalog_history_and_subscribers_are_converted_off_the_event_loop(monkeypatch) -> None:
    store = FakeStore()
    repos = Repos(store)
    catalog = make_world(random.Random(2), insights=20)
    for item in catalog.insights.values():
        await repos.insights.put(item)
    await repos.subscribers.put(Subscriber(id="telegram:1", platform="telegram", chat_id="1"))
    await repos.ledger.put(LedgerEntry("telegram:1", "2026-11-27", (LedgerMessage("i001"),), NOW))
    threads: set[str] = set()
    loop_thread = threading.current_thread().name

    def spy(real):
        def wrapper(*args, **kwargs):
            threads.add(threading.current_thread().name)
            return real(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(digests, "_build_catalog", spy(digests._build_catalog))
    monkeypatch.setattr(digests, "from_doc", spy(digests.from_doc))
    monkeypatch.setattr(SentHistory, "record_doc", spy(SentHistory.record_doc))
    builder = DigestBuilder(repos, Settings())
    loaded = await builder.load_catalog()
    history = await builder.load_history()
    subscribers = await builder.load_subscribers()
    assert len(loaded.insights) == 20 and history.sent_ids("telegram:1") == {"i001": "2026-11-27"}
    assert [s.id for s in subscribers] == ["telegram:1"]
    assert threads and loop_thread not in threads
    assert loaded._rankings  # the ranking indexes were built in the thread too


async def test_choosing_for_many_subscribers_keeps_each_step_short() -> None:
    rng = random.Random(3)
    catalog = make_world(rng, feeds=40, insights=3000)
    builder = DigestBuilder(Repos(FakeStore()), Settings())
    subscribers = [make_subscriber(rng, n, list(catalog.feeds)) for n in range(300)]
    history = make_history(rng, catalog, subscribers)
    await asyncio.to_thread(catalog.ranking, builder.settings.insights.min_score)
    slowest = 0.0
    gc.disable()  # a collection of the test run's whole heap is not this choice's cost
    try:
        for subscriber in subscribers:
            started = time.thread_time()  # CPU time: what this choice costs, however busy the box
            assert builder.choose(catalog, subscriber, history, NOW, TODAY) is not None
            slowest = max(slowest, time.thread_time() - started)
    finally:
        gc.enable()
    assert slowest < 0.05, f"one choice held the event loop for {slowest * 1000:.0f} ms of CPU"
