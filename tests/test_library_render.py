"""Search pages fit one message on each platform whatever the hits hold, and stay text."""

from __future__ import annotations

from bot.discord_library import page_embed
from bot.render_library import plain_page, telegram_page_html
from core.library.models import SearchHit, SearchPage


def page_of(text: str, title: str, url: str | None) -> SearchPage:
    hits = tuple(SearchHit("insight" if n % 2 else "transcript", title, title, 61.0 * n, text, text,
                           url, None, f"id{n:05d}", 1.0) for n in range(10))
    return SearchPage("q" * 200, "abcdef", hits, 1, 3, 30)


def test_a_page_of_long_hits_fits_telegram_and_a_discord_embed() -> None:
    page = page_of("word " * 2000, "Title " * 100, "https://example.org/" + "a" * 900 + ".mp3#t=61")
    assert len(telegram_page_html(page)) <= 4096
    embed = page_embed(page)
    assert len(embed.title or "") <= 256 and len(embed.description or "") <= 4096
    assert "11." in plain_page(page)


def test_markup_and_odd_links_in_hits_stay_text() -> None:
    page = page_of('<b>bold</b> **x** [a](javascript:y) @everyone', "<i>Show</i> `t`", "javascript:alert(1)")
    html = telegram_page_html(page)
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html and "href=\"javascript" not in html
    description = page_embed(page).description or ""
    assert "\\*\\*x\\*\\*" in description and "\\[a](javascript" in description  # escaped: no link
