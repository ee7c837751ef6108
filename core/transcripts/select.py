"""Which of an episode's transcript offers to fetch first, and what format each really is."""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from urllib.parse import urlsplit

from core.models import TranscriptLink

JSON = "application/json"
VTT = "text/vtt"
SRT = "application/srt"
HTML = "text/html"
MARKDOWN = "text/markdown"
TEXT = "text/plain"
UNKNOWN = "application/octet-stream"

_ALIASES = {
    "application/json": JSON,
    "text/json": JSON,
    "application/x-json": JSON,
    "text/vtt": VTT,
    "text/webvtt": VTT,
    "application/vtt": VTT,
    "application/srt": SRT,
    "application/x-subrip": SRT,
    "text/srt": SRT,
    "text/x-srt": SRT,
    "application/x-srt": SRT,
    "text/html": HTML,
    "application/xhtml+xml": HTML,
    "text/markdown": MARKDOWN,
    "text/x-markdown": MARKDOWN,
    "text/plain": TEXT,
}
_EXTENSIONS = {
    ".json": JSON,
    ".vtt": VTT,
    ".srt": SRT,
    ".html": HTML,
    ".htm": HTML,
    ".md": MARKDOWN,
    ".markdown": MARKDOWN,
    ".txt": TEXT,
}
# JSON is the richest (speakers per segment, often word timings); VTT carries speakers in voice
# tags; SRT only in text prefixes; HTML times turns only; text and Markdown are often untimed.
# rel="captions" is not ranked: it says the file can serve as captions, and its timing is exactly
# what quotes need.
_PREFERENCE = (JSON, VTT, SRT, HTML, MARKDOWN, TEXT)
TIMED = frozenset({JSON, VTT, SRT})


def normalise_mime(mime_type: str | None, url: str | None = None) -> str:
    """A canonical type ('text/vtt; charset=utf-8' -> 'text/vtt'), from the URL's extension when
    the declared type is missing, generic or unknown; else the cleaned type, or UNKNOWN if none."""
    declared = (mime_type or "").split(";", 1)[0].strip().lower()
    known = _ALIASES.get(declared)
    if known is not None and known != TEXT:
        return known
    # text/plain is what many servers send for anything: a .vtt or .srt URL says more.
    return _from_extension(url) or known or declared or UNKNOWN


def mime_for(link: TranscriptLink) -> str:
    """The canonical type of one offer."""
    return normalise_mime(link.mime_type, link.url)


def rank_transcript_links(links: Sequence[TranscriptLink]) -> list[TranscriptLink]:
    """Offers best first: JSON, VTT, SRT, HTML, Markdown, text, unknown; ties keep feed order."""
    return sorted(links, key=lambda link: _rank(mime_for(link)))


def has_timing(mime_type: str) -> bool:
    """Whether a (canonical or raw) type always carries per-segment times."""
    return normalise_mime(mime_type) in TIMED


def _rank(mime: str) -> int:
    return _PREFERENCE.index(mime) if mime in _PREFERENCE else len(_PREFERENCE)


def _from_extension(url: str | None) -> str | None:
    if not url:
        return None
    try:
        path = urlsplit(url).path
    except ValueError:  # e.g. an unclosed IPv6 bracket in a hostile feed
        return None
    return _EXTENSIONS.get(posixpath.splitext(path.lower())[1])
