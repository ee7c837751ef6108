"""The real PTB bot over the REAL CastfiveService and DeliveryService, against the fake Bot API.

Unlike the other Telegram tests (which use FakeCastfiveApi), these check that the adapter and
the core agree: subscriptions land in the store, the schedule sends through the adapter, the
ledger keeps Telegram's message ids, replies find their conversation, votes move the ranking.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_asyncio

from bot.telegram_bot import TelegramAdapter
from core.bootstrap import Services, build_services
from core.config import Settings
from core.delivery.service import TickReport
from core.models import Insight, Segment, Transcript
from core.store.blobs import save_transcript
from core.store.repos import LedgerEntry, MessageState, ledger_key
from tests.fakes.clock import FakeClock
from tests.fakes.memory_store import FakeStore
from tests.fakes.pipeline_fakes import FakeTranscriber
from tests.fakes.seed import seed
from tests.fakes.telegram_api import BOT_ID, TOKEN, FakeTelegramApi

ADA, BOB = 5101, 5102  # private chats: a chat's id is its user's id
TODAY, TOMORROW = "2026-11-28", "2026-11-29"
STAMP = re.compile(r"\[\d{2}:\d{2}\]")
pytestmark = pytest.mark.timeout(30)


class NoFetcher:
    """Nothing in these tests may reach the network."""

    async def get(self, url: str, *, headers: Any = None, max_bytes: int | None = None) -> Any:
        raise AssertionError("no network in Telegram service tests")

    async def download(self, url: str, dest: Any, *, max_bytes: int) -> Any:
        raise AssertionError("no network in Telegram service tests")


@dataclass
class World:
    """The fake Telegram server, the real core over a FakeStore, and the running bot."""

    fake: FakeTelegramApi
    services: Services
    clock: FakeClock
    insights: list[Insight]

    async def start(self, chat_id: int, user_id: int | None = None) -> dict[str, Any]:
        """Send /start in the chat; returns the bot's reply."""
        mark = self.fake.mark()
        self.fake.push_message(chat_id, "/start", user_id=user_id or chat_id)
        return (await self.fake.wait_for("sendMessage", lambda p: p["chat_id"] == chat_id,
                                         after=mark)).params

    async def tick_at(self, when: datetime) -> TickReport:
        """Move the clock and run one scheduled delivery round."""
        self.clock.set(when)
        return await self.services.delivery.tick()

    async def ledger(self, sub_id: str, day: str = TODAY) -> LedgerEntry:
        entry = await self.services.repos.ledger.get(ledger_key(sub_id, day))
        assert entry is not None, f"no digest recorded for {sub_id} on {day}"
        return entry

    def digest_sends(self, chat_id: int, after: int = 0) -> list[dict[str, Any]]:
        """The digest items sent to the chat (sendMessage with the Ask button), in order."""
        return [r.params for r in self.fake.requests[after:] if r.method == "sendMessage"
                and r.params["chat_id"] == chat_id and _insight_of(r.params)]

    def message_id_of(self, chat_id: int, text: str) -> int:
        """The id the fake gave the bot's latest message with this text."""
        ids = [mid for (chat, mid), msg in self.fake.messages.items()
               if chat == chat_id and msg["from"]["id"] == BOT_ID and msg.get("text") == text]
        assert ids, f"no bot message with that text in {chat_id}"
        return max(ids)


def _insight_of(params: dict[str, Any]) -> str:
    """The insight id behind a digest message's ❓ Ask button ('' for other messages)."""
    rows = (params.get("reply_markup") or {}).get("inline_keyboard") or [[{}]]
    data = rows[0][0].get("callback_data", "")
    return data[2:] if data.startswith("a:") else ""


def at(day: str, hhmm: str) -> datetime:
    return datetime.fromisoformat(f"{day}T{hhmm}:00+00:00").astimezone(UTC)


@pytest_asyncio.fixture
async def world(fake_telegram: FakeTelegramApi) -> AsyncIterator[World]:
    clock = FakeClock(at(TODAY, "07:00"))  # default digest time is 08:00 UTC
    services = build_services(Settings(), clock=clock, store=FakeStore(), fetcher=NoFetcher(),
                              transcriber=FakeTranscriber())
    insights = await seed(services.repos, feeds=3, per_feed=3)
    for episode_id in sorted({i.episode_id for i in insights}):
        segments = tuple(Segment(i.start, i.end, i.quote) for i in insights if i.episode_id == episode_id)
        await save_transcript(services.store, Transcript(episode_id, segments, source="test"))
    adapter = TelegramAdapter(services.api, TOKEN, base_url=fake_telegram.base_url, poll_timeout=1,
                              clock=clock)
    services.add_port(adapter)
    await adapter.start()
    try:
        yield World(fake_telegram, services, clock, insights)
    finally:
        await adapter.stop()


