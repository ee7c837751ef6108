"""The lenient reader: feedparser for what the fast RSS reader cannot take (Atom, RSS 1.0,
broken markup), with a strict second read for the Podcasting 2.0 tags feedparser flattens."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

import feedparser

from core.errors import FeedParseError
from core.feeds.cap import keep_newest
from core.feeds.dates import parse_date
from core.feeds.draft import FeedDraft, ItemDraft, MediaDraft
from core.feeds.fields import absolute_url, guess_transcript_type, mime_of, parse_float
from core.feeds.podcast_ns import FeedExtras, ItemExtras, mentions_podcast_namespace, read_extras
from core.feeds.psc import psc_chapters
from core.models import Soundbite, TranscriptLink

log = logging.getLogger(__name__)

_HTML_START = re.compile(rb"^\s*(<!--.*?-->\s*)*<(!doctype\s+html|html[\s>]|head[\s>]|body[\s>])",
                         re.IGNORECASE | re.DOTALL)
_CHANNEL = re.compile(rb"<(?:[\w.-]+:)?channel[\s/>]")
_ITEM_START = re.compile(rb"<(?:[\w.-]+:)?(?:item|entry)[\s/>]")
_ROOT = re.compile(rb"<(?![?!])([\w.:-]+)")  # the first element's name (after prolog and comments)


def read_with_feedparser(body: bytes, base_url: str | None, max_items: int) -> FeedDraft:
    """The feed's raw values as feedparser reads them; raises FeedParseError if it is not a feed."""
    whole, body, item_count = body, *_first_items(body, max_items)
    parsed = _run_feedparser(body)
    version = str(parsed.get("version") or "")
    if not version:
        if _HTML_START.match(body[:4096]):
            raise FeedParseError("That address serves a web page, not a podcast feed.")
        raise FeedParseError("That document is not a podcast feed (no RSS or Atom found).")
    channel = parsed.get("feed") or {}
    entries = parsed.get("entries") or []
    # An empty <channel> (or Atom <feed>) is a feed with no episodes yet, not an error.
    if not channel and not entries and not (version.startswith("atom") or _CHANNEL.search(whole)):
        raise FeedParseError("The feed has no channel: no title and no episodes.")
    extras = read_extras(body, base_url) if mentions_podcast_namespace(whole) else None
    pairs = list(zip(entries, _match_extras(entries, extras), strict=True))
    kept = keep_newest(pairs, max_items, lambda pair: _entry_date(pair[0]))
    warnings: tuple[str, ...] = ()
    if parsed.get("bozo"):
        reason = str(parsed.get("bozo_exception") or "malformed XML")
        warnings = (" ".join(reason.split())[:300],)  # plain text: "<unknown>:4:0: ..." stays
    # The strict read wins for the channel: feedparser lets a podcast:liveItem's title, link
    # and image overwrite the channel's own.
    return FeedDraft(
        title=extras.title if extras and extras.title else _text(channel.get("title")),
        site_url=(extras.link if extras else None) or _site_url(channel, base_url),
        image_url=(extras.image_url if extras else None) or _image_url(channel, base_url),
        description=channel.get("subtitle") or channel.get("summary") or "",
        new_feed_url=_text(channel.get("itunes_new-feed-url") or channel.get("newlocation")),
        items=[_item(entry, more, base_url) for entry, more in kept],
        item_count=max(item_count, len(entries)),
        warnings=warnings,
        reader="feedparser",
    )


def _first_items(body: bytes, max_items: int) -> tuple[bytes, int]:
    """The body cut just before its item number max_items + 1, and how many items it has.

    feedparser reads every item it is given (a 100,000-item feed costs it a minute), and a feed
    only lands here when the fast reader could not read it, so its dates are no guide: the
    first items of the document are kept, which in almost every feed are the newest.
    """
    starts = [m.start() for m in _ITEM_START.finditer(body)]
    if len(starts) <= max_items:
        return body, len(starts)
    cut = body[: starts[max_items]]
    return cut + _closing_tags(cut), len(starts)


def _closing_tags(cut: bytes) -> bytes:
    """The end tags a document cut before an item needs: else feedparser falls back to its loose
    parser (twice the time) and the strict read of the podcast namespace gets nothing."""
    root = _ROOT.search(cut)
    if root is None:
        return b""
    name = root.group(1)
    # RSS 2.0 items sit in <channel>; Atom entries and RSS 1.0 items sit in the root itself
    inner = b"</channel>" if name.rsplit(b":", 1)[-1].lower() == b"rss" and _CHANNEL.search(cut) else b""
    return inner + b"</" + name + b">"


