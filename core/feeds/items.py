"""One item's raw values -> a ParsedEpisode: which enclosure is the audio, the title, the page."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import unquote, urlsplit

from core.feeds.dates import parse_date
from core.feeds.draft import ItemDraft, MediaDraft
from core.feeds.fields import (
    absolute_url,
    extension_of,
    guess_audio_type,
    html_to_text,
    mime_of,
    parse_duration,
    parse_length,
    text_line,
    web_scheme,
)
from core.models import ParsedEpisode

# HTML beyond this is never processed: a 5 MB description once cost 29 s of CPU, and the
# text kept is at most MAX_DESCRIPTION_CHARS anyway.
MAX_DESCRIPTION_INPUT = 64 * 1024

_Audio = tuple[str | None, str | None, int | None]


def episode_from(item: ItemDraft, base_url: str | None) -> ParsedEpisode | None:
    """The episode an item describes; None when nothing identifies it."""
    guid = item.guid[:2000] if item.guid else None
    published = first_date(item.dates)
    audio_url, audio_type, audio_length = choose_audio(item, base_url)
    description = html_to_text(longest(item.descriptions)[:MAX_DESCRIPTION_INPUT])
    title = (text_line(item.title) or text_line(item.itunes_title))[:500]
    if not (guid or audio_url or title or published or description):
        return None  # nothing identifies it and nothing can be processed
    duration = parse_duration(item.duration)
    if duration is None:
        duration = next((s for m in item.media if (s := parse_duration(m.duration)) is not None),
                        None)
    extras = item.extras
    return ParsedEpisode(
        guid=guid,
        title=title or _stand_in_title(audio_url, published),
        published_at=published,
        duration_s=duration,
        audio_url=audio_url,
        audio_type=audio_type,
        audio_length=audio_length,
        page_url=_page_url(item, base_url, audio_url),
        description=description,
        transcripts=tuple(extras.transcripts) if extras else (),
        chapters_url=extras.chapters_url if extras else None,
        persons=tuple(extras.persons) if extras else (),
        soundbites=tuple(extras.soundbites) if extras else (),
        # A podcast:chapters file is the richer source; inline chapters only stand in for it.
        chapters=() if extras and extras.chapters_url else item.chapters,
    )


def first_date(dates: tuple[str, ...]) -> datetime | None:
    """The first readable date of an item's published / updated / created values."""
    for text in dates:
        if (when := parse_date(text)) is not None:
            return when
    return None


def longest(values: list[str]) -> str:
    """The longest of the item's descriptions (the full show notes, not the teaser)."""
    return max(values, key=len) if values else ""


def choose_audio(item: ItemDraft, base_url: str | None) -> _Audio:
    """The best audio rendition: typed audio, then audio by extension, then video (has sound)."""
    # A media:group lists renditions of one file; the publisher's default comes first.
    media = sorted(item.media, key=lambda m: not m.is_default)
    candidates: list[tuple[str, str, int | None]] = []
    for enc in [*item.enclosures, *media]:
        url = absolute_url(web_scheme(enc.url), base_url)
        if url:
            mime = mime_of(enc.type) or ("audio" if enc.medium == "audio" else "")
            candidates.append((url, mime, parse_length(enc.length)))
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
    return _untyped_only_enclosure(candidates, item.enclosures)


def _untyped_only_enclosure(candidates: list[tuple[str, str, int | None]],
                            enclosures: list[MediaDraft]) -> _Audio:
    """A lone enclosure with no type and no extension (a tracking redirector): let the download's
    content sniffing decide whether it is audio."""
    if len(candidates) == 1 and len(enclosures) == 1:
        url, mime, length = candidates[0]
        if not mime and not extension_of(url):
            return url, None, length
    return None, None, None


def _page_url(item: ItemDraft, base_url: str | None, audio_url: str | None) -> str | None:
    for link in item.links:
        url = absolute_url(link, base_url)
        if url and url != audio_url:
            return url
    if item.guid_is_permalink and item.guid:
        url = absolute_url(item.guid, None)  # a permalink is absolute by definition
        # Many feeds use the audio URL as guid: that is not a page.
        if url and url != audio_url and not guess_audio_type(url):
            return url
    return None


def _stand_in_title(audio_url: str | None, published: datetime | None) -> str:
    """A title for an item that has none: the audio's file name, else the date."""
    if audio_url:
        name = unquote(urlsplit(audio_url).path.rsplit("/", 1)[-1])
        stem = name.rsplit(".", 1)[0] if "." in name else name
        if stem := " ".join(stem.split()):
            return stem[:500]
    return published.date().isoformat() if published else ""