async def test_start_subscribes_the_chat_in_the_store_and_says_when_the_digest_comes(world: World) -> None:
    reply = await world.start(ADA)
    sub = await world.services.repos.subscribers.get(f"telegram:{ADA}")
    assert sub is not None and sub.active and sub.chat_id == str(ADA) and sub.title == "Ada"
    assert (sub.delivery_time, sub.timezone) == ("08:00", "UTC")
    assert reply["parse_mode"] == "HTML" and "Welcome to Castfive" in reply["text"]
    assert "Next one: Sat 28 Nov at 08:00." in reply["text"]


async def test_the_scheduled_digest_goes_out_as_html_with_buttons_and_the_ledger_keeps_the_ids(
        world: World) -> None:
    await world.start(ADA)
    assert (await world.tick_at(at(TODAY, "07:59"))).due == 0
    mark = world.fake.mark()
    report = await world.tick_at(at(TODAY, "08:00"))
    assert (report.due, report.messages_sent, report.digests_finished) == (1, 5, 1)
    sends = world.digest_sends(ADA, after=mark)
    assert len(sends) == 5
    assert all(p["parse_mode"] == "HTML" for p in sends)
    assert [len(p["reply_markup"]["inline_keyboard"][0]) for p in sends] == [3] * 5
    assert sends[0]["text"].startswith("<b>Your Castfive for Sat 28 Nov · 1/5</b>")
    entry = await world.ledger(f"telegram:{ADA}")
    assert entry.finished and [m.state for m in entry.messages] == [MessageState.SENT] * 5
    assert [m.insight_id for m in entry.messages] == [_insight_of(p) for p in sends]
    assert [m.message_ids for m in entry.messages] == [
        (str(world.message_id_of(ADA, p["text"])),) for p in sends]


async def test_a_reply_to_a_digest_item_is_answered_and_a_reply_to_the_answer_continues_it(
        world: World) -> None:
    await world.start(ADA)
    await world.tick_at(at(TODAY, "08:00"))
    entry = await world.ledger(f"telegram:{ADA}")
    first = next(m for m in entry.messages if m.insight_id == "i00")  # "Teams that deploy daily..."
    digest_message = int(first.message_ids[0])

    mark = world.fake.mark()
    question = world.fake.push_message(ADA, "Why does deploying daily lower the failure rate?",
                                       user_id=ADA, reply_to=digest_message)
    answer = (await world.fake.wait_for("sendMessage", after=mark)).params
    assert answer["reply_parameters"]["message_id"] == question["message_id"]
    assert answer["parse_mode"] == "HTML" and STAMP.search(answer["text"])
    assert "deploy daily" in answer["text"]

    mark = world.fake.mark()
    follow_up = world.fake.push_message(ADA, "And what makes each change small enough to review?",
                                        user_id=ADA, reply_to=world.message_id_of(ADA, answer["text"]))
    second = (await world.fake.wait_for("sendMessage", after=mark)).params
    assert second["reply_parameters"]["message_id"] == follow_up["message_id"]
    conversations = await world.services.repos.conversations.all()
    assert len(conversations) == 1
    assert conversations[0].id == f"telegram:{ADA}:{digest_message}"
    assert conversations[0].insight_id == "i00"
    assert [t.question for t in conversations[0].turns] == [
        "Why does deploying daily lower the failure rate?",
        "And what makes each change small enough to review?"]


async def test_thumbs_down_on_one_show_ranks_it_lower_in_the_next_digest(world: World) -> None:
    await world.start(ADA)
    await world.start(BOB)  # same digest, no votes: the control
    mark = world.fake.mark()
    await world.tick_at(at(TODAY, "08:00"))
    disliked = [p for p in world.digest_sends(ADA, after=mark) if _insight_of(p).startswith("i0")]
    assert disliked, "the first digest should carry Show 0"
    for params in disliked:
        message_id = world.message_id_of(ADA, params["text"])
        query = world.fake.push_callback(ADA, message_id, f"d:{_insight_of(params)}", user_id=ADA)
        toast = await world.fake.wait_for("answerCallbackQuery",
                                          lambda p, q=query: p["callback_query_id"] == q)
        assert "fewer like this" in toast.params["text"]
    ada = await world.services.repos.subscribers.get(f"telegram:{ADA}")
    assert ada.show_weights["feed0"] < 0

    mark = world.fake.mark()
    await world.tick_at(at(TOMORROW, "08:00"))
    voted = [_insight_of(p) for p in world.digest_sends(ADA, after=mark)]
    control = [_insight_of(p) for p in world.digest_sends(BOB, after=mark)]
    assert sorted(voted) == sorted(control) and voted != control
    assert voted[-1].startswith("i0"), f"Show 0 should come last after 👎, got {voted}"
    assert control.index(voted[-1]) < len(control) - 1


