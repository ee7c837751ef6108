"""Nobody reads what is not theirs, through the real PTB bot and the fake Bot API.

Who (follower, non-follower, delivered-to chat, a chat of the same id on Discord, an unsubscribed
chat) by what (/ask, a forged ❓ Ask button `a:<id>`, a forged 👍 `u:<id>`, carrying on a
conversation, replying to a message) for a public, a private (tokened) and a catalogue feed: a
refusal is word for word what an unknown id gets, and changes nothing.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio

from bot.telegram_bot import TelegramAdapter
from core.bootstrap import Services, build_services
from core.config import Settings
from core.ports import MessageRef
from tests.access_matrix import (
    QUESTION,
    UNKNOWN_ID,
    cases,
    same_refusal,
    seed_access,
    seed_conversation,
)
from tests.fakes.clock import FakeClock
from tests.fakes.memory_store import FakeStore
from tests.fakes.pipeline_fakes import FakeTranscriber
from tests.fakes.telegram_api import BOT_ID, TOKEN, FakeTelegramApi
from tests.test_telegram_real_service import NoFetcher

pytestmark = pytest.mark.timeout(30)
CHATS = {"follower": 6001, "non-follower": -6002, "delivered-to": 6003, "other-platform": 6004,
         "unsubscribed": 6005}
TITLES = {"public": "Public Show", "private": "Private Show", "catalogue": "Catalogue Show"}


@dataclass
class World:
    """The fake Bot API, the real core with the matrix seeded, and the running bot."""

    fake: FakeTelegramApi
    services: Services
    insights: dict[str, str]  # feed name -> insight id
    users: itertools.count  # a fresh sender per action: the miss limit is per person

    async def act(self, action: str, chat: int, insight_id: str) -> str:
        """Do `action` on `insight_id` in `chat`; returns what the bot said."""
        fake, user = self.fake, next(self.users)
        mark = fake.mark()
        if action in ("show", "vote"):
            host = fake.make_message(chat, "Your Castfive", user_id=BOT_ID)
            query = fake.push_callback(chat, host["message_id"],
                                       f"{'a' if action == 'show' else 'u'}:{insight_id}", user_id=user)
            ack = await fake.wait_for("answerCallbackQuery", lambda p: p["callback_query_id"] == query,
                                      after=mark)
            prompts = [r for r in fake.requests[mark:] if r.method == "sendMessage"]
            return prompts[0].params["text"] if prompts else ack.params.get("text", "")
        if action == "ask":
            fake.push_message(chat, f"/ask {insight_id} {QUESTION}", user_id=user)
        else:  # continue a conversation, or reply to a message the bot posted about the insight
            host = fake.make_message(chat, "It was this.", user_id=BOT_ID)
            conversation = f"telegram:{chat}:{host['message_id']}"
            if action == "continue":
                await seed_conversation(self.services, conversation, insight_id)
            await self.services.api.remember_message(f"telegram:{chat}", str(host["message_id"]),
                                                     MessageRef(insight_id, conversation))
            fake.push_message(chat, QUESTION, user_id=user, reply_to=host["message_id"])
        return (await fake.wait_for("sendMessage", lambda p: p["chat_id"] == chat, after=mark)).params["text"]

    async def turns(self, insight_id: str) -> int:
        return sum(len(c.turns) for c in await self.services.repos.conversations.all()
                   if c.insight_id == insight_id)


@pytest_asyncio.fixture
async def world(fake_telegram: FakeTelegramApi) -> AsyncIterator[World]:
    services = build_services(Settings(), clock=FakeClock(), store=FakeStore(), fetcher=NoFetcher(),
                              transcriber=FakeTranscriber())
    insights = await seed_access(services, "telegram", {k: str(v) for k, v in CHATS.items()}, "discord")
    adapter = TelegramAdapter(services.api, TOKEN, base_url=fake_telegram.base_url, poll_timeout=1,
                              clock=services.clock)
    await adapter.start()
    try:
        yield World(fake_telegram, services, insights, itertools.count(9001))
    finally:
        await adapter.stop()


@pytest.mark.parametrize(("reader", "feed", "action", "allowed"), cases())
async def test_each_reader_sees_only_what_the_access_rule_allows(
        world: World, reader: str, feed: str, action: str, allowed: bool) -> None:
    chat, insight_id = CHATS[reader], world.insights[feed]
    sub_id = f"telegram:{chat}"
    weights_before = await world.services.repos.subscribers.get(sub_id)
    seeded = 1 if action == "continue" else 0  # the earlier turn the conversation starts with
    turns_before = await world.turns(insight_id) + seeded
    said = await world.act(action, chat, insight_id)
    unknown = await world.act(action, chat, UNKNOWN_ID)
    subscriber = await world.services.repos.subscribers.get(sub_id)
    if not allowed:
        assert same_refusal(said, insight_id, unknown), said
        assert TITLES[feed] not in said
        assert subscriber == weights_before  # a refused vote moves nothing
        assert await world.turns(insight_id) == turns_before
    elif action in ("ask", "continue", "reply"):
        assert TITLES[feed] in said and not same_refusal(said, insight_id, unknown)
        assert await world.turns(insight_id) == turns_before + 1
    elif action == "show":
        assert "What would you like to know about" in said or "what would you like to know" in said
    elif subscriber is not None:  # a vote in a subscribed chat counts
        assert "More like this" in said and subscriber.show_weights
    else:  # an unsubscribed chat has nothing to vote for: the same answer for every id
        assert said == unknown


async def test_a_forged_ask_button_in_a_channel_names_no_title(world: World) -> None:
    fake, insight_id = world.fake, world.insights["private"]
    host = fake.make_message(-1006006, "Your Castfive", user_id=None, chat_type="channel")
    query = fake.push_callback(-1006006, host["message_id"], f"a:{insight_id}")
    ack = await fake.wait_for("answerCallbackQuery", lambda p: p["callback_query_id"] == query)
    assert "Private Show" not in ack.params["text"] and "Battery" not in ack.params["text"]


async def test_after_three_misses_the_next_question_gets_the_words_of_any_limit_hit(world: World) -> None:
    fake, chat, asker = world.fake, CHATS["non-follower"], 8001
    for guess in (UNKNOWN_ID, world.insights["private"], "abcdefg"):  # unknown, not theirs, unknown
        mark = fake.mark()
        fake.push_message(chat, f"/ask {guess} {QUESTION}", user_id=asker)
        refused = await fake.wait_for("sendMessage", lambda p: p["chat_id"] == chat, after=mark)
        assert refused.params["text"].startswith("No insight with id")
    mark = fake.mark()
    fake.push_message(chat, f"/ask {world.insights['catalogue']} {QUESTION}", user_id=asker)
    held = await fake.wait_for("sendMessage", lambda p: p["chat_id"] == chat, after=mark)
    # word for word what the hourly question limit says (bot/telegram_chat.error_text)
    assert held.params["text"] == "You have asked a lot of questions lately. You can ask again in 60 minutes."


async def test_forged_ask_buttons_spend_the_miss_allowance_too(world: World) -> None:
    fake, chat, presser = world.fake, CHATS["non-follower"], 8002
    host = fake.make_message(chat, "Your Castfive", user_id=BOT_ID)
    alerts = []
    for guess in (UNKNOWN_ID, world.insights["private"], "abcdefg", world.insights["catalogue"]):
        mark = fake.mark()
        query = fake.push_callback(chat, host["message_id"], f"a:{guess}", user_id=presser)
        ack = await fake.wait_for("answerCallbackQuery", lambda p, q=query: p["callback_query_id"] == q,
                                  after=mark)
        alerts.append(ack.params.get("text", ""))
    assert all(a.startswith("No insight with id") for a in alerts[:3])
    assert alerts[3] == "You have asked a lot of questions lately. You can ask again in 60 minutes."
