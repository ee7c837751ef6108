"""/time with a cadence and /topics, through the real PTB bot, the fake Bot API and the REAL service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from bot.telegram_bot import TelegramAdapter
from core.bootstrap import build_services
from core.config import Settings
from core.models import Cadence
from tests.fakes.clock import FakeClock
from tests.fakes.memory_store import FakeStore
from tests.fakes.pipeline_fakes import FakeTranscriber
from tests.fakes.seed import seed
from tests.fakes.telegram_api import TOKEN, FakeTelegramApi
from tests.test_telegram_real_service import ADA, BOB, TODAY, NoFetcher, World, _insight_of, at

GROUP, ADMIN, MEMBER = -1009876543210, 801, 802
pytestmark = pytest.mark.timeout(30)


@pytest_asyncio.fixture
async def world(fake_telegram: FakeTelegramApi) -> AsyncIterator[World]:
    """The real core (embeddings on, as configured by default) behind the running bot."""
    clock = FakeClock(at(TODAY, "07:00"))  # Saturday; the default digest time is 08:00 UTC
    services = build_services(Settings(), clock=clock, store=FakeStore(), fetcher=NoFetcher(),
                              transcriber=FakeTranscriber())
    insights = await seed(services.repos, feeds=3, per_feed=3)
    adapter = TelegramAdapter(services.api, TOKEN, base_url=fake_telegram.base_url, poll_timeout=1,
                              clock=clock)
    services.add_port(adapter)
    await adapter.start()
    try:
        yield World(fake_telegram, services, clock, insights)
    finally:
        await adapter.stop()


async def say(world: World, text: str, chat_id: int = ADA, user_id: int | None = None) -> str:
    """Send `text` in the chat; the bot's reply text."""
    mark = world.fake.mark()
    world.fake.push_message(chat_id, text, user_id=user_id or chat_id)
    reply = await world.fake.wait_for("sendMessage", lambda p: p["chat_id"] == chat_id, after=mark)
    return reply.params["text"]


async def stored(world: World, chat_id: int = ADA) -> Any:
    return await world.services.repos.subscribers.get(f"telegram:{chat_id}")


async def test_welcome_and_help_say_how_to_choose_a_cadence_and_topics(world: World) -> None:
    welcome = (await world.start(ADA))["text"]
    assert "/time 07:30 weekdays" in welcome and "/time weekly mon 08:00" in welcome
    assert "/topics ai, energy" in welcome
    help_text = await say(world, "/help")
    assert "/time 07:30 Europe/Berlin weekdays" in help_text and "/time weekly mon 08:00" in help_text
    assert "/topics ai, energy, startups" in help_text and "/topics clear" in help_text


async def test_time_sets_weekdays_or_weekly_and_says_when_the_next_one_comes(world: World) -> None:
    await world.start(ADA)  # Saturday 28 November, 07:00 UTC
    reply = await say(world, "/time 07:30 Europe/Berlin weekdays")
    sub = await stored(world)
    assert (sub.delivery_time, sub.timezone, sub.cadence) == ("07:30", "Europe/Berlin", Cadence.WEEKDAYS)
    assert "arrives on weekdays at <b>07:30</b> (Europe/Berlin)" in reply
    assert "Next one: Mon 30 Nov at 07:30." in reply
    reply = await say(world, "/time weekly wed 08:00")
    sub = await stored(world)
    assert (sub.cadence, sub.delivery_weekday, sub.timezone) == (Cadence.WEEKLY, 2, "Europe/Berlin")
    assert "every Wednesday at <b>08:00</b>" in reply and "Next one: Wed 2 Dec at 08:00." in reply
    assert "every Wednesday" in await say(world, "/time")  # asking changes nothing
    reply = await say(world, "/time daily")
    assert (await stored(world)).cadence == Cadence.DAILY and "daily at <b>08:00</b>" in reply


async def test_an_unreadable_time_is_explained_and_nothing_changes(world: World) -> None:
    await world.start(ADA)
    before = await stored(world)
    for typed, says in (("/time 07:30 fortnightly", "can't read 'fortnightly'"),
                        ("/time weekdays mon", "A day goes with a weekly digest"),
                        ("/time 07:30 Mars/Olympus", "time zone like Europe/Berlin")):
        reply = await say(world, typed)
        assert says in reply and (await stored(world)) == before


async def test_a_weekly_digest_comes_on_its_day_only(world: World) -> None:
    await world.start(ADA)
    await say(world, "/time weekly mon 08:00")
    assert (await world.tick_at(at(TODAY, "08:00"))).due == 0  # Saturday
    assert (await world.tick_at(at("2026-11-29", "08:00"))).due == 0  # Sunday
    mark = world.fake.mark()
    report = await world.tick_at(at("2026-11-30", "08:00"))
    assert (report.due, report.messages_sent) == (1, 5) and len(world.digest_sends(ADA, after=mark)) == 5


async def test_topics_are_set_shown_and_cleared_and_kept_with_their_embeddings(world: World) -> None:
    await world.start(ADA)
    assert "No topics yet" in await say(world, "/topics")
    reply = await say(world, "/topics ai, Energy, startups")
    assert "<b>ai</b>, <b>Energy</b>, <b>startups</b>" in reply
    sub = await stored(world)
    assert sub.topics == ("ai", "Energy", "startups")
    assert len(sub.topic_vectors) == 3 and sub.topic_model == "minilm-l6-int8"
    assert "<b>Energy</b>" in await say(world, "/topics")
    assert "No topics yet" in await say(world, "/topics clear")
    sub = await stored(world)
    assert (sub.topics, sub.topic_vectors, sub.topic_model) == ((), (), "")


async def test_bad_topics_are_refused_with_the_reason_and_keep_the_old_ones(world: World) -> None:
    await world.start(ADA)
    await say(world, "/topics energy")
    for typed, says in (("/topics <b>x</b>", "words and numbers"),
                        ("/topics " + ", ".join(f"t{n}" for n in range(12)), "At most 10 topics"),
                        ("/topics " + "y" * 50, "at most 40 characters")):
        assert says in await say(world, typed)
        assert (await stored(world)).topics == ("energy",)


async def test_in_a_group_only_admins_set_topics_but_everyone_may_read_them(world: World) -> None:
    fake: FakeTelegramApi = world.fake
    fake.chat(GROUP, "supergroup", "Pod Club")
    fake.set_member(GROUP, ADMIN, "administrator")
    fake.set_member(GROUP, MEMBER, "member")
    await world.start(GROUP, user_id=ADMIN)
    assert "<b>energy</b>" in await say(world, "/topics energy", GROUP, ADMIN)
    assert "admins" in await say(world, "/topics sports", GROUP, MEMBER)
    assert "admins" in await say(world, "/time weekly fri 09:00", GROUP, MEMBER)
    assert "<b>energy</b>" in await say(world, "/topics", GROUP, MEMBER)
    sub = await stored(world, GROUP)
    assert sub.topics == ("energy",) and sub.cadence == Cadence.DAILY


async def test_a_topic_reorders_the_scheduled_digest_against_a_chat_without_one(world: World) -> None:
    await world.start(ADA)
    await world.start(BOB)
    await say(world, "/topics startups")
    mark = world.fake.mark()
    await world.tick_at(at(TODAY, "08:00"))
    with_topic = [_insight_of(p) for p in world.digest_sends(ADA, after=mark)]
    plain = [_insight_of(p) for p in world.digest_sends(BOB, after=mark)]
    startups = {i.id for i in world.insights if "startups" in i.text}
    assert len(with_topic) == len(plain) == 5
    assert with_topic[0] in startups and plain[0] not in startups
