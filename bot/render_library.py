"""Pure rendering of library search pages: what every platform shares, Telegram HTML, plain text.

A page of up to ten hits must fit one message (Telegram 4,096 characters, a Discord embed
description 4,096), so that paging can edit it in place: the hit texts shrink until it fits.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from core.library.models import SearchHit, SearchPage
from core.timeutil import format_timestamp

TEXT_LIMITS = (240, 160, 100, 60)  # tried in turn until the page fits
TITLE_LIMIT = 60
_SAFE_URL = re.compile(r"^https?://[^\s<>\"()]+$", re.IGNORECASE)


def shorten(text: str, limit: int) -> str:
    """Whitespace collapsed and cut to `limit` characters with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def link(hit: SearchHit) -> str | None:
    """The hit's moment (else its episode page), only a plain http(s) URL."""
    url = hit.moment_url or hit.page_url
    return url if url and _SAFE_URL.match(url) else None


def fitted(render: Callable[[int], str], limit: int) -> str:
    """The page rendered with the longest hit texts that keep it within `limit` characters."""
    for text_limit in TEXT_LIMITS:
        body = render(text_limit)
        if len(body) <= limit:
            return body
    return body[: limit - 1] + "…"


def heading(page: SearchPage) -> str:
    """'12 matches · page 1/2' (plain)."""
    found = f"{page.total} match{'es' if page.total != 1 else ''}"
    return f"{found} · page {page.page + 1}/{page.pages}" if page.pages > 1 else found


# --- Telegram ---------------------------------------------------------------------------------


def _esc(text: str) -> str:
    return html.escape(text, quote=False)


def telegram_page_html(page: SearchPage, limit: int = 4000) -> str:
    """A search page as Telegram HTML."""
    query = _esc(shorten(page.query, 80))
    if not page.hits:
        return f"🔎 Nothing found for “{query}”. {_esc(page.hint)}".rstrip()

    def render(text_limit: int) -> str:
        lines = [f"🔎 <b>“{query}”</b> · {_esc(heading(page))}", ""]
        for n, hit in enumerate(page.hits, start=page.first_position):
            mark = "💡" if hit.source == "insight" else "📝"
            lines.append(f"<b>{n}.</b> {mark} {_esc(shorten(hit.text, text_limit))}")
            stamp = f"[{format_timestamp(hit.start)}]"
            url = link(hit)
            moment = f'<a href="{html.escape(url)}">{stamp}</a>' if url else stamp
            lines.append(f"🎙 <b>{_esc(shorten(hit.show_title, TITLE_LIMIT))}</b> — "
                         f"{_esc(shorten(hit.episode_title, TITLE_LIMIT))} · {moment}")
            if hit.insight_id:
                lines.append(f"🆔 <code>{_esc(hit.insight_id)}</code> · /ask {_esc(hit.insight_id)} …")
            lines.append("")
        return "\n".join(lines).rstrip()

    return fitted(render, limit)


# --- terminal -----------------------------------------------------------------------------------


def plain_page(page: SearchPage) -> str:
    """A search page for the terminal."""
    if not page.hits:
        return f"Nothing found for “{page.query}”. {page.hint}".rstrip()
    lines = [f"“{page.query}”: {heading(page)}", ""]
    for n, hit in enumerate(page.hits, start=page.first_position):
        lines.append(f"{n}. {shorten(hit.text, 300)}")
        lines.append(f"   {hit.show_title} · {hit.episode_title} · [{format_timestamp(hit.start)}]"
                     + (f" · {hit.source}" if hit.source != "insight" else ""))
        if url := hit.moment_url or hit.page_url:
            lines.append(f"   {url}")
        if hit.insight_id:
            lines.append(f"   id {hit.insight_id}  (castfive ask {hit.insight_id} \"your question\")")
        lines.append("")
    return "\n".join(lines).rstrip()


def choice_label(hit: SearchHit, limit: int = 100) -> str:
    """An autocomplete label for the best live match."""
    return shorten(f"🔎 {hit.show_title} · {hit.text}", limit)
