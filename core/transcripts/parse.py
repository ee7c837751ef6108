"""Publisher transcript bytes -> sentence-sized segments, whatever the file claims to be."""

from __future__ import annotations

import codecs
import logging
import re
from collections.abc import Callable

from core.errors import TranscriptParseError
from core.models import Segment
from core.transcripts.html_format import parse_html
from core.transcripts.json_format import parse_json_transcript
from core.transcripts.merge import merge_segments
from core.transcripts.select import (
    HTML,
    JSON,
    MARKDOWN,
    SRT,
    TEXT,
    TIMED,
    VTT,
    normalise_mime,
)
from core.transcripts.srt import parse_srt
from core.transcripts.text_format import parse_markdown, parse_text
from core.transcripts.vtt import parse_vtt

log = logging.getLogger(__name__)

MAX_TRANSCRIPT_BYTES = 64 * 1024 * 1024  # a 4-hour word-level JSON is ~10 MB

_NAMES = {JSON: "JSON", VTT: "WebVTT", SRT: "SRT", HTML: "HTML", MARKDOWN: "Markdown", TEXT: "text"}
_TIMING_LINE = re.compile(r"^[ \t]*(?:\d+:)?\d{1,2}:\d{2}([.,])\d{1,3}[ \t]*-->", re.MULTILINE)
_BARE_TIMING_LINE = re.compile(r"^[ \t]*\d+(?:\.\d+)?[ \t]+-->[ \t]+\d", re.MULTILINE)
_HTML_TAG = re.compile(r"<(?:!doctype|html|body|p|cite|time|div|span|br)\b", re.IGNORECASE)
_MD_SPEAKER = re.compile(r"^\*\*[^*\n]{1,80}:\*\*", re.MULTILINE)
# C0 controls other than tab, newline, form feed and carriage return: binary, not text.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\ufffd]")


def parse_transcript(data: bytes, mime_type: str, url: str | None = None) -> tuple[Segment, ...]:
    """Decode, detect the real format, parse and merge into sentence-sized segments.

    Raises TranscriptParseError (and nothing else) for empty, binary, broken or untimed-where-
    timing-is-required content.
    """
    try:
        text = decode_transcript(data)
        declared = normalise_mime(mime_type, url)
        found = detect_format(text, declared)
        # A web page where a timed format was promised is usually an error or login page: it is
        # accepted only when it really has times (a mislabelled namespace HTML transcript).
        strict = declared in TIMED and found not in TIMED
        segments = merge_segments(_PARSERS[found](text, strict))
    except TranscriptParseError:
        raise
    except Exception:  # a parser bug must not take the pipeline down with it
        log.exception("transcript parser failed on %s content", mime_type)
        raise TranscriptParseError("The transcript could not be read.") from None
    if not segments:
        raise TranscriptParseError(f"The {_NAMES[found]} transcript has no text.")
    return segments


def decode_transcript(data: bytes, *, what: str = "transcript") -> str:
    """Bytes -> text: BOM first, then UTF-8, then Windows-1252; binary content is refused."""
    if not data.strip():
        raise TranscriptParseError(f"The {what} is empty.")
    if len(data) > MAX_TRANSCRIPT_BYTES:
        raise TranscriptParseError(f"The {what} is too large to read.")
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            text = data[len(bom) :].decode(encoding, errors="replace")
            break
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            # Older publishers still save as Windows-1252; every byte decodes, so check below.
            text = data.decode("cp1252", errors="replace")
    sample = text[:65536]
    if len(_CONTROL.findall(sample)) > max(2, len(sample) // 50):
        raise TranscriptParseError(f"The {what} is not text (it looks like a binary file).")
    return text


def detect_format(text: str, declared: str) -> str:
    """The format the content shows (VTT header, SRT timings, JSON, HTML tags...), else `declared`."""
    head = text.lstrip()[:4096]
    if head.startswith("WEBVTT"):
        return VTT
    if head.startswith("{") or re.match(r"\[\s*[{\]]", head):
        return JSON
    timing = _TIMING_LINE.search(head)
    if timing:
        if declared in (VTT, SRT):
            return declared  # both readers accept either millisecond separator
        return SRT if timing.group(1) == "," else VTT
    if _BARE_TIMING_LINE.search(head):
        return VTT  # '0.860 --> 7.380' without a header: only the VTT reader accepts it loosely
    if head.startswith("<") or _HTML_TAG.search(head):
        return HTML
    if _MD_SPEAKER.search(head):
        return MARKDOWN
    return declared if declared in _NAMES else TEXT


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: its BOM starts the same way
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

_PARSERS: dict[str, Callable[[str, bool], tuple[Segment, ...]]] = {
    JSON: lambda text, _strict: parse_json_transcript(text),
    VTT: lambda text, _strict: parse_vtt(text),
    SRT: lambda text, _strict: parse_srt(text),
    HTML: lambda text, strict: parse_html(text, require_timing=strict),
    MARKDOWN: lambda text, strict: parse_markdown(text, require_timing=strict),
    TEXT: lambda text, strict: parse_text(text, require_timing=strict),
}