def _run_feedparser(body: bytes) -> Any:
    try:
        # A stream, never bytes or str: feedparser opens a str as a URL and bytes as a file path.
        # HTML is reduced to plain text here and relative URLs resolved against base_url, so
        # feedparser's sanitizer and resolver (most of its time on big feeds) are switched off.
        return feedparser.parse(io.BytesIO(body), sanitize_html=False, resolve_relative_uris=False)
    except Exception as exc:  # noqa: BLE001 - feedparser 6 raises on some character references and entities
        log.info("feedparser raised %s", type(exc).__name__)
        raise FeedParseError(
            "The feed could not be read: it contains characters or entities no parser accepts "
            f"({type(exc).__name__})."
        ) from None


def _site_url(channel: Any, base_url: str | None) -> str | None:
    link = absolute_url(channel.get("link"), base_url)
    if channel.get("guidislink"):
        # feedparser copies an Atom <id> into `link` when there is none; an id is not a page,
        # and one that is the feed's own address is certainly not the show's website.
        return link if link and link != base_url else None
    return link


def _image_url(channel: Any, base_url: str | None) -> str | None:
    image = channel.get("image") or {}
    href = image.get("href") if isinstance(image, Mapping) else None
    for candidate in (href, channel.get("logo"), channel.get("icon")):  # Atom: logo, then icon
        if url := absolute_url(candidate, base_url):
            return url
    return None


def _match_extras(entries: Sequence[Any], extras: FeedExtras | None) -> list[ItemExtras | None]:
    """Pair each feedparser entry with its strict-read tags: by position, checked by guid."""
    if extras is None:
        return [None] * len(entries)
    guids = [(_text(e.get("id")) or None) for e in entries]
    if len(extras.items) == len(entries) and all(
        a is None or b is None or a == b for a, b in zip(guids, (x.guid for x in extras.items), strict=True)
    ):
        return list(extras.items)
    by_guid = {x.guid: x for x in extras.items if x.guid}
    return [by_guid.get(g) if g else None for g in guids]


def _entry_dates(entry: Any) -> tuple[str, ...]:
    # dict.get: feedparser's own get() maps a missing `updated` to `published`, with a warning.
    return tuple(d for key in ("published", "updated", "created")
                 if isinstance(d := dict.get(entry, key), str) and d.strip())


def _entry_date(entry: Any) -> Any:
    return next((w for d in _entry_dates(entry) if (w := parse_date(d)) is not None), None)


def _item(entry: Any, extras: ItemExtras | None, base_url: str | None) -> ItemDraft:
    guid = _text(entry.get("id")) or None
    content = entry.get("content") or []
    descriptions = [c.get("value") or "" for c in content if isinstance(c, Mapping)]
    descriptions.append(entry.get("summary") or "")
    psc = entry.get("psc_chapters")
    marks = psc.get("chapters") or [] if isinstance(psc, Mapping) else []
    return ItemDraft(
        guid=guid,
        guid_is_permalink=bool(entry.get("guidislink")),
        title=_text(entry.get("title")),
        itunes_title=_text(entry.get("itunes_title")),
        dates=_entry_dates(entry),
        enclosures=[MediaDraft(url=_text(e.get("href")), type=_text(e.get("type")),
                               length=e.get("length"))
                    for e in entry.get("enclosures") or [] if _text(e.get("href"))],
        media=[MediaDraft(url=_text(m.get("url")), type=_text(m.get("type")),
                          length=m.get("filesize"), medium=_text(m.get("medium")),
                          duration=m.get("duration"),
                          is_default=_text(m.get("isdefault")).lower() == "true")
               for m in entry.get("media_content") or [] if _text(m.get("url"))],
        links=[_text(link.get("href")) for link in entry.get("links") or []
               if link.get("rel", "alternate") == "alternate" and _text(link.get("href"))],
        descriptions=descriptions,
        duration=entry.get("itunes_duration"),
        extras=extras if extras is not None else _flattened_podcast_tags(entry, guid, base_url),
        chapters=psc_chapters(((m.get("start"), m.get("title"), m.get("href")) for m in marks
                               if isinstance(m, Mapping)), base_url),
    )


def _flattened_podcast_tags(entry: Any, guid: str | None, base_url: str | None) -> ItemExtras:
    """What feedparser kept of the podcast tags when the strict read failed (the last of each)."""
    extras = ItemExtras(guid=guid)
    offer = entry.get("podcast_transcript")
    if isinstance(offer, Mapping) and (url := absolute_url(offer.get("url"), base_url)):
        extras.transcripts.append(TranscriptLink(
            url=url,
            mime_type=mime_of(offer.get("type")) or guess_transcript_type(url),
            language=_text(offer.get("language")) or None,
            rel=_text(offer.get("rel")).lower() or None,
        ))
    chapters = entry.get("podcast_chapters")
    if isinstance(chapters, Mapping):
        extras.chapters_url = absolute_url(chapters.get("url"), base_url)
    bite = entry.get("podcast_soundbite")
    if isinstance(bite, Mapping):
        start, duration = parse_float(bite.get("starttime")), parse_float(bite.get("duration"))
        if start is not None and duration:
            extras.soundbites.append(Soundbite(start=start, duration=duration))
    # feedparser drops the person's name (element text), so no credits survive this path.
    return extras


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""
