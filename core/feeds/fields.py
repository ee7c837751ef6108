"""Pure helpers that turn loosely written feed values into clean ones: text, times, URLs, types."""

from __future__ import annotations

import html
import math
import mimetypes
import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from core.feeds.html_text import BLOCK_TAGS, SKIP_TAGS, simple_html_text

MAX_DESCRIPTION_CHARS = 20_000  # enough for long show notes; keeps episode documents small
MAX_DURATION_S = 7 * 24 * 3600  # longer than a week is a typo, not an episode

_BLOCK_TAGS = BLOCK_TAGS
_SKIP_TAGS = SKIP_TAGS
_SPACE_RUNS = re.compile(" {2,}")
_OTHER_SPACE = re.compile(r"[^\S \n]")
_BLANK_LINES = re.compile(r"\n{3,}")
_LINE_EDGES = re.compile(r"[^\S\n]*\n[^\S\n]*")
_CONTROL = re.compile(r"[\x00-\x1f]")

AUDIO_EXTENSIONS = {
    "mp3": "audio/mpeg",
    "mpga": "audio/mpeg",
    "mp2": "audio/mpeg",
    "m4a": "audio/mp4",
    "m4b": "audio/mp4",
    "aac": "audio/aac",
    "ogg": "audio/ogg",
    "oga": "audio/ogg",
    "opus": "audio/opus",
    "wav": "audio/wav",
    "flac": "audio/flac",
    "weba": "audio/webm",
}
TRANSCRIPT_EXTENSIONS = {
    "vtt": "text/vtt",
    "srt": "application/srt",
    "json": "application/json",
    "html": "text/html",
    "htm": "text/html",
    "txt": "text/plain",
}


class _TextExtractor(HTMLParser):
    """Collects the visible text of an HTML fragment, one line per block element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skipping += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


_UNCLOSED_TAG_START = re.compile(r"<(?=[^<>]*(?:<|\Z))")


def html_to_text(value: str | None, limit: int = MAX_DESCRIPTION_CHARS) -> str:
    """Plain text of an HTML (or plain) fragment: tags dropped, entities decoded, lines kept."""
    if not value:
        return ""
    if "<" in value and (simple := simple_html_text(value)) is not None:
        text = simple
    elif "<" in value:
        parser = _TextExtractor()
        try:
            # a '<' with another '<' before any '>' starts no tag: as text it costs HTMLParser one
            # pass, as a tag start it rescans the rest each time (64 KB of '<a ' took 33 s)
            parser.feed(_UNCLOSED_TAG_START.sub("&lt;", value))
            parser.close()
            text = "".join(parser.parts)
        except Exception:  # noqa: BLE001 - HTMLParser is lenient, but a hostile fragment must never crash a poll
            text = re.sub(r"<[^>]*>", " ", value)
    else:
        text = html.unescape(value)
    return tidy_lines(text)[:limit]


def tidy_lines(text: str) -> str:
    """Runs of spaces, tabs and no-break spaces as one space, each line stripped, at most one
    blank line in a row. Whole-text str passes where they suffice: a regex per line (or even
    one over the whole text) cost as much as reading the HTML of long show notes."""
    for space in "\t\r\f\v\u00a0":
        text = text.replace(space, " ")
    if "  " in text:
        text = _SPACE_RUNS.sub(" ", text)
    # Em spaces and the like, which str.strip() takes off lines; in ASCII only the separators.
    if (any(c in text for c in "\x1c\x1d\x1e\x1f") if text.isascii()
            else _OTHER_SPACE.search(text)):
        text = _LINE_EDGES.sub("\n", text)
    else:
        text = text.replace(" \n", "\n").replace("\n ", "\n")
    if "\n\n\n" in text:
        text = _BLANK_LINES.sub("\n\n", text)
    return text.strip()


def clean_line(value: object) -> str:
    """A one-line text value: HTML stripped, whitespace collapsed."""
    if not isinstance(value, str):
        return ""
    return " ".join(html_to_text(value, limit=2000).split())


def text_line(value: object) -> str:
    """A one-line plain-text value (a title): entities decoded, whitespace collapsed, and any
    '<' kept, because a title is text ("The <blink> tag"), not HTML."""
    if not isinstance(value, str):
        return ""
    return " ".join(html.unescape(value[:4000]).split())


def web_scheme(url: str) -> str:
    """itpc:// and pcast:// (podcast-app links) as the http:// URLs they stand for."""
    head = url[:8].lstrip().lower()
    if head.startswith(("itpc://", "pcast://")):
        return "http://" + url.split("://", 1)[1]
    return url


_ISO_DURATION = re.compile(
    r"^P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$",
    re.IGNORECASE,
)


def parse_duration(value: object) -> float | None:
    """itunes:duration in seconds: '3600', '3600.5', 'mm:ss', 'hh:mm:ss' or ISO 8601 'PT1H2M3S';
    None when unreadable."""
    if value is None:
        return None
    text = str(value).strip()
    if not text or len(text) > 32:
        return None
    if iso := _ISO_DURATION.match(text):
        days, hours, minutes, secs = (float(g or 0) for g in iso.groups())
        seconds = ((days * 24 + hours) * 60 + minutes) * 60 + secs
        return seconds if 0 < seconds <= MAX_DURATION_S else None
    parts = text.split(":")
    if len(parts) > 3:
        return None
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        return None
    if any(n < 0 or math.isnan(n) for n in numbers):
        return None
    seconds = 0.0
    for number in numbers:
        seconds = seconds * 60 + number
    if seconds <= 0 or seconds > MAX_DURATION_S:
        return None
    return seconds


def parse_float(value: object) -> float | None:
    """A finite, non-negative number from an attribute, or None."""
    try:
        number = float(str(value).strip())
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number) or number < 0:
        return None
    return number


def parse_length(value: object) -> int | None:
    """An enclosure length in bytes, or None for blanks, garbage and negatives."""
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def absolute_url(raw: object, base_url: str | None) -> str | None:
    """`raw` resolved against `base_url`; only http(s) URLs, or file: ones in a local feed."""
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    if not text or len(text) > 8192 or _CONTROL.search(text):
        return None
    try:
        resolved = urljoin(base_url, text) if base_url else text
        parts = urlsplit(resolved)
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme in ("http", "https") and parts.netloc:
        return resolved
    # A remote feed must never point us at files on this machine; a local (operator) one may.
    if scheme == "file" and base_url and base_url.lower().startswith("file:"):
        return resolved
    return None


def extension_of(url: str) -> str:
    """The lowercase file extension of a URL's path ('' when none)."""
    path = urlsplit(url).path
    name = path.rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def mime_of(value: object) -> str:
    """A lowercase MIME type without parameters ('' when missing)."""
    if not isinstance(value, str):
        return ""
    return value.split(";", 1)[0].strip().lower()


def guess_audio_type(url: str) -> str | None:
    """The audio MIME type a URL's extension implies, or None."""
    ext = extension_of(url)
    if ext in AUDIO_EXTENSIONS:
        return AUDIO_EXTENSIONS[ext]
    guessed, _ = mimetypes.guess_type(urlsplit(url).path)
    return guessed if guessed and guessed.startswith("audio/") else None


def guess_transcript_type(url: str) -> str:
    """The transcript MIME type a URL's extension implies ('' when unknown)."""
    return TRANSCRIPT_EXTENSIONS.get(extension_of(url), "")
