"""Every command in a private chat, through a real PTB Application against the fake Bot API."""

from __future__ import annotations

import logging
import traceback
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from bot.telegram_bot import TelegramAdapter
from core.cadence import ScheduleChange
from core.errors import ConfigError
from tests.fakes.fake_castfive_api import FakeCastfiveApi
from tests.fakes.telegram_api import TOKEN, FakeTelegramApi

USER = 4242  # a private chat's id is its user's id
SUB = f"telegram:{USER}"


@pytest_asyncio.fixture
async def api() -> FakeCastfiveApi:
    fake = FakeCastfiveApi()
    await fake.subscribe("telegram", str(USER), "Ada")
    return fake


@pytest_asyncio.fixture
async def adapter(fake_telegram: FakeTelegramApi, api: FakeCastfiveApi) -> AsyncIterator[TelegramAdapter]:
    bot = TelegramAdapter(api, TOKEN, base_url=fake_telegram.base_url, poll_timeout=1,
                          clock=api.clock)
    await bot.start()
    yield bot
    await bot.stop()


async def send(fake: FakeTelegramApi, text: str, **kwargs: object) -> dict:
    """Push a private-chat message and return the bot's first sendMessage after it."""
    mark = fake.mark()
    fake.push_message(USER, text, user_id=USER, **kwargs)
    return (await fake.wait_for("sendMessage", after=mark)).params


async def test_start_subscribes_the_chat_and_says_when_the_next_digest_comes(
        fake_telegram: FakeTelegramApi, adapter: TelegramAdapter, api: FakeCastfiveApi) -> None:
    reply = await send(fake_telegram, "/start")
    assert api.calls_to("subscribe")[-1] == {"platform": "telegram", "chat_id": str(USER),
                                             "title": "Ada", "timezone": None, "delivery_time": None}
    assert reply["chat_id"] == USER and reply["parse_mode"] == "HTML"
    assert "Welcome to Castfive" in reply["text"] and "Sat 28 Nov at 08:00" in reply["text"]
    assert reply["link_preview_options"] == {"is_disabled": True}
    assert "reply_parameters" not in reply  # private chats are not quoted


async def test_start_publishes_command_menus_for_everyone_groups_and_admins(
        fake_telegram: FakeTelegramApi, adapter: TelegramAdapter) -> None:
    menus = {str(r.params.get("scope", {}).get("type")): [c["command"] for c in r.params["commands"]]
             for r in fake_telegram.calls("setMyCommands")}
    assert "add" in menus["None"] and "add" in menus["all_chat_administrators"]
    assert "add" not in menus["all_group_chats"] and "today" in menus["all_group_chats"]


async def test_help_lists_the_commands(fake_telegram: FakeTelegramApi, adapter: TelegramAdapter) -> None:
    reply = await send(fake_telegram, "/help")
    assert "/today" in reply["text"] and "/import" in reply["text"] and reply["parse_mode"] == "HTML"


async def test_today_sends_five_insights_with_buttons_and_remembers_them(
        fake_telegram: FakeTelegramApi, adapter: TelegramAdapter, api: FakeCastfiveApi) -> None:
    mark = fake_telegram.mark()
    fake_telegram.push_message(USER, "/today", user_id=USER)
    await fake_telegram.wait_for("sendMessage", lambda p: p["text"].startswith("<b>5/5"), after=mark)
    sent = [r.params for r in fake_telegram.calls("sendMessage")]
    assert len(sent) == 5
    assert sent[0]["text"].startswith("<b>Your Castfive for Sat 28 Nov · 1/5</b>")
    first_id = api.digest[0].insight.id
    assert f"<code>{first_id}</code>" in sent[0]["text"]
    buttons = sent[0]["reply_markup"]["inline_keyboard"][0]
    assert [b["callback_data"] for b in buttons] == [f"a:{first_id}", f"u:{first_id}", f"d:{first_id}"]
    remembered = await api.wait_for_calls("remember_message", 5)
    assert [c["ref"].insight_id for c in remembered] == [i.insight.id for i in api.digest]


async def test_an_empty_today_says_to_add_a_podcast_when_the_chat_follows_none(
        fake_telegram: FakeTelegramApi, adapter: TelegramAdapter, api: FakeCastfiveApi) -> None:
    api.digest.clear()
    reply = await send(fake_telegram, "/today")
    assert reply["text"].startswith("You follow no podcasts yet. Add one with /add")
    await api.add_feed(SUB, "https://example.org/a.xml")
    assert (await send(fake_telegram, "/today"))["text"].startswith("Nothing new yet today.")


async def test_feeds_lists_podcasts_with_a_remove_button_each(
        fake_telegram: FakeTelegramApi, adapter: TelegramAdapter, api: FakeCastfiveApi) -> None:
    await api.add_feed(SUB, "https://example.org/a.xml")
    feed = (await api.list_feeds(SUB))[0]
    reply = await send(fake_telegram, "/feeds")
    assert "1. example.org/a.xml" in reply["text"]
    assert reply["reply_markup"]["inline_keyboard"] == [[{"text": "✖ example.org/a.xml",
                                                         "callback_data": f"r:{feed.id}"}]]


