"""Feed bytes -> ParsedFeed: pure and synchronous (callers run it off the event loop)."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import feedparser

from core.errors import FeedParseError
from core.feeds.fields import (
    absolute_url,
    clean_line,
    guess_audio_type,
    guess_transcript_type,
    html_to_text,
    mime_of,
    parse_duration,
    parse_float,
    parse_length,
    struct_to_datetime,
)
from core.feeds.identity import unique_episodes
from core.feeds.podcast_ns import FeedExtras, ItemExtras, mentions_podcast_namespace, read_extras
from core.feeds.xmlguard import refuse_entity_declarations
from core.models import ParsedEpisode, ParsedFeed, Person, Soundbite, TranscriptLink

log = logging.getLogger(__name__)

_HTML_START = re.compile(rb"^\s*(<!--.*?-->\s*)*<(!doctype\s+html|html[\s>]|head[\s>]|body[\s>])",
                         re.IGNORECASE | re.DOTALL)
_EARLIEST = datetime.min.replace(tzinfo=None)


def parse_feed(body: bytes, base_url: str | None = None) -> ParsedFeed:
    """Read a podcast feed (RSS, Atom or RDF) from bytes; raises FeedParseError if it is not one."""
    if not isinstance(body, (bytes, bytearray)) or not bytes(body).strip():
        raise FeedParseError("The feed is empty: the server sent no content.")
    body = bytes(body)
    refuse_entity_declarations(body)
    parsed = _run_feedparser(body)
    if not parsed.get("version"):
        if _HTML_START.match(body[:4096]):
            raise FeedParseError("That address serves a web page, not a podcast feed.")
        raise FeedParseError("That document is not a podcast feed (no RSS or Atom found).")
    channel = parsed.get("feed") or {}
    entries = parsed.get("entries") or []
    if not channel and not entries:
        raise FeedParseError("The feed has no channel: no title and no episodes.")
    extras = read_extras(body, base_url) if mentions_podcast_namespace(body) else None
    per_entry = _match_extras(entries, extras)
    episodes = [
        ep for entry, more in zip(entries, per_entry, strict=True)
        if (ep := _episode(entry, more, base_url)) is not None
    ]
    # Newest first; the sort is stable, so undated items keep the publisher's order.
    episodes.sort(key=lambda e: e.published_at.replace(tzinfo=None) if e.published_at
                  else _EARLIEST, reverse=True)
    warnings: tuple[str, ...] = ()
    if parsed.get("bozo"):
        reason = str(parsed.get("bozo_exception") or "malformed XML")
        warnings = (" ".join(reason.split())[:300],)  # plain text: "<unknown>:4:0: ..." stays
    image = channel.get("image") or {}
    # The strict read wins for the channel: feedparser lets a podcast:liveItem's title, link
    # and image overwrite the channel's own.
    title = extras.title if extras and extras.title else clean_line(channel.get("title"))
    site_url = (extras.link if extras else None) or absolute_url(channel.get("link"), base_url)
    image_url = (extras.image_url if extras else None) or absolute_url(
        image.get("href") if isinstance(image, Mapping) else None, base_url
    )
    return ParsedFeed(
        title=title[:300],
        site_url=site_url or "",
        image_url=image_url or "",
        description=html_to_text(channel.get("subtitle") or channel.get("summary") or "",
                                 limit=5000),
        episodes=tuple(unique_episodes(episodes)),
        new_feed_url=absolute_url(channel.get("itunes_new-feed-url"), base_url),
        warnings=warnings,
    )


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


def _episode(entry: Any, extras: ItemExtras | None, base_url: str | None) -> ParsedEpisode | None:
    guid = _text(entry.get("id"))[:2000] or None
    title = clean_line(entry.get("title"))[:500]
    published = struct_to_datetime(
        entry.get("published_parsed") or entry.get("updated_parsed") or entry.get("created_parsed")
    )
    audio_url, audio_type, audio_length = _audio(entry, base_url)
    description = html_to_text(_description(entry))
    if not (guid or audio_url or title or published or description):
        return None  # nothing identifies it and nothing can be processed
    duration = parse_duration(entry.get("itunes_duration"))
    if duration is None:
        duration = _media_duration(entry)
    if extras is not None:
        transcripts = tuple(extras.transcripts)
        chapters_url = extras.chapters_url
        persons, soundbites = tuple(extras.persons), tuple(extras.soundbites)
    else:
        transcripts, chapters_url, persons, soundbites = _flattened_podcast_tags(entry, base_url)
    return ParsedEpisode(
        guid=guid,
        title=title,
        published_at=published,
        duration_s=duration,
        audio_url=audio_url,
        audio_type=audio_type,
        audio_length=audio_length,
        page_url=_page_url(entry, base_url, audio_url),
        description=description,
        transcripts=transcripts,
        chapters_url=chapters_url,
        persons=persons,
        soundbites=soundbites,
    )


def _audio(entry: Any, base_url: str | None) -> tuple[str | None, str | None, int | None]:
    """The best audio enclosure: typed audio, then audio by extension, then video (has sound)."""
    candidates: list[tuple[str, str, int | None]] = []
    for enc in entry.get("enclosures") or []:
        url = absolute_url(enc.get("href"), base_url)
        if url:
            candidates.append((url, mime_of(enc.get("type")), parse_length(enc.get("length"))))
    for media in entry.get("media_content") or []:
        url = absolute_url(media.get("url"), base_url)
        if url:
            mime = mime_of(media.get("type")) or ("audio" if media.get("medium") == "audio" else "")
            candidates.append((url, mime, parse_length(media.get("filesize"))))
    for url, mime, length in candidates:
        if mime.startswith("audio/"):
            return url, mime, length
    for url, mime, length in candidates:
        guessed = guess_audio_type(url)
        # A known audio extension beats a wrong or generic type (application/x-mpeg, text/html, ...).
        if guessed and not mime.startswith("video/"):
            return url, guessed, length
    for url, mime, length in candidates:
        if mime.startswith("video/"):
            return url, mime, length
    return None, None, None


def _description(entry: Any) -> str:
    content = entry.get("content") or []
    values = [c.get("value") or "" for c in content if isinstance(c, Mapping)]
    values.append(entry.get("summary") or "")
    return max(values, key=len)


def _page_url(entry: Any, base_url: str | None, audio_url: str | None) -> str | None:
    for link in entry.get("links") or []:
        if link.get("rel", "alternate") == "alternate":
            url = absolute_url(link.get("href"), base_url)
            if url and url != audio_url:
                return url
    return None


def _media_duration(entry: Any) -> float | None:
    for media in entry.get("media_content") or []:
        seconds = parse_duration(media.get("duration"))
        if seconds is not None:
            return seconds
    return None


def _flattened_podcast_tags(
    entry: Any, base_url: str | None
) -> tuple[tuple[TranscriptLink, ...], str | None, tuple[Person, ...], tuple[Soundbite, ...]]:
    """What feedparser kept of the podcast tags when the strict read failed (the last of each)."""
    transcripts: tuple[TranscriptLink, ...] = ()
    offer = entry.get("podcast_transcript")
    if isinstance(offer, Mapping) and (url := absolute_url(offer.get("url"), base_url)):
        transcripts = (TranscriptLink(
            url=url,
            mime_type=mime_of(offer.get("type")) or guess_transcript_type(url),
            language=_text(offer.get("language")) or None,
            rel=_text(offer.get("rel")).lower() or None,
        ),)
    chapters = entry.get("podcast_chapters")
    chapters_url = absolute_url(chapters.get("url"), base_url) if isinstance(chapters,
                                                                              Mapping) else None
    soundbites: tuple[Soundbite, ...] = ()
    bite = entry.get("podcast_soundbite")
    if isinstance(bite, Mapping):
        start, duration = parse_float(bite.get("starttime")), parse_float(bite.get("duration"))
        if start is not None and duration:
            soundbites = (Soundbite(start=start, duration=duration),)
    # feedparser drops the person's name (element text), so no credits survive this path.
    return transcripts, chapters_url, (), soundbites


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""
