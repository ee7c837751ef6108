"""Follow-up questions on Discord: Ask button, modal, thread conversations, thumbs, restarts, limits."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio

from bot.discord_bot import DiscordAdapter
from bot.render_discord import answer_chunks
from core.access import OPERATOR
from core.config import DeliverySettings, Settings
from tests.fakes.discord_payloads import (
    BOT_ID,
    CHANNEL_ID,
    DM_CHANNEL_ID,
    EPHEMERAL,
    MEMBER_ID,
    TOKEN,
)
from tests.fakes.fake_castfive_api import FakeCastfiveApi

if TYPE_CHECKING:
    from tests.fakes.discord_api import FakeDiscord, Interaction
    from tests.fakes.discord_world import World



async def post_insight(world: World, chat_id: int = CHANNEL_ID) -> dict:
    """Deliver today's digest through the core and return the first insight's message."""
    await world.subscriber(chat_id)
    await world.services.delivery.tick()
    return world.fake.channel_messages(chat_id)[0]


def button(message: dict, action: str) -> str:
    return next(b["custom_id"] for b in message["components"][0]["components"]
                if b["custom_id"].startswith(f"castfive:{action}:"))


async def ask_with_button(fake: FakeDiscord, message: dict, question: str) -> tuple[Interaction, Interaction]:
    """Press Ask, fill the modal; returns (the click, the modal submit)."""
    click = await fake.click(message, button(message, "ask"))
    modal = await fake.callback(click)
    assert modal["type"] == 9
    return click, await fake.submit_modal(click, question)


async def test_the_ask_button_opens_a_modal_and_the_answer_goes_into_a_thread_on_the_insight(
        world: World) -> None:
    fake = world.fake
    insight_message = await post_insight(world)
    click, submit = await ask_with_button(fake, insight_message, "Why does deploying daily help?")
    modal = click.callbacks[0]["data"]
    assert modal["title"] == "Ask about this insight"
    ack = (await fake.reply_to(submit))[0]
    thread_id = insight_message["id"]  # a thread started on a message shares its id
    assert ack["flags"] & EPHEMERAL and f"<#{thread_id}>" in ack["content"]
    (start,) = fake.calls("POST", f"/channels/{CHANNEL_ID}/messages/{insight_message['id']}/threads")
    assert start.body["name"].startswith("💬 Why does deploying daily help?")
    echo, answer = fake.channel_messages(thread_id)[:2]
    assert echo["content"].startswith(f"❓ <@{MEMBER_ID}> asked: Why does deploying daily help?")
    assert "**[00:00]**" in answer["content"]
    ref = await world.api.lookup_message(f"discord:{CHANNEL_ID}", thread_id)
    assert ref is not None and ref.conversation_id == f"discord-thread:{thread_id}"


async def test_a_later_message_in_the_thread_continues_the_same_conversation(world: World) -> None:
    fake = world.fake
    insight_message = await post_insight(world)
    _, submit = await ask_with_button(fake, insight_message, "Why does deploying daily help?")
    await fake.reply_to(submit)
    thread_id = insight_message["id"]
    await fake.post_message(thread_id, "And what about failure rates?")
    await fake.wait_until(lambda: len(fake.channel_messages(thread_id)) >= 3, what="a second answer")
    conversation = await world.services.repos.conversations.get(f"discord-thread:{thread_id}")
    assert [t.question for t in conversation.turns] == ["Why does deploying daily help?",
                                                        "And what about failure rates?"]
    assert fake.calls("POST", f"/channels/{thread_id}/typing")


async def test_messages_from_bots_or_in_threads_we_did_not_start_are_ignored(world: World) -> None:
    fake = world.fake
    insight_message = await post_insight(world)
    _, submit = await ask_with_button(fake, insight_message, "Why?")
    await fake.reply_to(submit)
    before = len(fake.requests)
    await fake.post_message(insight_message["id"], "an echo", author_id=BOT_ID)
    await fake.post_message(CHANNEL_ID, "just chatting")
    await fake.post_message(DM_CHANNEL_ID, "a reply", reply_to={**insight_message, "author": {
        **insight_message["author"], "id": str(MEMBER_ID), "bot": False}})
    # events are handled in order: once the DM hint is out, the two before it were passed over
    hint = await fake.wait_until(lambda: fake.channel_messages(DM_CHANNEL_ID), what="the DM hint")
    assert "reply to it" in hint[0]["content"]
    assert [r.path for r in fake.requests[before:]] == [f"/channels/{DM_CHANNEL_ID}/messages"]


async def test_a_second_question_from_the_button_reuses_the_existing_thread(world: World) -> None:
    fake = world.fake
    insight_message = await post_insight(world)
    for question in ("First question?", "Second question?"):
        _, submit = await ask_with_button(fake, insight_message, question)
        await fake.reply_to(submit)
    thread = fake.channel_messages(insight_message["id"])
    assert [m["content"] for m in thread if m["content"].startswith("❓")][1].endswith("Second question?")
    conversation = await world.services.repos.conversations.get(f"discord-thread:{insight_message['id']}")
    assert len(conversation.turns) == 2


async def test_thumbs_record_feedback_for_the_channel_and_answer_privately(world: World) -> None:
    fake = world.fake
    insight_message = await post_insight(world)
    insight_id = button(insight_message, "down").rsplit(":", 1)[1]
    ack = (await fake.reply_to(await fake.click(insight_message, button(insight_message, "down"))))[0]
    assert ack["flags"] & EPHEMERAL and "fewer like this" in ack["content"]
    insight = await world.services.repos.insights.get(insight_id)
    sub = await world.api.get_subscriber(f"discord:{CHANNEL_ID}")
    assert sub.show_weights[insight.feed_id] < 0


async def test_buttons_on_old_posts_still_work_after_a_restart(world: World) -> None:
    fake = world.fake
    insight_message = await post_insight(world)
    await world.adapter.stop()
    restarted = world.new_adapter()
    await restarted.start()
    try:
        assert fake.identified == 2
        ack = (await fake.reply_to(await fake.click(insight_message, button(insight_message, "up"))))[0]
        assert "more like this" in ack["content"]
        click = await fake.click(insight_message, button(insight_message, "ask"))
        assert (await fake.callback(click))["type"] == 9
    finally:
        await restarted.stop()


async def test_a_reply_to_an_ask_answer_in_the_channel_continues_it(world: World) -> None:
    fake = world.fake
    await world.subscriber(CHANNEL_ID)
    ix = await fake.slash("castfive", "ask", options={"id": world.insights[0].id, "question": "Why?"},
                          user_id=MEMBER_ID)
    answer = (await fake.reply_to(ix))[0]
    await fake.post_message(CHANNEL_ID, "Who said so?", reply_to=answer)
    reply = await fake.wait_until(lambda: fake.channel_messages(CHANNEL_ID), what="the answer")
    assert reply[0]["message_reference"]["message_id"] != answer["id"]  # a reply to the question
    conversation = await world.services.repos.conversations.get(f"discord-ask:{ix.id}")
    assert [t.question for t in conversation.turns] == ["Why?", "Who said so?"]


async def test_in_a_dm_the_answer_is_a_reply_and_replying_to_it_continues(world: World) -> None:
    fake = world.fake
    insight_message = await post_insight(world, DM_CHANNEL_ID)
    _, submit = await ask_with_button(fake, insight_message, "Why?")
    await fake.reply_to(submit)
    answer = fake.channel_messages(DM_CHANNEL_ID)[-1]
    assert answer["message_reference"]["message_id"] == insight_message["id"]
    await fake.post_message(DM_CHANNEL_ID, "And then?", reply_to=answer)
    await fake.wait_until(lambda: len(fake.channel_messages(DM_CHANNEL_ID)) >= 7, what="a second answer")
    conversation = await world.services.repos.conversations.get(f"discord-dm:{insight_message['id']}")
    assert [t.question for t in conversation.turns] == ["Why?", "And then?"]


@pytest_asyncio.fixture
async def limited(world_factory: Callable[[Settings], Awaitable[World]]) -> World:
    """A world where each member may ask one question an hour."""
    return await world_factory(Settings(delivery=DeliverySettings(question_limit_per_hour=1)))


async def test_a_cooldown_is_answered_privately_with_when_to_ask_again(limited: World) -> None:
    fake, insight_id = limited.fake, limited.insights[0].id
    first = await fake.slash("castfive", "ask", options={"id": insight_id, "question": "Why?"},
                             user_id=MEMBER_ID)
    assert not (await fake.reply_to(first))[0]["flags"] & EPHEMERAL
    second = await fake.slash("castfive", "ask", options={"id": insight_id, "question": "Why?"},
                              user_id=MEMBER_ID)
    refusal = (await fake.reply_to(second))[0]
    assert refusal["flags"] & EPHEMERAL and "ask again" in refusal["content"]
    retry_at = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)  # an hour after the first question
    assert f"<t:{int(retry_at.timestamp())}:R>" in refusal["content"]


async def test_a_cooldown_on_the_ask_modal_is_private_and_opens_no_thread(limited: World) -> None:
    fake = limited.fake
    insight_message = await post_insight(limited)
    await fake.reply_to((await ask_with_button(fake, insight_message, "First?"))[1])
    refusal = (await fake.reply_to((await ask_with_button(fake, insight_message, "Second?"))[1]))[0]
    assert refusal["flags"] & EPHEMERAL and "ask again" in refusal["content"]
    assert len(fake.calls("POST", f"/channels/{CHANNEL_ID}/messages/{insight_message['id']}/threads")) == 1


async def test_a_cooldown_in_a_thread_is_explained_in_the_thread(limited: World) -> None:
    fake = limited.fake
    insight_message = await post_insight(limited)
    await fake.reply_to((await ask_with_button(fake, insight_message, "First?"))[1])
    await fake.post_message(insight_message["id"], "Second?")
    thread = await fake.wait_until(lambda: len(fake.channel_messages(insight_message["id"])) >= 3 and
                                   fake.channel_messages(insight_message["id"]), what="the refusal")
    assert "ask again" in thread[-1]["content"]


async def test_an_answer_over_2000_characters_is_split_into_several_messages(
        world: World, fake_discord: FakeDiscord) -> None:
    await world.adapter.stop()
    api = FakeCastfiveApi(answer_text="\n\n".join(["A long and careful explanation. " * 30] * 8))
    await api.subscribe("discord", str(CHANNEL_ID))
    adapter = DiscordAdapter(api, TOKEN, api_base_url=fake_discord.api_base_url,
                             gateway_url=fake_discord.gateway_url, guild_ready_timeout=0.05)
    await adapter.start()
    try:
        ix = await fake_discord.slash("castfive", "ask", options={"id": api.digest[0].insight.id,
                                                                  "question": "Tell me everything"})
        expected = answer_chunks(await api.ask(api.digest[0].insight.id, "Tell me everything",
                                               user_key="x", reader=OPERATOR))
        await fake_discord.wait_until(lambda: len(ix.messages) >= len(expected), what="every part")
        assert len(expected) >= 4 and [m["content"] for m in ix.messages] == expected
        assert all(len(m["content"]) <= 2000 for m in ix.messages)
        assert all(fake_discord.bodies[m["id"]]["allowed_mentions"] == {"parse": []} for m in ix.messages)
    finally:
        await adapter.stop()


class SlowApi(FakeCastfiveApi):
    """Answers take longer than the bot waits before showing "thinking…"."""

    async def ask(self, *args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(0.2)
        return await super().ask(*args, **kwargs)


async def test_slow_answers_show_thinking_first_then_the_answer_replaces_it(
        fake_discord: FakeDiscord, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bot.discord_replies.DEFER_AFTER_S", 0.02)
    api = SlowApi()
    adapter = DiscordAdapter(api, TOKEN, api_base_url=fake_discord.api_base_url,
                             gateway_url=fake_discord.gateway_url, guild_ready_timeout=0.05)
    await adapter.start()
    try:
        ix = await fake_discord.slash("castfive", "ask", options={"id": api.digest[0].insight.id,
                                                                  "question": "Slowly?"})
        (answer,) = await fake_discord.reply_to(ix)
        assert [c["type"] for c in ix.callbacks] == [5]  # deferred: "Castfive is thinking…"
        assert "Slowly?" in answer["content"] and not answer["flags"] & EPHEMERAL
    finally:
        await adapter.stop()