async def test_add_with_a_url_adds_the_feed(fake_telegram: FakeTelegramApi, adapter: TelegramAdapter,
                                            api: FakeCastfiveApi) -> None:
    reply = await send(fake_telegram, "/add https://example.org/feed.xml")
    assert api.calls_to("add_feed")[-1]["url_or_terms"] == "https://example.org/feed.xml"
    assert reply["text"].startswith("Added <b>example.org/feed.xml</b>")


async def test_add_with_words_offers_search_results_and_a_tap_adds_one(
        fake_telegram: FakeTelegramApi, adapter: TelegramAdapter, api: FakeCastfiveApi) -> None:
    reply = await send(fake_telegram, "/add hard")
    rows = reply["reply_markup"]["inline_keyboard"]
    assert [r[0]["callback_data"] for r in rows] == ["p:s1", "p:s3"]
    assert rows[0][0]["text"] == "Hard Fork — The New York Times"
    results = next(m for (c, _), m in fake_telegram.messages.items()
                   if c == USER and m.get("reply_markup") == reply["reply_markup"])
    mark = fake_telegram.mark()
    query = fake_telegram.push_callback(USER, results["message_id"], "p:s1", user_id=USER)
    edit = await fake_telegram.wait_for("editMessageText", after=mark)
    assert edit.params["text"].startswith("Added <b>Hard Fork</b>")
    assert api.calls_to("add_search_choice")[-1] == {"subscriber_id": SUB, "choice_id": "s1"}
    answer = await fake_telegram.wait_for("answerCallbackQuery", after=mark)
    assert answer.params["callback_query_id"] == query


async def test_add_without_words_explains_how(fake_telegram: FakeTelegramApi,
                                              adapter: TelegramAdapter) -> None:
    reply = await send(fake_telegram, "/add")
    assert "feed URL" in reply["text"] and "parse_mode" not in reply


async def test_remove_button_removes_the_feed_and_refreshes_the_list(
        fake_telegram: FakeTelegramApi, adapter: TelegramAdapter, api: FakeCastfiveApi) -> None:
    await api.add_feed(SUB, "https://example.org/a.xml")
    await api.add_feed(SUB, "https://example.org/b.xml")
    gone = (await api.list_feeds(SUB))[0]
    reply = await send(fake_telegram, "/remove")
    listing = max(k[1] for k in fake_telegram.messages if k[0] == USER)
    assert len(reply["reply_markup"]["inline_keyboard"]) == 2
    mark = fake_telegram.mark()
    fake_telegram.push_callback(USER, listing, f"r:{gone.id}", user_id=USER)
    edit = await fake_telegram.wait_for("editMessageText", after=mark)
    assert api.calls_to("remove_feed") == [{"subscriber_id": SUB, "feed_id": gone.id}]
    assert "a.xml" not in edit.params["text"] and "1. example.org/b.xml" in edit.params["text"]
    toast = await fake_telegram.wait_for("answerCallbackQuery", after=mark)
    assert toast.params["text"] == "Removed."


async def test_remove_with_an_id_removes_that_feed(fake_telegram: FakeTelegramApi,
                                                   adapter: TelegramAdapter, api: FakeCastfiveApi) -> None:
    feed = (await api.add_feed(SUB, "https://example.org/a.xml")).feed
    assert feed is not None
    reply = await send(fake_telegram, f"/remove {feed.id}")
    assert reply["text"].startswith("Removed.") and await api.list_feeds(SUB) == []


async def test_time_sets_the_delivery_time_and_zone(fake_telegram: FakeTelegramApi,
                                                    adapter: TelegramAdapter, api: FakeCastfiveApi) -> None:
    reply = await send(fake_telegram, "/time 07:30 Europe/Berlin")
    assert api.calls_to("set_schedule")[-1] == {
        "subscriber_id": SUB, "change": ScheduleChange(hhmm="07:30", timezone="Europe/Berlin")}
    assert "<b>07:30</b> (Europe/Berlin)" in reply["text"] and "Sat 28 Nov at 07:30" in reply["text"]


async def test_time_with_a_bad_zone_answers_the_validation_error(
        fake_telegram: FakeTelegramApi, adapter: TelegramAdapter) -> None:
    reply = await send(fake_telegram, "/time 07:30 Mars/Olympus")
    assert "time zone like Europe/Berlin" in reply["text"]


async def test_time_without_arguments_shows_the_schedule(fake_telegram: FakeTelegramApi,
                                                         adapter: TelegramAdapter) -> None:
    reply = await send(fake_telegram, "/time")
    assert "daily at <b>08:00</b> (UTC)" in reply["text"]


