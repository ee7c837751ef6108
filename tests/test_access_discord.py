"""Nobody reads what is not theirs, through the real discord.py client and the fake Discord.

Who (a channel that follows, one that does not, the DM the insights were delivered to, a channel
whose id is a fully served Telegram chat's, a channel that never subscribed) by what
(`/castfive ask`, a forged Ask button, a forged 👍, carrying on a thread or DM conversation,
replying to a message) for a public, a private (tokened) and a catalogue feed: a refusal is word
for word what an unknown id gets, and changes nothing.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio

from core.ports import MessageRef
from tests.access_matrix import (
    QUESTION,
    UNKNOWN_ID,
    cases,
    same_refusal,
    seed_access,
    seed_conversation,
)
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.discord_payloads import CHANNEL_ID, DM_CHANNEL_ID, OTHER_CHANNEL_ID, thread_of
from tests.fakes.discord_routes import make_message
from tests.fakes.discord_world import World as DiscordWorld
from tests.fakes.discord_world import make_world

pytestmark = pytest.mark.timeout(30)
CHATS = {"follower": CHANNEL_ID, "non-follower": OTHER_CHANNEL_ID, "delivered-to": DM_CHANNEL_ID,
         "other-platform": CHANNEL_ID + 10, "unsubscribed": CHANNEL_ID + 11}
TITLES = {"public": "Public Show", "private": "Private Show", "catalogue": "Catalogue Show"}
MODAL = "<the Ask modal opened>"


@dataclass
class World:
    """The fake Discord, the real core with the matrix seeded, and the running client."""

    inner: DiscordWorld
    insights: dict[str, str]  # feed name -> insight id
    users: itertools.count  # a fresh member per action: the miss limit is per person

    @property
    def fake(self) -> FakeDiscord:
        return self.inner.fake

    async def act(self, action: str, chat: int, insight_id: str) -> str:
        """Do `action` on `insight_id` in `chat`; returns what the bot said."""
        fake, user, dm = self.fake, next(self.users), chat == DM_CHANNEL_ID
        if action == "ask":
            ix = await fake.slash("castfive", "ask", options={"id": insight_id, "question": QUESTION},
                                  user_id=user, channel_id=chat, dm=dm)
            return str((await fake.reply_to(ix))[0]["content"])
        if action in ("show", "vote"):
            # discord.py (like Discord) only takes a click on a button the message carries: the
            # forged id is on a message of ours in this chat, as a stale or tampered post would be
            forged = f"castfive:{'ask' if action == 'show' else 'up'}:{insight_id}"
            host = self._bot_message(chat, forged)
            ix = await fake.click(host, forged, user_id=user)
            first = await fake.callback(ix)
            return MODAL if first["type"] == 9 else str((await fake.reply_to(ix))[0]["content"])
        sub_id = f"discord:{chat}"
        if action == "continue" and not dm:  # a question in the thread opened on the insight
            where = fake.snowflake()
            fake.threads[where] = thread_of(where, str(chat), "💬 earlier")
            await fake.dispatch("THREAD_CREATE", {**fake.threads[where], "newly_created": True})
            conversation, reply_to = f"discord-thread:{where}", None
        else:  # a reply to the insight's message, or to an answer in a DM
            host = self._bot_message(chat)
            where, reply_to = host["id"], host
            conversation = f"discord-dm:{where}" if action == "continue" else f"{sub_id}:{where}"
        if action == "continue":
            await seed_conversation(self.inner.services, conversation, insight_id)
        await self.inner.api.remember_message(sub_id, where, MessageRef(insight_id, conversation))
        posted_in = where if reply_to is None else str(chat)
        before = len(fake.channel_messages(posted_in))
        await fake.post_message(posted_in, QUESTION, author_id=user, reply_to=reply_to)
        said = await fake.wait_until(lambda: fake.channel_messages(posted_in)[before:], what="an answer")
        return str(said[0]["content"])

    def _bot_message(self, chat: int, custom_id: str = "") -> dict[str, Any]:
        buttons = [{"type": 1, "components": [{"type": 2, "style": 2, "label": "Ask",
                                               "custom_id": custom_id}]}] if custom_id else []
        message = make_message(self.fake, str(chat), {"content": "Your Castfive",
                                                      "components": buttons}, {})
        self.fake.messages[message["id"]] = message
        return message

    async def turns(self, insight_id: str) -> int:
        return sum(len(c.turns) for c in await self.inner.services.repos.conversations.all()
                   if c.insight_id == insight_id)


@pytest_asyncio.fixture
async def world(fake_discord: FakeDiscord) -> AsyncIterator[World]:
    inner = await make_world(fake_discord)
    try:
        insights = await seed_access(inner.services, "discord", {k: str(v) for k, v in CHATS.items()},
                                     "telegram")
        yield World(inner, insights, itertools.count(1_100_000_000_000_009_001))
    finally:
        await inner.adapter.stop()


@pytest.mark.parametrize(("reader", "feed", "action", "allowed"), cases())
async def test_each_reader_sees_only_what_the_access_rule_allows(
        world: World, reader: str, feed: str, action: str, allowed: bool) -> None:
    chat, insight_id = CHATS[reader], world.insights[feed]
    repos = world.inner.services.repos
    sub_id = f"discord:{chat}"
    before = await repos.subscribers.get(sub_id)
    seeded = 1 if action == "continue" else 0  # the earlier turn the conversation starts with
    turns_before = await world.turns(insight_id) + seeded
    said = await world.act(action, chat, insight_id)
    unknown = await world.act(action, chat, UNKNOWN_ID)
    subscriber = await repos.subscribers.get(sub_id)
    if not allowed:
        assert same_refusal(said, insight_id, unknown), said
        assert TITLES[feed] not in said and said != MODAL
        assert subscriber == before  # a refused vote moves nothing
        assert await world.turns(insight_id) == turns_before
    elif action in ("ask", "continue", "reply"):
        assert TITLES[feed] in said and not same_refusal(said, insight_id, unknown)
        assert await world.turns(insight_id) == turns_before + 1
    elif action == "show":
        assert said == MODAL and unknown != MODAL
    elif subscriber is not None:  # a vote in a subscribed chat counts
        assert "more like this" in said and subscriber.show_weights
    else:  # an unsubscribed chat has nothing to vote for: the same answer for every id
        assert said == unknown


async def test_forged_ask_buttons_spend_the_miss_allowance_too(world: World) -> None:
    fake, presser = world.fake, 1_100_000_000_000_008_002
    said = []
    for guess in (UNKNOWN_ID, world.insights["private"], "abcdefg", world.insights["catalogue"]):
        forged = f"castfive:ask:{guess}"
        ix = await fake.click(world._bot_message(OTHER_CHANNEL_ID, forged), forged, user_id=presser)
        said.append(str((await fake.reply_to(ix))[0]["content"]))
    assert all(s.startswith("No insight with id") for s in said[:3])
    assert "You have asked a lot this hour" in said[3] and "ask again" in said[3]


async def test_castfive_ask_inside_a_thread_reads_as_the_threads_channel(world: World) -> None:
    """A thread is part of its channel: what the channel may read, its threads may too."""
    fake = world.fake
    thread = fake.snowflake()
    fake.threads[thread] = thread_of(thread, str(CHANNEL_ID), "💬 earlier")
    await fake.dispatch("THREAD_CREATE", {**fake.threads[thread], "newly_created": True})
    ix = await fake.slash("castfive", "ask", options={"id": world.insights["public"], "question": QUESTION},
                          user_id=next(world.users), channel_id=int(thread))
    said = str((await fake.reply_to(ix))[0]["content"])
    assert TITLES["public"] in said  # was answered as for an unknown id: the thread is no subscriber
