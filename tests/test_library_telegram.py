"""/search and /export insights through the real PTB bot, the real core and the fake Bot API."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_asyncio

from bot import telegram_library
from bot.telegram_bot import TelegramAdapter
from core.bootstrap import Services, build_services
from core.config import Settings
from core.models import Insight
from tests.fakes.clock import FakeClock
from tests.fakes.memory_store import FakeStore
from tests.fakes.telegram_api import BOT_ID, TOKEN, FakeTelegramApi
from tests.library_world import seed_library, send

ADA, BOB = 5101, 5102
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
pytestmark = pytest.mark.timeout(30)


@pytest_asyncio.fixture
async def world(fake_telegram: FakeTelegramApi) -> AsyncIterator[tuple[FakeTelegramApi, Services]]:
    services = build_services(Settings(), clock=FakeClock(NOW), store=FakeStore(), fetcher=object(),  # type: ignore[arg-type]
                              transcriber=object())  # type: ignore[arg-type]
    await seed_library(services, ada_chat=f"telegram:{ADA}", bob_chat=f"telegram:{BOB}")
    adapter = TelegramAdapter(services.api, TOKEN, base_url=fake_telegram.base_url, poll_timeout=1,
                              clock=services.clock)
    await adapter.start()
    try:
        yield fake_telegram, services
    finally:
        await adapter.stop()


async def say(fake: FakeTelegramApi, chat: int, text: str) -> dict[str, Any]:
    mark = fake.mark()
    fake.push_message(chat, text, user_id=chat)
    return (await fake.wait_for("sendMessage", lambda p: p["chat_id"] == chat, after=mark)).params


def last_bot_message(fake: FakeTelegramApi, chat: int) -> int:
    return max(mid for (c, mid), m in fake.messages.items() if c == chat and m["from"]["id"] == BOT_ID)


async def press(fake: FakeTelegramApi, chat: int, message_id: int, data: str) -> dict[str, Any]:
    """Tap a button; returns the callback's answer (after any edit it made)."""
    mark = fake.mark()
    query = fake.push_callback(chat, message_id, data, user_id=chat)
    return (await fake.wait_for("answerCallbackQuery", lambda p: p["callback_query_id"] == query,
                                after=mark)).params


async def test_search_answers_with_show_episode_moment_link_and_id(world) -> None:
    fake, _ = world
    reply = await say(fake, ADA, "/search battery prices")
    text = reply["text"]
    assert reply["parse_mode"] == "HTML" and "1 match" in text
    assert "💡 Battery prices fell" in text and "<b>Show 0</b> — Episode 0" in text
    assert '<a href="https://example.org/0.mp3#t=30">[00:30]</a>' in text
    assert "<code>i01</code>" in text and "/ask i01" in text
    assert "reply_markup" not in reply or not reply["reply_markup"]


async def test_search_finds_words_of_a_transcript_and_never_another_chats_insights(world) -> None:
    fake, _ = world
    ada = (await say(fake, ADA, "/search volcanic eruption"))["text"]
    assert ada.count("📝") == 2 and "[15:00]" in ada and "Show 2" not in ada
    bob = (await say(fake, BOB, "/search index funds"))["text"]
    assert "Nothing found" in bob and "try fewer words" in bob


async def test_search_pages_with_buttons_and_refuses_forged_ones(world) -> None:
    fake, services = world
    many = [Insight(id=f"v{n:02d}", episode_id="ep0", feed_id="feed0", text=f"Volcanic ash fact {n}.",
                    quote=f"volcanic ash fact number {n}", start=1000.0 + n, end=1010.0 + n, created_at=NOW)
            for n in range(25)]
    await services.store.apply(services.repos.insights.changes(many))
    await send(services, f"telegram:{ADA}", many, "2026-11-29")
    first = await say(fake, ADA, "/search volcanic")
    assert "27 matches · page 1/3" in first["text"] and first["text"].count("💡") == 10
    (buttons,) = first["reply_markup"]["inline_keyboard"]
    assert [b["text"] for b in buttons] == ["Next ▶"]
    search_id = buttons[0]["callback_data"].split(":")[1]
    message_id = last_bot_message(fake, ADA)
    await press(fake, ADA, message_id, buttons[0]["callback_data"])
    edited = fake.messages[(ADA, message_id)]
    assert "page 2/3" in edited["text"] and "<b>11.</b>" in edited["text"]
    assert [b["text"] for b in edited["reply_markup"]["inline_keyboard"][0]] == ["◀ Previous", "Next ▶"]
    # forged: malformed data, a page far out of range, an id this chat never searched
    forged = await press(fake, ADA, message_id, "s:../../etc:1")
    assert "not one of mine" in forged.get("text", repr(forged)), forged
    await press(fake, ADA, message_id, f"s:{search_id}:999")
    assert "page 3/3" in fake.messages[(ADA, message_id)]["text"]
    assert "expired" in (await press(fake, ADA, message_id, "s:zzzzzz:1"))["text"]
    bob_reply = await say(fake, BOB, "/search volcanic")
    bob_message = last_bot_message(fake, BOB)
    answer = await press(fake, BOB, bob_message, f"s:{search_id}:1")  # ADA's search, from BOB's chat
    assert "expired" in answer["text"] and answer.get("show_alert")
    assert "Show 0" not in fake.messages[(BOB, bob_message)]["text"] and bob_reply


