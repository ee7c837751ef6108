"""Guessing ids is not free: three misses an hour, then every question waits (issue 12, case 3)."""

from __future__ import annotations

import pytest

from core.errors import NotFoundError, RateLimitedError
from core.miss_limit import MISSES_PER_HOUR, MissLimiter
from tests.fakes.clock import FakeClock
from tests.test_access import world as world  # the fixture: public, private, catalogue feeds

ASKER = "telegram:2"  # follows nothing of the seeded feeds: the catalogue is its to read


def test_three_misses_in_an_hour_make_the_next_question_wait_until_the_first_is_an_hour_old() -> None:
    clock = FakeClock()
    misses = MissLimiter(clock)
    for _ in range(MISSES_PER_HOUR):
        assert misses.wait("ada") is None
        misses.record("ada")
        clock.advance(minutes=10)
    assert misses.wait("ada") == pytest.approx(30 * 60)  # the first miss was 30 minutes ago
    assert misses.wait("bob") is None  # per person
    clock.advance(minutes=30)
    assert misses.wait("ada") is None


async def test_after_three_unknown_or_foreign_ids_every_question_waits_hit_or_miss(world) -> None:
    services, by_feed = world
    api, clock = services.api, services.clock
    guesses = ["zzzzzzz", by_feed["priv"].id, "abcdefg"]  # unknown, not this chat's, unknown
    for guess in guesses:
        with pytest.raises(NotFoundError):
            await api.ask(guess, "anything?", user_key=ASKER, reader=ASKER)
    # a readable insight is refused too: the refusal never tells an existing id from a guess
    with pytest.raises(RateLimitedError) as refused:
        await api.ask(by_feed["cat"].id, "why?", user_key=ASKER, reader=ASKER)
    assert "you can ask again in 60 minutes" in str(refused.value)
    assert (refused.value.retry_at - clock.now()).total_seconds() == pytest.approx(3600)
    with pytest.raises(RateLimitedError):
        await api.ask("zzzzzzz", "anything?", user_key=ASKER, reader=ASKER)
    answer = await api.ask(by_feed["cat"].id, "why?", user_key="telegram:someone-else", reader=ASKER)
    assert answer.insight_id == by_feed["cat"].id  # another person is not held back
    clock.advance(hours=1)
    assert (await api.ask(by_feed["cat"].id, "why?", user_key=ASKER, reader=ASKER)).insight_id


async def test_questions_that_find_their_insight_spend_no_misses(world) -> None:
    services, by_feed = world
    for _ in range(MISSES_PER_HOUR + 2):
        await services.api.ask(by_feed["cat"].id, "why?", user_key=ASKER, reader=ASKER)
    with pytest.raises(NotFoundError):
        await services.api.ask("zzzzzzz", "anything?", user_key=ASKER, reader=ASKER)


async def test_shows_and_votes_of_unknown_ids_are_misses_too(world) -> None:
    services, by_feed = world
    api = services.api
    with pytest.raises(NotFoundError):
        await api.insight_item("zzzzzzz", reader=ASKER, user_key=ASKER)
    with pytest.raises(NotFoundError):
        await api.feedback(ASKER, by_feed["priv"].id, 1, user_key=ASKER)
    with pytest.raises(NotFoundError):
        await api.insight_item("abcdefg", reader=ASKER, user_key=ASKER)
    for attempt in (api.insight_item(by_feed["cat"].id, reader=ASKER, user_key=ASKER),
                    api.feedback(ASKER, by_feed["cat"].id, 1, user_key=ASKER),
                    api.ask(by_feed["cat"].id, "why?", user_key=ASKER, reader=ASKER)):
        with pytest.raises(RateLimitedError):
            await attempt
    assert (await api.get_subscriber(ASKER)).show_weights == {}  # the held vote changed nothing
