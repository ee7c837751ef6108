"""The fast reader: RSS 2.0 read off ElementTree's C parser straight into drafts.

feedparser spends 2-4 ms of Python per item on bookkeeping no podcast needs; this reads the same
values off the C tree builder (items: `core/feeds/rss_item.py`). A feed with more items than the
cap is streamed, and items beyond it are let go as soon as they end (their date is the only thing
read), so a 100,000-item feed holds at most the cap in memory.
Anything it cannot take (Atom, RSS 1.0, a default namespace, XML that stays broken after the
usual repairs) returns None and goes to feedparser.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from xml.etree.ElementTree import Element, ParseError, fromstring, iterparse

import defusedxml
from defusedxml.ElementTree import DefusedXMLParser

from core.errors import FeedParseError
from core.feeds.cap import keep_newest
from core.feeds.draft import FeedDraft
from core.feeds.fields import absolute_url
from core.feeds.podcast_ns import mentions_podcast_namespace
from core.feeds.rss_item import Names, item_date, read_item
from core.feeds.xmlguard import REFUSED_ENTITIES, declarations_visible, repair_common_faults

_XMLNS = re.compile(rb"""xmlns:([A-Za-z_][\w.-]*)\s*=\s*["']([^"']*)["']""")
_HTML_TYPES = ("text/html", "html", "application/xhtml+xml", "xhtml")


class _NotRss(Exception):
    """The document is well-formed but not RSS 2.0: feedparser's turn."""


def read_rss(body: bytes, base_url: str | None, max_items: int) -> FeedDraft | None:
    """The feed's raw values, or None when feedparser should read it instead."""
    try:
        return _read(body, base_url, max_items, ())
    except _NotRss:
        return None
    except (ParseError, ValueError, UnicodeError, LookupError) as exc:
        fault = " ".join(str(exc).split())[:300]
    repaired = repair_common_faults(body)
    if repaired == body:
        return None
    try:
        return _read(repaired, base_url, max_items, (f"repaired malformed XML: {fault}",))
    except (_NotRss, ParseError, ValueError, UnicodeError, LookupError):
        return None


def _read(body: bytes, base_url: str | None, max_items: int,
          warnings: tuple[str, ...]) -> FeedDraft:
    names = Names()
    for prefix, uri in _XMLNS.findall(body[: body.find(b">", body.find(b"<rss")) + 1]):
        names.declare(prefix.decode("utf-8", "replace"), uri.decode("utf-8", "replace"))
    # By here no entity is declared (xmlguard wrote out the harmless ones and refused the
    # rest), so ElementTree's C parser, twice as fast, may read the document; defusedxml's
    # refusing one reads any document in an encoding that byte-level check cannot see into.
    visible = declarations_visible(body)
    try:
        if body.count(b"<item") <= max_items:  # the whole tree in C, no event per element
            parser = None if visible else _defused_parser()
            channel, kept = _channel_and_items(fromstring(body, parser=parser))
        else:
            channel_box: list[Element] = []
            kept = keep_newest(_streamed_items(body, visible, channel_box), max_items,
                               lambda el: item_date(el, names), dropped=lambda el: el.clear())
            channel = channel_box[0] if channel_box else None
    except defusedxml.DefusedXmlException:
        raise FeedParseError(REFUSED_ENTITIES) from None
    if channel is None:
        raise _NotRss  # <rss> without <channel>: feedparser words the error
    draft = _channel(channel, names, base_url, strict=mentions_podcast_namespace(body))
    draft.items = [read_item(el, names, base_url) for el in kept]
    draft.item_count = sum(1 for child in channel if child.tag == "item")
    draft.warnings = warnings
    draft.reader = "rss"
    return draft


def _defused_parser() -> DefusedXMLParser:
    return DefusedXMLParser(forbid_dtd=False, forbid_entities=True, forbid_external=True)


def _channel_and_items(root: Element) -> tuple[Element | None, list[Element]]:
    if root.tag != "rss":
        raise _NotRss
    channel = root.find("channel")
    return channel, [] if channel is None else channel.findall("item")


def _streamed_items(body: bytes, visible: bool, channel_box: list[Element]) -> Iterator[Element]:
    """Each <item> of the channel as it ends (so the cap can let it go); the channel element
    lands in channel_box."""
    depth = 0
    parser = None if visible else _defused_parser()
    for event, el in iterparse(io.BytesIO(body), events=("start", "end"), parser=parser):
        if event == "start":
            if depth == 0 and el.tag != "rss":
                raise _NotRss
            if depth == 1 and el.tag == "channel" and not channel_box:
                channel_box.append(el)
            depth += 1
            continue
        depth -= 1
        if depth == 2 and el.tag == "item" and channel_box:
            yield el


def _channel(channel: Element, names: Names, base_url: str | None, strict: bool) -> FeedDraft:
    """The channel's own values. `strict`: the feed has Podcasting 2.0 tags, whose readers took
    the first link and image; feedparser (for the others) kept the last."""
    draft = FeedDraft()
    links: list[str | None] = []
    images: list[str | None] = []
    summary = subtitle = ""
    has_summary = False
    for child in channel:
        kind, name = names(child.tag)
        text = child.text or ""
        if kind == "" and name == "title" and not draft.title:
            draft.title = text.strip()
        elif name == "link" and kind in ("", "atom"):
            links.append(_channel_link(child, kind, text, strict))
        elif name == "image" and kind in ("", "itunes"):
            images.append(child.get("href") if kind == "itunes" else
                          next((u.text for u in child if names(u.tag) == ("", "url")), None))
        elif (kind, name) in (("", "description"), ("itunes", "subtitle")):
            # As feedparser: a <description> after an itunes:summary is other content.
            if not (name == "description" and has_summary):
                subtitle = text
        elif (kind, name) == ("itunes", "summary") and not has_summary:
            summary, has_summary = text, True
        elif (kind, name) == ("itunes", "new-feed-url") and text.strip():
            draft.new_feed_url = text.strip()
        elif (kind, name) == ("", "redirect") and draft.new_feed_url is None:
            location = next((c.text for c in child if names(c.tag)[1] == "newlocation"), None)
            draft.new_feed_url = (location or "").strip() or None
    links = [link for link in links if link is not None]
    images = [image for image in images if image is not None or not strict]
    pick = 0 if strict else -1
    draft.site_url = absolute_url(links[pick], base_url) if links else None
    draft.image_url = absolute_url(images[pick], base_url) if images else None
    draft.description = subtitle or summary
    return draft


def _channel_link(child: Element, kind: str, text: str, strict: bool) -> str | None:
    """A channel link candidate; None when it is no candidate for the reader being matched."""
    if strict:
        return text or child.get("href") or ""
    if kind == "":
        return text.strip()
    rel, mime = child.get("rel") or "alternate", child.get("type") or "text/html"
    return child.get("href") if rel == "alternate" and mime in _HTML_TYPES else None