async def test_today_after_the_scheduled_digest_repeats_it_without_choosing_again(world: World) -> None:
    await world.start(ADA)
    await world.tick_at(at(TODAY, "08:00"))
    scheduled = [m.insight_id for m in (await world.ledger(f"telegram:{ADA}")).messages]
    world.clock.set(at(TODAY, "09:30"))
    mark = world.fake.mark()
    world.fake.push_message(ADA, "/today", user_id=ADA)
    await world.fake.wait_until(lambda: len(world.digest_sends(ADA, after=mark)) == 5)
    repeated = world.digest_sends(ADA, after=mark)
    assert [_insight_of(p) for p in repeated] == scheduled
    ref = await world.services.api.lookup_message(  # a reply to a /today copy is answered too
        f"telegram:{ADA}", str(world.message_id_of(ADA, repeated[0]["text"])))
    assert ref is not None and ref.insight_id == scheduled[0]
    entries = [e for e in await world.services.repos.ledger.all() if e.subscriber_id == f"telegram:{ADA}"]
    assert len(entries) == 1 and not entries[0].on_request
    mark = world.fake.mark()
    report = await world.tick_at(at(TODAY, "09:31"))
    assert report.due == 0 and not [r for r in world.fake.requests[mark:] if r.method == "sendMessage"]


async def test_the_schedule_does_not_send_again_after_today(world: World) -> None:
    await world.start(ADA)
    world.clock.set(at(TODAY, "07:30"))
    mark = world.fake.mark()
    world.fake.push_message(ADA, "/today", user_id=ADA)
    await world.fake.wait_until(lambda: len(world.digest_sends(ADA, after=mark)) == 5)
    asked = [_insight_of(p) for p in world.digest_sends(ADA, after=mark)]
    entry = await world.ledger(f"telegram:{ADA}")
    assert entry.on_request and entry.finished and [m.insight_id for m in entry.messages] == asked
    mark = world.fake.mark()
    report = await world.tick_at(at(TODAY, "08:00"))
    assert report.due == 0 and world.digest_sends(ADA, after=mark) == []


async def test_three_forbidden_sends_deactivate_the_subscriber(world: World) -> None:
    await world.start(ADA)
    world.fake.fail("sendMessage", 403, "Forbidden: bot was blocked by the user", times=3,
                    when=lambda p: p["chat_id"] == ADA)
    mark = world.fake.mark()
    report = await world.tick_at(at(TODAY, "08:00"))
    assert report.deactivated == [f"telegram:{ADA}"] and report.messages_failed == 3
    assert len([r for r in world.fake.requests[mark:] if r.method == "sendMessage"]) == 3
    sub = await world.services.repos.subscribers.get(f"telegram:{ADA}")
    assert not sub.active and sub.consecutive_gone == 3
    entry = await world.ledger(f"telegram:{ADA}")
    assert entry.finished and all(m.state == MessageState.FAILED for m in entry.messages)
    mark = world.fake.mark()
    assert (await world.tick_at(at(TOMORROW, "08:00"))).due == 0
    assert not [r for r in world.fake.requests[mark:] if r.method == "sendMessage"]


async def test_a_migrated_group_moves_the_subscriber_and_gets_the_rest_of_the_digest(
        world: World) -> None:
    old, new = -4001, -1004001
    world.fake.set_member(old, ADA, "creator")
    await world.start(old, user_id=ADA)
    world.fake.fail("sendMessage", 400, "Bad Request: group chat was upgraded to a supergroup chat",
                    parameters={"migrate_to_chat_id": new}, times=99, when=lambda p: p["chat_id"] == old)
    mark = world.fake.mark()
    report = await world.tick_at(at(TODAY, "08:00"))
    assert report.messages_sent == 5 and report.digests_finished == 1
    assert [r.params["chat_id"] for r in world.fake.requests[mark:] if r.method == "sendMessage"] == [
        old, *[new] * 5]
    assert await world.services.repos.subscribers.get(f"telegram:{old}") is None
    moved = await world.services.repos.subscribers.get(f"telegram:{new}")
    assert moved is not None and moved.active and moved.chat_id == str(new)
    entry = await world.ledger(f"telegram:{new}")
    assert [m.state for m in entry.messages] == [MessageState.SENT] * 5
    assert await world.services.repos.ledger.get(ledger_key(f"telegram:{old}", TODAY)) is None
