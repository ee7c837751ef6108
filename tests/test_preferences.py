"""Cadence and topics in the service: checked, written under the subscriber's lock, never lost."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from core.bootstrap import build_services
from core.cadence import ScheduleChange
from core.config import InsightSettings, Settings
from core.errors import NotFoundError, ValidationError
from core.models import Cadence
from core.preferences import Preferences
from core.store.repos import Repos
from core.subscriber_locks import KeyedLocks
from tests.fakes.clock import FakeClock
from tests.fakes.memory_store import FakeStore
from tests.fakes.seed import seed

NOW = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)


class BrokenEmbedder:
    """An Embedder whose model cannot run."""

    name = "broken"

    def embed(self, texts: Sequence[str]) -> list[bytes]:
        raise RuntimeError("onnxruntime exploded")


class SlowEmbedder:
    """An Embedder that takes a while, so other writes happen while it works."""

    name = "slow"

    def embed(self, texts: Sequence[str]) -> list[bytes]:
        import time

        time.sleep(0.2)
        return [bytes([1] * 4) for _ in texts]


@pytest.fixture
def services():
    return build_services(Settings(insights=InsightSettings(embeddings=False)), clock=FakeClock(NOW),
                          store=FakeStore())


async def test_a_schedule_change_is_checked_and_keeps_what_it_does_not_name(services) -> None:
    api = services.api
    await api.subscribe("telegram", "1")
    sub = await api.set_schedule("telegram:1", ScheduleChange(hhmm="7:05", timezone="europe/berlin",
                                                              cadence=Cadence.WEEKLY, weekday=2))
    assert (sub.delivery_time, sub.timezone, sub.cadence, sub.delivery_weekday) == (
        "07:05", "Europe/Berlin", Cadence.WEEKLY, 2)
    with pytest.raises(ValidationError, match="time zone"):
        await api.set_schedule("telegram:1", ScheduleChange(timezone="posixrules"))
    with pytest.raises(ValidationError, match="between 00:00 and 23:59"):
        await api.set_schedule("telegram:1", ScheduleChange(hhmm="24:00", cadence=Cadence.DAILY))
    assert await api.get_subscriber("telegram:1") == sub
    later = await api.next_delivery("telegram:1")
    assert (later.isoformat(), str(later.tzinfo)) == ("2026-12-02T07:05:00+01:00", "Europe/Berlin")


async def test_a_stranger_can_neither_set_topics_nor_a_schedule(services) -> None:
    with pytest.raises(NotFoundError):
        await services.api.set_topics("telegram:404", "ai")
    with pytest.raises(NotFoundError):
        await services.api.set_schedule("telegram:404", ScheduleChange(cadence=Cadence.WEEKDAYS))
    assert await services.repos.subscribers.all() == []


async def test_concurrent_topic_time_and_vote_writes_all_land(services) -> None:
    api = services.api
    insights = await seed(services.repos)
    await api.subscribe("telegram", "1")
    api._preferences.embedder = SlowEmbedder()  # the topics' embedding outlasts the other writes
    await asyncio.gather(
        api.set_topics("telegram:1", "energy, housing"),
        api.set_schedule("telegram:1", ScheduleChange(cadence=Cadence.WEEKDAYS)),
        api.feedback("telegram:1", insights[0].id, 1),
        api.pause("telegram:1"),
    )
    sub = await api.get_subscriber("telegram:1")
    assert sub.topics == ("energy", "housing") and sub.topic_model == "slow"
    assert sub.cadence == Cadence.WEEKDAYS and sub.paused and sub.show_weights == {"feed0": 0.1}


async def test_topics_are_kept_as_words_when_the_embedding_model_fails(caplog) -> None:
    repos = Repos(FakeStore())
    await seed(repos)
    services = build_services(Settings(insights=InsightSettings(embeddings=False)), clock=FakeClock(NOW),
                              store=repos.store)
    await services.api.subscribe("telegram", "2")
    preferences = Preferences(services.repos, KeyedLocks(), BrokenEmbedder())
    with caplog.at_level(logging.ERROR):
        sub = await preferences.set_topics("telegram:2", "ai, energy")
    assert (sub.topics, sub.topic_vectors, sub.topic_model) == (("ai", "energy"), (), "")
    assert "topic embeddings failed" in caplog.text
