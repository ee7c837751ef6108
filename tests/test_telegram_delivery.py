"""The ChatPort side: how send_digest_item and send_notice end, for each answer Telegram can give."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from bot.telegram_bot import TelegramAdapter
from core.config import DeliverySettings, Secrets, Settings, TelegramSettings
from core.models import OutcomeKind, SendOutcome, Subscriber
from tests.fakes.fake_castfive_api import FakeCastfiveApi, make_item
from tests.fakes.telegram_api import TOKEN, FakeTelegramApi

CHAT = -1009876543210
USER_ID = 4242
SUBSCRIBER = Subscriber(id=f"telegram:{CHAT}", platform="telegram", chat_id=str(CHAT),
                        timezone="Pacific/Honolulu")  # still the 27th there at 06:00 UTC
# PTB itself reads RetryAfter.retry_after (int today, timedelta later) and warns about it.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


@pytest_asyncio.fixture
async def api() -> FakeCastfiveApi:
    return FakeCastfiveApi()


@pytest_asyncio.fixture
async def adapter(fake_telegram: FakeTelegramApi, api: FakeCastfiveApi) -> AsyncIterator[TelegramAdapter]:
    bot = TelegramAdapter(api, TOKEN, base_url=fake_telegram.base_url, poll_timeout=1, clock=api.clock)
    await bot.start()
    yield bot
    await bot.stop()


def is_html(params: dict) -> bool:
    return params.get("parse_mode") == "HTML"


async def test_a_digest_item_is_delivered_as_html_with_buttons_and_no_preview(
        fake_telegram: FakeTelegramApi, adapter: TelegramAdapter, api: FakeCastfiveApi) -> None:
    item = api.digest[0]
    outcome = await adapter.send_digest_item(SUBSCRIBER, item)
    sent = fake_telegram.calls("sendMessage")
    assert len(sent) == 1
    params = sent[0].params
    assert outcome == SendOutcome.delivered(str(max(m for c, m in fake_telegram.messages if c == CHAT)))
    assert params["chat_id"] == CHAT and is_html(params)
    assert params["link_preview_options"] == {"is_disabled": True}
    assert params["text"].startswith("<b>Your Castfive for Fri 27 Nov · 1/5</b>")
    assert '<a href="https://cdn.example.org/ep1.mp3#t=72">Listen from 01:12</a>' in params["text"]
    assert '<a href="https://example.org/episodes/1">Episode page</a>' in params["text"]
    keyboard = params["reply_markup"]["inline_keyboard"][0]
    assert [b["callback_data"] for b in keyboard] == [f"{a}:{item.insight.id}" for a in "aud"]


async def test_later_items_carry_their_position_but_no_date_header(
        fake_telegram: FakeTelegramApi, adapter: TelegramAdapter, api: FakeCastfiveApi) -> None:
    await adapter.send_digest_item(SUBSCRIBER, api.digest[2])
    text = fake_telegram.calls("sendMessage")[0].params["text"]
    assert text.startswith("<b>3/5</b>\n") and "Your Castfive" not in text


async def test_a_feed_title_full_of_html_is_escaped(fake_telegram: FakeTelegramApi,
                                                    adapter: TelegramAdapter) -> None:
    item = make_item(1, show="Tips & <Tricks> </b><a href='x'>", text="A < B && C > D")
    await adapter.send_digest_item(SUBSCRIBER, item)
    params = fake_telegram.calls("sendMessage")[0].params
    assert is_html(params)
    assert "<b>Tips &amp; &lt;Tricks&gt; &lt;/b&gt;&lt;a href='x'&gt;</b>" in params["text"]
    assert "A &lt; B &amp;&amp; C &gt; D" in params["text"]


async def test_a_blocked_chat_is_gone(fake_telegram: FakeTelegramApi, adapter: TelegramAdapter,
                                      api: FakeCastfiveApi) -> None:
    fake_telegram.fail("sendMessage", 403, "Forbidden: bot was blocked by the user")
    outcome = await adapter.send_digest_item(SUBSCRIBER, api.digest[0])
    assert outcome.kind == OutcomeKind.GONE and "blocked" in outcome.reason
    assert len(fake_telegram.calls("sendMessage")) == 1


async def test_a_chat_that_no_longer_exists_is_gone(fake_telegram: FakeTelegramApi,
                                                    adapter: TelegramAdapter, api: FakeCastfiveApi) -> None:
    fake_telegram.fail("sendMessage", 400, "Bad Request: chat not found")
    outcome = await adapter.send_digest_item(SUBSCRIBER, api.digest[0])
    assert outcome.kind == OutcomeKind.GONE
    assert len(fake_telegram.calls("sendMessage")) == 1  # no plain-text retry into the void


async def test_unparsable_html_is_resent_as_plain_text_and_delivered(
        fake_telegram: FakeTelegramApi, adapter: TelegramAdapter, api: FakeCastfiveApi) -> None:
    fake_telegram.fail("sendMessage", 400, "Bad Request: can't parse entities: unsupported start "
                       "tag \"x\" at byte offset 12", when=is_html)
    outcome = await adapter.send_digest_item(SUBSCRIBER, api.digest[0])
    first, second = (r.params for r in fake_telegram.calls("sendMessage"))
    assert is_html(first) and "parse_mode" not in second
    assert outcome.kind == OutcomeKind.DELIVERED and len(outcome.message_ids) == 1
    assert "Listen from 01:12: https://cdn.example.org/ep1.mp3#t=72" in second["text"]
    assert "<" not in second["text"] and second["reply_markup"] == first["reply_markup"]


async def test_a_flood_wait_on_a_digest_goes_back_to_the_core_to_pace_every_sender(
        fake_telegram: FakeTelegramApi, adapter: TelegramAdapter, api: FakeCastfiveApi) -> None:
    fake_telegram.fail("sendMessage", 429, "Too Many Requests: retry after 3",
                       parameters={"retry_after": 3})
    outcome = await adapter.send_digest_item(SUBSCRIBER, api.digest[0])
    assert outcome.kind == OutcomeKind.RATE_LIMITED and outcome.retry_after == 3.0
    assert len(fake_telegram.calls("sendMessage")) == 1, "no retry behind the core's token bucket"


async def test_a_flood_wait_on_a_chat_reply_is_retried_by_the_rate_limiter(
        fake_telegram: FakeTelegramApi, adapter: TelegramAdapter) -> None:
    fake_telegram.fail("sendMessage", 429, "Too Many Requests: retry after 1",
                       parameters={"retry_after": 1})
    mark = fake_telegram.mark()
    started = time.monotonic()
    fake_telegram.push_message(USER_ID, "/help", user_id=USER_ID)
    await fake_telegram.wait_until(lambda: len(fake_telegram.calls("sendMessage")) >= 2, timeout=10)
    replies = [r for r in fake_telegram.requests[mark:] if r.method == "sendMessage"]
    assert len(replies) == 2 and time.monotonic() - started >= 1.0
    assert replies[0].params["text"] == replies[1].params["text"]


async def test_a_flood_wait_past_the_retries_is_reported_as_rate_limited(
        fake_telegram: FakeTelegramApi, api: FakeCastfiveApi) -> None:
    bot = TelegramAdapter(api, TOKEN, base_url=fake_telegram.base_url, poll_timeout=1, max_retries=0)
    await bot.start()
    try:
        fake_telegram.fail("sendMessage", 429, "Too Many Requests: retry after 7",
                           parameters={"retry_after": 7})
        outcome = await bot.send_digest_item(SUBSCRIBER, api.digest[0])
    finally:
        await bot.stop()
    assert outcome.kind == OutcomeKind.RATE_LIMITED and outcome.retry_after == 7.0


async def test_a_migrated_group_is_moved_to_its_new_id(
    fake_telegram: FakeTelegramApi, adapter: TelegramAdapter, api: FakeCastfiveApi
) -> None:
    fake_telegram.fail("sendMessage", 400, "Bad Request: group chat was upgraded to a supergroup chat",
                       parameters={"migrate_to_chat_id": -1001999888777})
    outcome = await adapter.send_digest_item(SUBSCRIBER, api.digest[0])
    assert outcome.kind == OutcomeKind.MOVED and outcome.new_chat_id == "-1001999888777"


@pytest.mark.parametrize("status, description", [(502, "Bad Gateway"), (500, "Internal Server Error")])
async def test_server_trouble_is_transient(fake_telegram: FakeTelegramApi, adapter: TelegramAdapter,
                                           api: FakeCastfiveApi, status: int, description: str) -> None:
    fake_telegram.fail("sendMessage", status, description)
    outcome = await adapter.send_digest_item(SUBSCRIBER, api.digest[0])
    assert outcome.kind == OutcomeKind.TRANSIENT


async def test_an_unreachable_api_is_transient(api: FakeCastfiveApi) -> None:
    fake = FakeTelegramApi()
    await fake.start()
    bot = TelegramAdapter(api, TOKEN, base_url=fake.base_url, poll_timeout=1)
    await bot.start()
    await bot.app.updater.stop()  # type: ignore[union-attr]
    await fake.close()  # the server is gone: connections are refused
    try:
        outcome = await bot.send_digest_item(SUBSCRIBER, api.digest[0])
    finally:
        await bot.app.stop()
        await bot.app.shutdown()
    assert outcome.kind == OutcomeKind.TRANSIENT


async def test_a_notice_is_plain_text_and_returns_its_message_id(
        fake_telegram: FakeTelegramApi, adapter: TelegramAdapter) -> None:
    outcome = await adapter.send_notice(SUBSCRIBER, "Nothing new today <3 & see you tomorrow")
    params = fake_telegram.calls("sendMessage")[0].params
    assert params["text"] == "Nothing new today <3 & see you tomorrow" and "parse_mode" not in params
    assert outcome.kind == OutcomeKind.DELIVERED and outcome.message_ids


async def test_the_platform_is_telegram(adapter: TelegramAdapter) -> None:
    assert adapter.platform == "telegram"


def test_from_settings_uses_the_token_server_and_send_rate(api: FakeCastfiveApi) -> None:
    settings = Settings(secrets=Secrets(telegram_token=TOKEN),
                        delivery=DeliverySettings(telegram_messages_per_second=7.0),
                        telegram=TelegramSettings(api_base_url="http://127.0.0.1:8081/bot"))
    adapter = TelegramAdapter.from_settings(api, settings)
    assert adapter.app.bot.token == TOKEN
    assert adapter.app.bot.base_url == f"http://127.0.0.1:8081/bot{TOKEN}"
    assert adapter.app.bot.base_file_url == f"http://127.0.0.1:8081/file/bot{TOKEN}"
    assert adapter.app.bot.rate_limiter._base_limiter.max_rate == 7.0  # type: ignore[union-attr]
