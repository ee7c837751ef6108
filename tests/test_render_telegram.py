"""Pure Telegram rendering: escaping, links, buttons, answer chunks, plain fallbacks."""

from __future__ import annotations

import dataclasses
import html
import re

import pytest

from bot import render_telegram as rt
from bot.render_sharing import format_wait
from core.models import Answer, Citation, Feed
from core.ports import ImportResult, SearchResult
from tests.fakes.fake_castfive_api import make_item

HOSTILE = "<b>bold</b> & <a href=\"javascript:alert(1)\">x</a> </code> &amp; 3 < 4"


def assert_only_our_tags(markup: str) -> None:
    """Every tag left is one we write; any outside '<' arrived escaped."""
    for tag in re.findall(r"</?([a-z]+)", markup):
        assert tag in {"b", "i", "a", "code", "blockquote"}, tag
    assert '<a href="javascript' not in markup


def test_item_html_escapes_every_outside_text() -> None:
    item = make_item(1, show=HOSTILE, text=HOSTILE, quote=HOSTILE)
    item = dataclasses.replace(item, episode_title=HOSTILE)
    markup = rt.render_item_html(item, "2026-11-28")
    assert markup.count(html.escape(HOSTILE, quote=False)) == 4
    assert "<b>bold</b>" not in markup and '<a href="javascript' not in markup
    assert_only_our_tags(markup)


def test_item_html_has_header_insight_links_and_id() -> None:
    item = make_item(1)
    markup = rt.render_item_html(item, "2026-11-28")
    assert markup.splitlines()[0] == "<b>Your Castfive for Sat 28 Nov · 1/5</b>"
    assert f"💡 {item.insight.text}" in markup
    assert "🎙 <b>Hard Fork</b> — Episode 101" in markup
    assert '<a href="https://cdn.example.org/ep1.mp3#t=72">Listen from 01:12</a>' in markup
    assert f"<code>{item.insight.id}</code>" in markup


def test_non_web_links_are_dropped_not_linked() -> None:
    item = dataclasses.replace(make_item(2), moment_url="javascript:alert(1)#t=3",
                               page_url='https://ok.example/"><b>')
    markup = rt.render_item_html(item)
    assert "<a " not in markup and "▶️ at 02:12" in markup
    assert "javascript" not in rt.render_item_plain(item)


def test_link_urls_are_attribute_escaped() -> None:
    item = dataclasses.replace(make_item(2), page_url="https://ex.example/a?b=1&c='2'")
    assert 'href="https://ex.example/a?b=1&amp;c=&#x27;2&#x27;"' in rt.render_item_html(item)


def test_plain_item_writes_links_out_and_has_no_markup() -> None:
    item = make_item(1, show="Tips & <Tricks>")
    plain = rt.render_item_plain(item, "2026-11-28")
    assert plain.startswith("Your Castfive for Sat 28 Nov · 1/5")
    assert "🎙 Tips & <Tricks> — Episode 101" in plain
    assert "Listen from 01:12: https://cdn.example.org/ep1.mp3#t=72" in plain
    assert "Episode page: https://example.org/episodes/1" in plain


def test_long_quotes_are_shortened_in_the_digest() -> None:
    item = make_item(1, quote="word " * 500)
    assert len(rt.render_item_html(item)) < 1000


def test_item_keyboard_has_ask_and_thumbs() -> None:
    rows = rt.item_keyboard("ab12cd3").to_dict()["inline_keyboard"]
    assert [(b["text"], b["callback_data"]) for b in rows[0]] == [
        ("❓ Ask", "a:ab12cd3"), ("👍", "u:ab12cd3"), ("👎", "d:ab12cd3")]


def test_callback_data_is_never_over_64_bytes() -> None:
    assert rt.callback_data("a", "x" * 62) == "a:" + "x" * 62
    with pytest.raises(ValueError):
        rt.callback_data("a", "x" * 63)
    with pytest.raises(ValueError):
        rt.callback_data("p", "é" * 32)  # 64 bytes of UTF-8 plus the prefix
    keyboards = [rt.item_keyboard("ab12cd3"),
                 rt.feeds_keyboard([Feed(id="f" + "a" * 7, url="https://x", title="t" * 300)]),
                 rt.candidates_keyboard([SearchResult("s" * 20, "T" * 300, "A" * 300, "https://x")])]
    for keyboard in keyboards:
        assert keyboard is not None
        for row in keyboard.inline_keyboard:
            for button in row:
                assert len(button.callback_data.encode()) <= 64  # type: ignore[union-attr]
                assert len(button.text) <= rt.BUTTON_TITLE_LIMIT + 2