async def test_search_without_words_or_with_a_huge_query_is_told_why(world) -> None:
    fake, _ = world
    assert "a few words" in (await say(fake, ADA, "/search"))["text"]
    assert "under 200 characters" in (await say(fake, ADA, "/search " + "volcano " * 600))["text"]
    odd = (await say(fake, ADA, '/search <b>"battery" OR * (prices)'))["text"]
    assert "Battery prices" in odd and "&lt;b&gt;" in odd and "<b>\"battery" not in odd


def documents(fake: FakeTelegramApi, chat: int, after: int) -> list[tuple[str, bytes, str]]:
    return [(*r.files["document"], r.params.get("caption", "")) for r in fake.requests[after:]
            if r.method == "sendDocument" and r.params["chat_id"] == chat]


async def test_export_insights_sends_markdown_and_readwise_csv(world) -> None:
    fake, _ = world
    mark = fake.mark()
    fake.push_message(ADA, "/export insights", user_id=ADA)
    await fake.wait_until(lambda: len(documents(fake, ADA, mark)) == 2)
    (md_name, md, md_caption), (csv_name, data, _) = documents(fake, ADA, mark)
    assert (md_name, csv_name) == ("castfive-insights.md", "castfive-insights.csv")
    assert md.startswith(b"---\nshow: ") and "Obsidian" in md_caption
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
    assert len(rows) == 5
    assert tuple(rows[0]) == ("Highlight", "Title", "Author", "URL", "Note", "Location", "Date")


async def test_export_insights_since_a_date_bad_dates_and_the_opml_export_unchanged(world) -> None:
    fake, services = world
    later = await services.repos.insights.get("i11")
    await send(services, f"telegram:{ADA}", [later], "2026-11-29")  # type: ignore[list-item]
    mark = fake.mark()
    fake.push_message(ADA, "/export insights since 2026-11-29", user_id=ADA)
    await fake.wait_until(lambda: len(documents(fake, ADA, mark)) == 2)
    _, data, _ = documents(fake, ADA, mark)[1]
    assert len(list(csv.DictReader(io.StringIO(data.decode("utf-8"))))) == 1
    assert "YYYY-MM-DD" in (await say(fake, ADA, "/export insights since 29.11.2026"))["text"]
    assert "/export insights since" in (await say(fake, ADA, "/export insights since a b"))["text"]
    assert "nothing to export" in (await say(fake, BOB, "/export insights"))["text"]
    mark = fake.mark()
    fake.push_message(ADA, "/export", user_id=ADA)
    opml = await fake.wait_for("sendDocument", lambda p: p["chat_id"] == ADA, after=mark)
    assert opml.files["document"][0] == "castfive.opml"


async def test_an_export_over_the_upload_limit_is_sent_in_parts(world, monkeypatch) -> None:
    fake, _ = world
    monkeypatch.setattr(telegram_library, "UPLOAD_LIMIT", 1500)
    mark = fake.mark()
    fake.push_message(ADA, "/export insights", user_id=ADA)
    def csv_done() -> bool:  # the last CSV part says "part N of N"
        parts = [re.search(r"part (\d+) of (\d+)", c) for n, _, c in documents(fake, ADA, mark)
                 if n.endswith(".csv")]
        return bool(parts) and parts[-1] is not None and parts[-1][1] == parts[-1][2]

    await fake.wait_until(csv_done)
    sent = documents(fake, ADA, mark)
    markdown = [s for s in sent if s[0].endswith(".md")]
    assert len(markdown) > 1 and all(len(d) <= 1500 for _, d, _ in markdown)
    assert markdown[0][2].endswith(f"(part 1 of {len(markdown)}).")
    assert all(d.startswith(b"---\nshow: ") for _, d, _ in markdown)
