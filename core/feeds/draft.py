"""What a feed reader hands on: the raw values of a channel and its items, before cleaning.

Both readers (the fast RSS one and feedparser for everything else) fill these, so turning raw
values into a ParsedFeed happens in one place (`core/feeds/items.py`, `core/feeds/parse.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.feeds.podcast_ns import ItemExtras
from core.models import Chapter


@dataclass
class MediaDraft:
    """One enclosure or media:content rendition, as written."""

    url: str
    type: str = ""
    length: str | None = None
    medium: str = ""
    duration: str | None = None
    is_default: bool = False


@dataclass
class ItemDraft:
    """One feed item's raw values."""

    guid: str | None = None
    guid_is_permalink: bool = False
    title: str = ""
    itunes_title: str = ""
    dates: tuple[str, ...] = ()  # published, then updated, then created: the first readable wins
    enclosures: list[MediaDraft] = field(default_factory=list)
    media: list[MediaDraft] = field(default_factory=list)  # media:content, in document order
    links: list[str] = field(default_factory=list)  # alternate (page) links
    descriptions: list[str] = field(default_factory=list)
    duration: str | None = None  # itunes:duration
    extras: ItemExtras | None = None  # Podcasting 2.0 tags
    chapters: tuple[Chapter, ...] = ()  # inline Podlove Simple Chapters


@dataclass
class FeedDraft:
    """A channel's values (its URLs already resolved) and its items, in document order."""

    title: str = ""
    site_url: str | None = None
    image_url: str | None = None
    description: str = ""
    new_feed_url: str | None = None
    items: list[ItemDraft] = field(default_factory=list)
    item_count: int = 0  # items in the document, including those beyond the cap
    warnings: tuple[str, ...] = ()
    reader: str = ""  # which reader read it, for the log: "rss" (fast) or "feedparser"