def test_parse_callback_splits_action_and_id() -> None:
    assert rt.parse_callback("u:ab12cd3") == ("u", "ab12cd3")
    assert rt.parse_callback("garbage") == ("", "") and rt.parse_callback(None) == ("", "")


def test_answer_html_escapes_and_cites_timestamps() -> None:
    answer = Answer("ab12cd3", "q", text=HOSTILE, citations=(Citation(75, 80, "a < b"),
                                                              Citation(3725, 3730, "later")),
                    show_title="S & S", episode_title="<Ep>")
    [chunk] = rt.render_answer_html(answer)
    assert html.escape(HOSTILE, quote=False) in chunk
    assert "<b>[01:15]</b> “a &lt; b”" in chunk and "<b>[1:02:05]</b> “later”" in chunk
    assert "🎙 <i>S &amp; S — &lt;Ep&gt;</i>" in chunk
    assert_only_our_tags(chunk)


def test_an_ungrounded_answer_says_so() -> None:
    [chunk] = rt.render_answer_html(Answer("i", "q", text="No idea.", grounded=False))
    assert "does not seem to cover this" in chunk


def test_a_long_answer_splits_on_lines_under_the_limit() -> None:
    text = "\n".join(f"Line {n:03d} " + "& <x> " * 15 for n in range(60))
    chunks = rt.render_answer_html(Answer("i", "q", text=text))
    assert len(chunks) >= 2 and all(len(c) <= rt.CHUNK_LIMIT < rt.MESSAGE_LIMIT for c in chunks)
    lines = [line for c in chunks for line in c.splitlines()]
    assert sum(1 for line in lines if line.startswith("Line ")) == 60  # no line was cut


def test_one_huge_paragraph_is_wrapped_without_breaking_entities() -> None:
    text = ("&&&& " * 3000) + "x" * 9000 + " y" + "&" * 2000  # escaping grows & 5x; unbreakable words
    chunks = rt.render_answer_html(Answer("i", "q", text=text))
    assert all(len(c) <= rt.CHUNK_LIMIT for c in chunks)
    for chunk in chunks:
        assert not re.search(r"&(?!amp;|lt;|gt;)", chunk)  # every & starts a whole entity
    assert "".join(rt.html_to_plain(c) for c in chunks).replace(" ", "").replace("\n", "") \
        == text.replace(" ", "")


def test_html_to_plain_drops_our_tags_and_unescapes() -> None:
    markup = "<b>[01:15]</b> “a &lt;b&gt; &amp; c”"
    assert rt.html_to_plain(markup) == "[01:15] “a <b> & c”"


def test_feed_list_and_import_report_escape_titles() -> None:
    feeds = [Feed(id="f1234567", url="https://x", title="R&D <Weekly>")]
    assert "1. R&amp;D &lt;Weekly&gt;" in rt.render_feeds_html(feeds)
    report = rt.render_import_html(ImportResult(added=tuple(feeds), failed=(("<bad>", "no & way"),)))
    assert "• R&amp;D &lt;Weekly&gt;" in report and "• &lt;bad&gt;: no &amp; way" in report
    assert "You follow no podcasts yet" in rt.render_feeds_html([])


@pytest.mark.parametrize("seconds, words", [(5, "in a minute"), (60, "in a minute"),
                                            (61, "in 2 minutes"), (720, "in 12 minutes"),
                                            (3 * 3600, "in about 3 hours")])
def test_format_wait_reads_naturally(seconds: float, words: str) -> None:
    assert format_wait(seconds) == words


def test_local_dates_read_as_weekday_day_month() -> None:
    assert rt.format_local_date("2026-11-28") == "Sat 28 Nov"
    assert rt.format_local_date("not a date") == "not a date"
