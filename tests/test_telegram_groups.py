"""Groups and channels: who may change settings, and what the bot does when added, removed, moved."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from bot.telegram_bot import TelegramAdapter
from tests.fakes.fake_castfive_api import FakeCastfiveApi
from tests.fakes.telegram_api import (
    ANONYMOUS_ADMIN_ID,
    SERVICE_ID,
    TOKEN,
    FakeTelegramApi,
)

GROUP = -1001234567890
SUB = f"telegram:{GROUP}"
ADMIN, MEMBER = 11, 22
DENIED = "Only this chat's admins can change its Castfive settings."


@pytest_asyncio.fixture
async def api() -> FakeCastfiveApi:
    fake = FakeCastfiveApi()
    await fake.subscribe("telegram", str(GROUP), "Pod Club")
    return fake


@pytest_asyncio.fixture
async def adapter(fake_telegram: FakeTelegramApi, api: FakeCastfiveApi) -> AsyncIterator[TelegramAdapter]:
    fake_telegram.chat(GROUP, "supergroup", "Pod Club")
    fake_telegram.set_member(GROUP, ADMIN, "administrator")
    bot = TelegramAdapter(api, TOKEN, base_url=fake_telegram.base_url, poll_timeout=1, clock=api.clock)
    await bot.start()
    yield bot
    await bot.stop()


async def say(fake: FakeTelegramApi, text: str, user_id: int | None, **kwargs: object) -> dict:
    mark = fake.mark()
    fake.push_message(GROUP, text, user_id=user_id, **kwargs)
    return (await fake.wait_for("sendMessage", after=mark)).params


async def test_an_admin_may_add_a_feed_in_a_group(fake_telegram: FakeTelegramApi,
                                                  adapter: TelegramAdapter, api: FakeCastfiveApi) -> None:
    reply = await say(fake_telegram, "/add https://example.org/feed.xml", ADMIN)
    assert fake_telegram.calls("getChatMember")[-1].params == {"chat_id": GROUP, "user_id": ADMIN}
    assert reply["text"].startswith("Added") and api.calls_to("add_feed")
    assert reply["reply_parameters"]["message_id"]  # groups: the reply quotes the command


async def test_the_group_creator_counts_as_an_admin(fake_telegram: FakeTelegramApi,
                                                    adapter: TelegramAdapter, api: FakeCastfiveApi) -> None:
    fake_telegram.set_member(GROUP, 33, "creator")
    reply = await say(fake_telegram, "/pause", 33)
    assert reply["text"].startswith("Paused") and api.subscribers[SUB].paused


@pytest.mark.parametrize("command", ["/add https://example.org/feed.xml", "/remove f1234567",
                                     "/time 07:00", "/time weekly mon", "/topics ai", "/topics clear",
                                     "/import", "/pause", "/resume", "/stop"])
async def test_a_member_may_not_change_settings(fake_telegram: FakeTelegramApi, adapter: TelegramAdapter,
                                                api: FakeCastfiveApi, command: str) -> None:
    reply = await say(fake_telegram, command, MEMBER)
    assert reply["text"] == DENIED
    changing = {"add_feed", "remove_feed", "set_schedule", "set_topics", "clear_topics", "import_opml",
                "pause", "resume", "unsubscribe"}
    assert not [name for name, _ in api.calls if name in changing]


async def test_a_member_may_read_today_and_the_feeds(fake_telegram: FakeTelegramApi,
                                                     adapter: TelegramAdapter, api: FakeCastfiveApi) -> None:
    mark = fake_telegram.mark()
    fake_telegram.push_message(GROUP, "/today", user_id=MEMBER)
    await fake_telegram.wait_for("sendMessage", lambda p: "5/5" in p["text"], after=mark)
    reply = await say(fake_telegram, "/feeds", MEMBER)
    assert "You follow no podcasts yet" in reply["text"]
    assert not fake_telegram.calls("getChatMember")


async def test_commands_addressed_to_the_bot_by_name_work_in_groups(
        fake_telegram: FakeTelegramApi, adapter: TelegramAdapter) -> None:
    reply = await say(fake_telegram, "/help@castfive_test_bot", MEMBER)
    assert "/today" in reply["text"]
    mark = fake_telegram.mark()
    fake_telegram.push_message(GROUP, "/help@some_other_bot", user_id=MEMBER)
    await say(fake_telegram, "/feeds", MEMBER)
    assert len([r for r in fake_telegram.requests[mark:] if r.method == "sendMessage"]) == 1


async def test_a_member_may_not_remove_a_feed_with_its_button(
        fake_telegram: FakeTelegramApi, adapter: TelegramAdapter, api: FakeCastfiveApi) -> None:
    feed = (await api.add_feed(SUB, "https://example.org/a.xml")).feed
    assert feed is not None
    await say(fake_telegram, "/feeds", MEMBER)
    listing = max(k[1] for k in fake_telegram.messages if k[0] == GROUP)
    mark = fake_telegram.mark()
    fake_telegram.push_callback(GROUP, listing, f"r:{feed.id}", user_id=MEMBER)
    toast = await fake_telegram.wait_for("answerCallbackQuery", after=mark)
    assert toast.params["text"] == DENIED and toast.params["show_alert"] is True
    assert not api.calls_to("remove_feed") and not fake_telegram.calls("editMessageText")


async def test_an_anonymous_admin_posting_as_the_group_is_trusted_without_a_lookup(
        fake_telegram: FakeTelegramApi, adapter: TelegramAdapter, api: FakeCastfiveApi) -> None:
    reply = await say(fake_telegram, "/pause", ANONYMOUS_ADMIN_ID, sender_chat_id=GROUP)
    assert reply["text"].startswith("Paused")
    assert not fake_telegram.calls("getChatMember")


@pytest.mark.parametrize("user_id, sender_chat_id", [
    (ANONYMOUS_ADMIN_ID, None),  # the anonymous bot without the group as sender
    (ANONYMOUS_ADMIN_ID, -1009999),  # on behalf of another chat
    (SERVICE_ID, -1009999),  # a linked channel's post forwarded by Telegram
    (SERVICE_ID, None),
])
async def test_reserved_ids_are_never_trusted_as_users(
        fake_telegram: FakeTelegramApi, adapter: TelegramAdapter, api: FakeCastfiveApi,
        user_id: int, sender_chat_id: int | None) -> None:
    fake_telegram.set_member(GROUP, user_id, "administrator")  # even if Telegram said so
    reply = await say(fake_telegram, "/stop", user_id, sender_chat_id=sender_chat_id)
    assert reply["text"] == DENIED
    assert not api.calls_to("unsubscribe") and not fake_telegram.calls("getChatMember")


async def test_a_member_cannot_subscribe_a_group_but_an_admin_can(
        fake_telegram: FakeTelegramApi, adapter: TelegramAdapter, api: FakeCastfiveApi) -> None:
    other = -1005550001
    fake_telegram.chat(other, "supergroup", "New <Group> & co")
    fake_telegram.set_member(other, ADMIN, "administrator")
    mark = fake_telegram.mark()
    fake_telegram.push_message(other, "/start", user_id=MEMBER)
    refused = await fake_telegram.wait_for("sendMessage", after=mark)
    assert "Only this chat's admins can subscribe it" in refused.params["text"]
    assert not api.calls_to("subscribe")[1:]
    mark = fake_telegram.mark()
    fake_telegram.push_message(other, "/start", user_id=ADMIN)
    welcome = await fake_telegram.wait_for("sendMessage", after=mark)
    assert api.calls_to("subscribe")[-1]["title"] == "New <Group> & co"
    assert "Welcome to Castfive" in welcome.params["text"]


async def test_channel_posts_subscribe_the_channel_and_get_digests(
        fake_telegram: FakeTelegramApi, adapter: TelegramAdapter, api: FakeCastfiveApi) -> None:
    channel = -1007770001
    fake_telegram.chat(channel, "channel", "Daily Pods")
    mark = fake_telegram.mark()
    fake_telegram.push_channel_post(channel, "/start")
    welcome = await fake_telegram.wait_for("sendMessage", after=mark)
    assert welcome.params["chat_id"] == channel and "Welcome" in welcome.params["text"]
    assert api.calls_to("subscribe")[-1]["chat_id"] == str(channel)
    outcome = await adapter.send_digest_item(api.subscribers[f"telegram:{channel}"], api.digest[0])
    assert outcome.kind == "delivered"


async def test_the_ask_button_in_a_channel_points_readers_to_a_private_chat(
        fake_telegram: FakeTelegramApi, adapter: TelegramAdapter, api: FakeCastfiveApi) -> None:
    channel = -1007770002
    fake_telegram.chat(channel, "channel", "Daily Pods")
    await api.subscribe("telegram", str(channel))
    item = api.digest[0]
    outcome = await adapter.send_digest_item(api.subscribers[f"telegram:{channel}"], item)
    mark = fake_telegram.mark()
    fake_telegram.push_callback(channel, int(outcome.message_ids[0]), f"a:{item.insight.id}")
    toast = await fake_telegram.wait_for("answerCallbackQuery", after=mark)
    assert f"/ask {item.insight.id}" in toast.params["text"] and toast.params["show_alert"] is True


@pytest.mark.parametrize("chat_id, new_status, reason", [
    (GROUP, "kicked", "removed (kicked)"), (GROUP, "left", "removed (left)"), (4242, "kicked", "blocked"),
])
async def test_being_removed_or_blocked_tells_the_service_the_recipient_is_gone(
        fake_telegram: FakeTelegramApi, adapter: TelegramAdapter, api: FakeCastfiveApi,
        chat_id: int, new_status: str, reason: str) -> None:
    await api.subscribe("telegram", str(chat_id))
    fake_telegram.push_my_chat_member(chat_id, "member", new_status)
    calls = await api.wait_for_calls("recipient_gone")
    assert calls == [{"subscriber_id": f"telegram:{chat_id}", "reason": reason}]
    assert not api.subscribers[f"telegram:{chat_id}"].active


async def test_removal_from_a_chat_that_never_subscribed_is_quiet(
        fake_telegram: FakeTelegramApi, adapter: TelegramAdapter, api: FakeCastfiveApi,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="bot")
    fake_telegram.push_my_chat_member(-1003330001, "member", "kicked")
    await api.wait_for_calls("recipient_gone")
    await say(fake_telegram, "/help", MEMBER)  # handled after it: the bot is still healthy
    assert not [r for r in caplog.records if "NotFound" in r.getMessage() or r.levelname == "ERROR"]
    assert not [r for r in fake_telegram.calls("sendMessage") if r.params["chat_id"] == -1003330001]


async def test_being_added_to_a_group_greets_and_explains_start(
        fake_telegram: FakeTelegramApi, adapter: TelegramAdapter) -> None:
    newcomer = -1004440001
    fake_telegram.push_my_chat_member(newcomer, "left", "member", chat_type="supergroup")
    greeting = await fake_telegram.wait_for("sendMessage", lambda p: p["chat_id"] == newcomer)
    assert "/start" in greeting.params["text"] and greeting.params["parse_mode"] == "HTML"


async def test_a_group_upgraded_to_a_supergroup_moves_its_subscription(
        fake_telegram: FakeTelegramApi, adapter: TelegramAdapter, api: FakeCastfiveApi) -> None:
    await api.subscribe("telegram", "-4001")
    fake_telegram.push_message(-4001, None, user_id=ADMIN, migrate_to_chat_id=-1004001)
    calls = await api.wait_for_calls("migrate")
    assert calls == [{"subscriber_id": "telegram:-4001", "new_chat_id": "-1004001"}]
    assert "telegram:-1004001" in api.subscribers