async def test_pause_and_resume(fake_telegram: FakeTelegramApi, adapter: TelegramAdapter,
                                api: FakeCastfiveApi) -> None:
    paused = await send(fake_telegram, "/pause")
    assert "/resume" in paused["text"] and api.subscribers[SUB].paused
    resumed = await send(fake_telegram, "/resume")
    assert "daily at <b>08:00</b>" in resumed["text"] and not api.subscribers[SUB].paused


async def test_stop_unsubscribes(fake_telegram: FakeTelegramApi, adapter: TelegramAdapter,
                                 api: FakeCastfiveApi) -> None:
    reply = await send(fake_telegram, "/stop")
    assert api.calls_to("unsubscribe") == [{"subscriber_id": SUB}]
    assert "/start" in reply["text"]


async def test_export_sends_the_opml_as_a_document(fake_telegram: FakeTelegramApi,
                                                   adapter: TelegramAdapter, api: FakeCastfiveApi) -> None:
    await api.add_feed(SUB, "https://example.org/a.xml")
    fake_telegram.push_message(USER, "/export", user_id=USER)
    doc = await fake_telegram.wait_for("sendDocument")
    filename, data = doc.files["document"]
    assert filename == "castfive.opml" and b'xmlUrl="https://example.org/a.xml"' in data
    assert doc.params["chat_id"] == USER


OPML = (b'<?xml version="1.0"?><opml version="2.0"><body>'
        b'<outline text="Show &amp; Tell" xmlUrl="https://example.org/st.xml"/>'
        b'<outline text="Local" xmlUrl="file:///etc/passwd"/></body></opml>')


async def test_import_reads_an_opml_document_sent_with_the_caption(
        fake_telegram: FakeTelegramApi, adapter: TelegramAdapter, api: FakeCastfiveApi) -> None:
    document = fake_telegram.add_file("opml1", OPML)
    reply = await send(fake_telegram, None, document=document, caption="/import")
    assert api.calls_to("import_opml")[-1]["data"] == OPML
    assert "Imported <b>1</b>" in reply["text"] and "Show &amp; Tell" in reply["text"]
    assert "Local: not a web address" in reply["text"]


async def test_import_as_a_reply_to_a_document(fake_telegram: FakeTelegramApi,
                                               adapter: TelegramAdapter, api: FakeCastfiveApi) -> None:
    document = fake_telegram.add_file("opml2", OPML)
    posted = fake_telegram.make_message(USER, None, user_id=USER, document=document)
    reply = await send(fake_telegram, "/import", reply_to=posted["message_id"])
    assert "Imported <b>1</b>" in reply["text"]


async def test_import_refuses_a_file_over_the_cap_without_downloading_it(
        fake_telegram: FakeTelegramApi, adapter: TelegramAdapter, api: FakeCastfiveApi) -> None:
    document = fake_telegram.add_file("big", b"x" * 1_000_001)
    reply = await send(fake_telegram, None, document=document, caption="/import")
    assert "too big" in reply["text"]
    assert not fake_telegram.calls("getFile") and not api.calls_to("import_opml")


async def test_import_without_a_file_explains_how(fake_telegram: FakeTelegramApi,
                                                  adapter: TelegramAdapter) -> None:
    reply = await send(fake_telegram, "/import")
    assert "caption /import" in reply["text"]


async def test_commands_before_start_tell_the_user_to_start(
        fake_telegram: FakeTelegramApi, adapter: TelegramAdapter, api: FakeCastfiveApi) -> None:
    await api.unsubscribe(SUB)
    reply = await send(fake_telegram, "/today")
    assert reply["text"] == "This chat is not subscribed yet. Send /start first."


async def test_plain_text_in_private_explains_how_to_ask(fake_telegram: FakeTelegramApi,
                                                         adapter: TelegramAdapter) -> None:
    reply = await send(fake_telegram, "hello?")
    assert "reply to it" in reply["text"]


async def test_the_token_never_reaches_the_logs(fake_telegram: FakeTelegramApi, api: FakeCastfiveApi,
                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    bot = TelegramAdapter(api, TOKEN, base_url=fake_telegram.base_url, poll_timeout=1)
    await bot.start()
    try:
        await send(fake_telegram, "/start")
    finally:
        await bot.stop()
    assert fake_telegram.calls("getMe") and "castfive_test_bot" in caplog.text
    assert TOKEN not in caplog.text and TOKEN.split(":")[1] not in caplog.text


async def test_a_rejected_token_is_a_config_error_that_does_not_quote_the_token(
        fake_telegram: FakeTelegramApi, api: FakeCastfiveApi) -> None:
    fake_telegram.fail("getMe", 401, "Unauthorized")
    bot = TelegramAdapter(api, TOKEN, base_url=fake_telegram.base_url, poll_timeout=1)
    with pytest.raises(ConfigError) as caught:
        await bot.start()
    await bot.stop()  # safe after a failed start
    shown = "".join(traceback.format_exception(caught.value))
    assert "TELEGRAM_BOT_TOKEN" in shown and TOKEN not in shown
