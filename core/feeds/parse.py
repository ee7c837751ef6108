"""Feed bytes -> ParsedFeed: pure and synchronous (callers run it off the event loop).

The XML guard first; then the fast RSS reader (`rss_reader`), and feedparser for what it cannot
read (`feedparser_reader`); both fill drafts that `items` and `_finish` clean the same way.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

from core.errors import FeedParseError
from core.feeds.cap import DEFAULT_MAX_ITEMS
from core.feeds.draft import FeedDraft
from core.feeds.feedparser_reader import read_with_feedparser
from core.feeds.fields import absolute_url, html_to_text, text_line, web_scheme
from core.feeds.identity import unique_episodes
from core.feeds.items import MAX_DESCRIPTION_INPUT, episode_from
from core.feeds.rss_reader import read_rss
from core.feeds.xmlguard import inline_internal_entities
from core.models import ParsedFeed

log = logging.getLogger(__name__)

_EARLIEST = datetime.min.replace(tzinfo=None)


def parse_feed(body: bytes, base_url: str | None = None, *,
               max_items: int = DEFAULT_MAX_ITEMS, label: str = "") -> ParsedFeed:
    """Read a podcast feed (RSS, Atom or RDF) from bytes; raises FeedParseError if it is not one.

    Only the `max_items` newest items are read into episodes. `label` names the feed in the log
    line that reports the parse's cost (a feed id: never the URL, which may carry a secret).
    """
    if not isinstance(body, (bytes, bytearray)) or not bytes(body).strip():
        raise FeedParseError("The feed is empty: the server sent no content.")
    started = time.process_time()
    body = inline_internal_entities(bytes(body))
    draft = read_rss(body, base_url, max_items) or read_with_feedparser(body, base_url, max_items)
    feed = _finish(draft, base_url)
    log.info("feed %s parsed: %d items (%d kept), %d bytes, %.1f ms CPU, %s reader", label or "-",
             draft.item_count, len(draft.items), len(body), (time.process_time() - started) * 1000,
             draft.reader)
    return feed


def _finish(draft: FeedDraft, base_url: str | None) -> ParsedFeed:
    episodes = [ep for item in draft.items if (ep := episode_from(item, base_url)) is not None]
    # Newest first; the sort is stable, so undated items keep the publisher's order.
    episodes.sort(key=lambda e: e.published_at.replace(tzinfo=None) if e.published_at
                  else _EARLIEST, reverse=True)
    return ParsedFeed(
        title=text_line(draft.title)[:300],
        site_url=draft.site_url or "",
        image_url=draft.image_url or "",
        description=html_to_text(draft.description[:MAX_DESCRIPTION_INPUT], limit=5000),
        episodes=tuple(unique_episodes(episodes)),
        new_feed_url=absolute_url(web_scheme(draft.new_feed_url or ""), base_url),
        warnings=draft.warnings,
    )
