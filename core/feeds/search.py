"""Podcast search by terms through the iTunes Search API, with its JSON read defensively."""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import urlencode

from core.errors import FetchError, HttpStatusError, ValidationError
from core.ids import short_hash
from core.netguard import check_url
from core.ports import Fetcher, SearchResult

log = logging.getLogger(__name__)

MAX_RESPONSE_BYTES = 2 * 1024 * 1024
MAX_TERMS_CHARS = 200
MAX_LIMIT = 50


async def search_podcasts(
    fetcher: Fetcher, search_url: str, terms: str, limit: int = 8
) -> list[SearchResult]:
    """Podcasts matching `terms`, best first, each with a feed URL and a short id."""
    cleaned = " ".join(str(terms or "").split())[:MAX_TERMS_CHARS]
    if not cleaned:
        raise ValidationError("Type a few words to search for, e.g. a show's name.")
    count = max(1, min(int(limit), MAX_LIMIT))
    query = urlencode({"media": "podcast", "entity": "podcast", "term": cleaned, "limit": count})
    separator = "&" if "?" in search_url else "?"
    result = await fetcher.get(f"{search_url}{separator}{query}", max_bytes=MAX_RESPONSE_BYTES)
    if result.status != 200:
        raise HttpStatusError(
            f"The podcast search service is not answering right now (HTTP {result.status}).",
            result.status,
        )
    try:
        document = json.loads(result.body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        log.warning("podcast search answered with unreadable JSON (%d bytes)", len(result.body))
        raise FetchError("The podcast search service sent an unreadable answer.") from None
    return _results(document, count)


def _results(document: Any, limit: int) -> list[SearchResult]:
    """SearchResults from whatever the service sent: anything malformed is skipped, not fatal."""
    if not isinstance(document, dict):
        raise FetchError("The podcast search service sent an unexpected answer.")
    rows = document.get("results")
    if not isinstance(rows, list):
        raise FetchError("The podcast search service sent an unexpected answer.")
    found: list[SearchResult] = []
    seen: set[str] = set()
    for row in rows:
        if len(found) >= limit:
            break
        if not isinstance(row, dict):
            continue
        feed_url = _feed_url(row.get("feedUrl"))
        if feed_url is None or feed_url in seen:
            continue
        seen.add(feed_url)
        title = _text(row.get("collectionName")) or _text(row.get("trackName")) or feed_url
        found.append(SearchResult(
            id=short_hash(feed_url, length=8),
            title=title,
            author=_text(row.get("artistName")),
            feed_url=feed_url,
        ))
    return found


def _feed_url(value: Any) -> str | None:
    if not isinstance(value, str) or len(value) > 2048:
        return None
    try:
        return check_url(value)
    except FetchError:
        return None


def _text(value: Any, limit: int = 200) -> str:
    """A short single-line string; control characters and non-strings dropped."""
    if not isinstance(value, str):
        return ""
    printable = "".join(c for c in value[: limit * 4] if c.isprintable() or c == " ")
    return " ".join(printable.split())[:limit]
