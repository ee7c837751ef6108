"""Pure Discord rendering: embeds and messages stay inside Discord's limits whatever the input."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import discord

from bot.render_discord import (
    CHOICE_LIMIT,
    DESCRIPTION_LIMIT,
    EMBED_TOTAL_LIMIT,
    FIELD_LIMIT,
    FOOTER_LIMIT,
    MESSAGE_LIMIT,
    TITLE_LIMIT,
    answer_chunks,
    choice_label,
    feeds_text,
    import_text,
    item_embed,
    item_header,
    question_echo,
    rate_limited_text,
    safe_url,
    thread_name,
)
from core.errors import RateLimitedError
from core.models import Answer, Citation, Feed
from core.ports import ImportResult
from tests.fakes.fake_castfive_api import make_item


def _within_limits(embed: discord.Embed) -> None:
    data = embed.to_dict()
    assert len(data.get("title", "")) <= TITLE_LIMIT
    assert len(data.get("description", "")) <= DESCRIPTION_LIMIT
    assert len(data["author"]["name"]) <= TITLE_LIMIT and len(data["footer"]["text"]) <= FOOTER_LIMIT
    assert all(len(f["value"]) <= FIELD_LIMIT and len(f["name"]) <= TITLE_LIMIT for f in data["fields"])
    assert len(embed) <= EMBED_TOTAL_LIMIT


def test_an_insight_embed_shows_show_episode_moment_page_timestamp_and_id():
    item = make_item(2)
    data = item_embed(item).to_dict()
    assert data["author"]["name"] == "🎙 Hard Fork"
    assert data["title"] == "Episode 102" and data["url"] == "https://example.org/episodes/2"
    assert item.insight.text in data["description"] and "“Honestly" in data["description"]
    moment = data["fields"][0]["value"]
    assert "`[02:12]`" in moment and "(https://cdn.example.org/ep2.mp3#t=132)" in moment
    assert f"id {item.insight.id}" in data["footer"]["text"] and data["footer"]["text"].startswith("2/5")


def test_only_the_first_insight_of_a_digest_carries_the_header():
    assert "Today's Castfive" in (item_header(make_item(1)) or "")
    assert item_header(make_item(2)) is None


def test_an_embed_of_enormous_hostile_text_stays_inside_every_limit():
    huge = "word " * 5000
    item = dataclasses.replace(make_item(1, text=huge, quote=huge), show_title="S" * 900,
                               episode_title="E" * 900, moment_url="https://x.org/" + "a" * 3000)
    embed = item_embed(item)
    _within_limits(embed)
    assert "Listen" not in embed.fields[0].value  # an absurd URL is dropped, the time stays


def test_markdown_and_links_in_outside_text_are_inert():
    item = make_item(1, text="**Click** [here](https://evil.example) `now` # Heading")
    description = item_embed(item).description or ""
    assert "\\*\\*Click\\*\\*" in description and "\\[here](https://evil.example)" in description
    assert "\\`now\\`" in description


def test_only_http_links_are_linked_and_parentheses_cannot_end_a_link_early():
    assert safe_url("javascript:alert(1)") is None
    assert safe_url("https://ok.example/a b") is None
    assert safe_url("https://ok.example/x_(y)") == "https://ok.example/x_%28y%29"


def test_a_long_answer_is_split_into_messages_of_at_most_2000_characters():
    paragraph = "The guest explains the data in great detail. " * 40
    answer = Answer("i1", "why?", "\n\n".join([paragraph] * 6),
                    citations=tuple(Citation(60.0 * n, 60.0 * n + 9, "quoted words " * 80) for n in range(5)),
                    show_title="Hard Fork", episode_title="Episode 1")
    chunks = answer_chunks(answer)
    assert len(chunks) >= 5 and all(len(c) <= MESSAGE_LIMIT for c in chunks)
    assert chunks[0].startswith("🎙 *Hard Fork — Episode 1*")
    assert "**[04:00]**" in "\n".join(chunks)


def test_an_ungrounded_answer_says_so():
    text = "\n".join(answer_chunks(Answer("i1", "q", "Not covered.", grounded=False)))
    assert "does not seem to cover this" in text


def test_names_and_labels_fit_discord_caps():
    long = "q" * 900
    assert len(thread_name(long)) <= CHOICE_LIMIT
    assert len(choice_label(make_item(1, text=long))) <= CHOICE_LIMIT
    assert len(question_echo("<@1>", long * 5)) <= MESSAGE_LIMIT


def test_a_cooldown_says_when_asking_works_again_as_a_discord_timestamp():
    at = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
    text = rate_limited_text(RateLimitedError("You have asked a lot this hour.", at))
    assert f"<t:{int(at.timestamp())}:R>" in text and f"<t:{int(at.timestamp())}:t>" in text
    assert text.startswith("⏳ You have asked a lot this hour.")


def test_long_feed_lists_and_import_reports_fit_one_message():
    feeds = [Feed(id=f"f{n:04d}", url=f"https://e.org/{n}", title="T" * 200) for n in range(300)]
    listed = feeds_text(feeds)
    assert len(listed) <= MESSAGE_LIMIT and "more" in listed.splitlines()[-1]
    report = import_text(ImportResult(tuple(feeds), tuple(("x" * 300, "y" * 300) for _ in range(50))))
    assert len(report) <= MESSAGE_LIMIT and report.startswith("📥 Imported **300**")
