"""The service API both chat adapters share: subscriptions, feeds, today, feedback, questions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.access import OPERATOR
from core.bootstrap import build_services
from core.cadence import ScheduleChange
from core.config import DeliverySettings, FeedSettings, Settings
from core.errors import (
    LimitReachedError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ValidationError,
)
from core.models import Segment, Transcript
from core.ports import MessageRef
from core.store.blobs import save_transcript
from core.store.repos import ledger_key
from tests.fakes.chat_port import FakeChatPort
from tests.fakes.clock import FakeClock
from tests.fakes.memory_store import FakeStore
from tests.fakes.seed import seed


class NoTranscriber:
    name = "none"

    async def start(self) -> None:
        return None

    async def transcribe(self, audio_path, on_progress=None):
        raise AssertionError("no speech-to-text in service tests")


class NoFetcher:
    async def get(self, url, *, headers=None, max_bytes=None):
        raise AssertionError("no network in service tests")

    async def download(self, url, dest, *, max_bytes):
        raise AssertionError("no network in service tests")


def make_services(settings: Settings | None = None, clock: FakeClock | None = None):
    settings = settings or Settings()
    store = FakeStore()
    clock = clock or FakeClock(datetime(2026, 11, 28, 9, 0, tzinfo=UTC))
    port = FakeChatPort()
    services = build_services(settings, clock=clock, store=store, fetcher=NoFetcher(),
                              transcriber=NoTranscriber(), ports={"telegram": port})
    return services, port, clock


@pytest.fixture
async def seeded():
    services, port, clock = make_services()
    insights = await seed(services.repos)
    for episode_id in {i.episode_id for i in insights}:
        segments = tuple(
            Segment(start=i.start, end=i.end, text=i.quote) for i in insights if i.episode_id == episode_id
        )
        await save_transcript(services.store, Transcript(episode_id, segments, source="test"))
    return services, port, clock, insights


async def test_subscribe_is_idempotent_and_reactivates_a_stopped_chat(seeded):
    services, _, _, _ = seeded
    api = services.api
    first = await api.subscribe("telegram", "42", "My chat")
    await api.unsubscribe(first.id)
    assert not (await api.get_subscriber(first.id)).active
    again = await api.subscribe("telegram", "42")
    assert again.active and again.title == "My chat" and again.created_at == first.created_at


async def test_set_schedule_validates_time_and_zone(seeded):
    services, _, _, _ = seeded
    sub = await services.api.subscribe("telegram", "1")
    updated = await services.api.set_schedule(sub.id, ScheduleChange("7:05", "Asia/Tokyo"))
    assert (updated.delivery_time, updated.timezone) == ("07:05", "Asia/Tokyo")
    with pytest.raises(ValidationError, match="time"):
        await services.api.set_schedule(sub.id, ScheduleChange("25:99"))
    with pytest.raises(ValidationError, match="zone"):
        await services.api.set_schedule(sub.id, ScheduleChange("08:00", "../../etc/passwd"))


async def test_commands_for_an_unknown_chat_say_to_start_first(seeded):
    services, _, _, _ = seeded
    with pytest.raises(NotFoundError, match="/start"):
        await services.api.pause("telegram:404")


async def test_today_chooses_five_once_and_the_schedule_does_not_send_them_again(seeded):
    services, port, _, _ = seeded
    sub = await services.api.subscribe("telegram", "1", delivery_time="08:00")
    await services.repos.subscribers.put(
        sub.__class__(**{**sub.__dict__, "created_at": datetime(2026, 11, 1, tzinfo=UTC)})
    )
    digest = await services.api.today(sub.id)
    again = await services.api.today(sub.id)
    assert len(digest.items) == 5
    assert [i.insight.id for i in again.items] == [i.insight.id for i in digest.items]
    assert digest.items[0].moment_url.endswith(f"#t={int(digest.items[0].insight.start)}")
    report = await services.delivery.tick()
    assert port.sent == [] and report.due == 0


async def test_feedback_shifts_the_weights_of_that_show_and_kind(seeded):
    services, _, _, insights = seeded
    sub = await services.api.subscribe("telegram", "1")
    await services.api.feedback(sub.id, insights[0].id, -1)
    after = await services.api.get_subscriber(sub.id)
    assert after.show_weights[insights[0].feed_id] < 0
    assert after.kind_weights[str(insights[0].kind)] < 0
    with pytest.raises(NotFoundError):
        await services.api.feedback(sub.id, "nope", 1)


async def test_ask_answers_from_the_transcript_and_keeps_the_conversation(seeded):
    services, _, _, insights = seeded
    first = await services.api.ask(insights[0].id, "Why does deploying daily help?", user_key="u1",
                                   conversation_id="c1", reader=OPERATOR)
    assert first.citations, "an offline answer quotes the passages it found"
    await services.api.ask(insights[0].id, "And what about reviews?", user_key="u1",
                           conversation_id="c1", reader=OPERATOR)
    conversation = await services.repos.conversations.get("c1")
    assert [t.question for t in conversation.turns] == [
        "Why does deploying daily help?", "And what about reviews?"]


async def test_questions_are_validated_and_rate_limited_per_user():
    settings = Settings(delivery=DeliverySettings(question_limit_per_hour=2))
    services, _, _ = make_services(settings)
    insights = await seed(services.repos, feeds=1, per_feed=1)
    await save_transcript(services.store, Transcript(
        insights[0].episode_id, (Segment(0, 10, insights[0].quote),), source="test"))
    with pytest.raises(ValidationError):
        await services.api.ask(insights[0].id, "   ", user_key="u1", reader=OPERATOR)
    with pytest.raises(ValidationError, match="under"):
        await services.api.ask(insights[0].id, "why " * 200, user_key="u1", reader=OPERATOR)
    with pytest.raises(NotFoundError):  # an unknown id spends the allowance like a question
        await services.api.ask("zzzzzzz", "why?", user_key="u1", reader=OPERATOR)
    await services.api.ask(insights[0].id, "why?", user_key="u1", reader=OPERATOR)
    with pytest.raises(RateLimitedError, match="ask again in") as info:
        await services.api.ask(insights[0].id, "when?", user_key="u1", reader=OPERATOR)
    assert info.value.retry_at > services.clock.now()
    # other users are unaffected
    await services.api.ask(insights[0].id, "when?", user_key="u2", reader=OPERATOR)


async def test_remembered_messages_route_replies_to_their_conversation(seeded):
    services, _, _, _ = seeded
    await services.api.remember_message("telegram:1", "77", MessageRef("i00", "telegram:1:77"))
    assert await services.api.lookup_message("telegram:1", "77") == MessageRef("i00", "telegram:1:77")
    assert await services.api.lookup_message("telegram:1", "78") is None


async def test_adding_feeds_respects_the_operator_switch_and_the_cap():
    services, _, _ = make_services(Settings(feeds=FeedSettings(users_may_add_feeds=False)))
    sub = await services.api.subscribe("telegram", "1")
    with pytest.raises(PermissionDeniedError):
        await services.api.add_feed(sub.id, "https://example.org/feed.xml")
    services, _, _ = make_services(Settings(feeds=FeedSettings(max_feeds_per_subscriber=3)))
    await seed(services.repos, feeds=3, per_feed=1)
    sub = await services.api.subscribe("telegram", "1")
    with pytest.raises(LimitReachedError, match="remove one"):
        await services.api.add_feed(sub.id, "https://example.org/another.xml")


async def test_a_file_url_typed_in_chat_is_refused(seeded):
    services, _, _, _ = seeded
    sub = await services.api.subscribe("telegram", "1")
    with pytest.raises(Exception) as info:
        await services.api.add_feed(sub.id, "file:///etc/passwd")
    assert "http" in str(info.value).lower()


async def test_an_empty_today_says_whether_the_subscriber_follows_any_show() -> None:
    services, _, _ = make_services()
    sub = await services.api.subscribe("telegram", "1")
    assert (await services.api.today(sub.id)).follows_nothing  # no catalogue, nothing added
    await seed(services.repos, per_feed=0)  # operator shows with nothing new in them yet
    digest = await services.api.today(sub.id)
    assert digest.items == () and not digest.follows_nothing


async def test_migrate_keeps_today_s_ledger_under_the_new_id(seeded):
    services, _, _, _ = seeded
    sub = await services.api.subscribe("telegram", "-1")
    await services.api.today(sub.id)
    moved = await services.api.migrate(sub.id, "-1001")
    assert moved.id == "telegram:-1001"
    assert await services.repos.ledger.get(ledger_key("telegram:-1001", "2026-11-28")) is not None
    assert await services.api.get_subscriber("telegram:-1") is None


async def test_a_private_feed_never_puts_its_tokened_links_in_a_digest(seeded):
    services, _, _, insights = seeded
    feed = await services.repos.feeds.get(insights[0].feed_id)
    episode = await services.repos.episodes.get(insights[0].episode_id)
    await services.repos.feeds.put(feed.__class__(**{**feed.__dict__, "private": True}))
    await services.repos.episodes.put(episode.__class__(**{
        **episode.__dict__, "audio_url": "https://cdn.example.org/a.mp3?token=s3cret",
        "page_url": "https://example.org/ep?auth=s3cret"}))
    item = await services.api.insight_item(insights[0].id, reader=OPERATOR)
    assert item.moment_url is None and item.page_url is None
    other = await services.api.insight_item(insights[-1].id, reader=OPERATOR)
    assert other.moment_url and "#t=" in other.moment_url
