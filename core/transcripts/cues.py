"""Pieces every transcript parser shares: clock times, tag stripping, speaker prefixes."""

from __future__ import annotations

import html
import json
import math
import re
from collections import Counter
from collections.abc import Container, Iterable, Sequence
from dataclasses import replace
from typing import Any

from core.errors import TranscriptParseError
from core.models import Segment

# [hours:][minutes:]seconds[.,fraction]; the lazy hours group lets '3:44' mean minutes.
# Digit counts are capped: int() refuses strings past 4300 digits, and no episode runs that long.
_CLOCK = re.compile(r"^(?:(\d{1,6}):)??(?:(\d{1,6}):)?(\d{1,9})(?:[.,](\d{1,9}))?$", re.ASCII)
_TIMING = re.compile(r"^\s*(\S+?)\s*-->\s*(\S+)")
_TAG = re.compile(r"<[^<>]*>")
_SPACE = re.compile(r"\s+")
# "Adam Curry: hello", "SPEAKER_1: hi", "Norma-Jean Belenky: ..." -- capitalised words, then a colon.
# Lower-case starts are left alone so "note: ..." or a URL never becomes a speaker.
_SPEAKER_PREFIX = re.compile(r"^([A-Z][\w.'\-]{0,30}(?: [A-Z][\w.'\-]{0,30}){0,3}):\s+(?=\S)")
_ANONYMOUS = frozenset({"unknown", "unknown speaker", "speaker"})
# Non-speech notes such as [BLANK_AUDIO], [laughter], [unintelligible 00:10:27.27]: noise for quotes.
_ANNOTATION = re.compile(r"(?<!\S)\[[A-Za-z][^\[\]]{0,40}\](?=[\s.,!?]|$)")
# A line opening a new speaker's turn without naming them (subtitle dialogue dash, YouTube '>>').
TURN_MARK = re.compile(r"^(?:>>|-\s)\s*")


def parse_clock(text: str) -> float | None:
    """'01:02:03.5', '3:44.100', '00:00:04,799', '0.860' -> seconds; None when not a time."""
    match = _CLOCK.match(text.strip())
    if not match:
        return None
    hours, minutes, seconds, fraction = match.groups()
    if minutes is not None and (len(seconds) > 2 or int(seconds) > 59):
        return None
    if hours is not None and int(minutes) > 59:
        return None
    total = float(f"{seconds}.{fraction or 0}") + 60 * int(minutes or 0) + 3600 * int(hours or 0)
    return total if math.isfinite(total) else None


def load_json(text: str, what: str) -> Any:
    """Parse JSON, refusing NaN/Infinity; any failure is a TranscriptParseError naming `what`."""
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:  # RecursionError: thousands of nested brackets
        raise TranscriptParseError(f"The {what} is not valid JSON ({str(exc)[:80]}).") from None


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number")


def json_seconds(value: object) -> float | None:
    """A JSON time (12, 12.5, "12.5" or "00:00:12.5") -> seconds >= 0; None for anything else."""
    if isinstance(value, bool):  # JSON true is an int to Python, never a time
        return None
    if isinstance(value, int | float):
        seconds: float | None = float(value)
    elif isinstance(value, str):
        seconds = parse_clock(value)
    else:
        return None
    return seconds if seconds is not None and math.isfinite(seconds) and seconds >= 0 else None


def parse_timing_line(line: str) -> tuple[float, float] | None:
    """'00:00:01,000 --> 00:00:02,500 align:left' -> (1.0, 2.5); None when broken or backwards."""
    match = _TIMING.match(line)
    if not match:
        return None
    start, end = parse_clock(match.group(1)), parse_clock(match.group(2))
    if start is None or end is None or end < start:
        return None
    return start, end


def strip_tags(text: str) -> str:
    """Drop markup tags and decode entities: '<c.yellow>Hi</c> &amp; bye' -> 'Hi & bye'."""
    return html.unescape(_TAG.sub("", text))


def strip_annotations(text: str) -> str:
    """Drop bracketed non-speech notes ('[laughter]'); 'array[0]' and '[1]' stay."""
    return _ANNOTATION.sub(" ", text)


def squash(text: str) -> str:
    """Collapse runs of whitespace to one space and trim."""
    return _SPACE.sub(" ", text).strip()


def speaker_labels(texts: Iterable[str]) -> frozenset[str]:
    """'Name:' prefixes that open at least two of `texts`: real speakers recur, while a one-off
    'Today: ...' or 'Update: ...' is part of what was said."""
    counts = Counter(m.group(1) for m in map(_SPEAKER_PREFIX.match, texts) if m)
    return frozenset(name for name, n in counts.items() if n >= 2)


def split_speaker_prefix(text: str, labels: Container[str]) -> tuple[str | None, str]:
    """'Adam Curry: hello' -> ('Adam Curry', 'hello') when the name is one of `labels`."""
    match = _SPEAKER_PREFIX.match(text)
    if not match or match.group(1) not in labels:
        return None, text
    return match.group(1), text[match.end() :]


def name_speakers(segments: Sequence[Segment]) -> tuple[Segment, ...]:
    """Turn recurring 'Name:' prefixes into speakers, carried forward until the next name.

    Buzzsprout and Podcasting 2.0 captions name the speaker only when it changes; 'Unknown:'
    resets it to None. Segments that already have a speaker (VTT voice tags) are left alone.
    """
    labels = speaker_labels(s.text for s in segments if s.speaker is None)
    if not labels:
        return tuple(segments)
    out: list[Segment] = []
    current: str | None = None
    for seg in segments:
        if seg.speaker is not None:
            current = seg.speaker
            out.append(seg)
            continue
        named, text = split_speaker_prefix(seg.text, labels)
        if named is not None:
            current = clean_speaker(named)
        if text.strip():
            out.append(replace(seg, text=text.strip(), speaker=current))
    return tuple(out)


def clean_speaker(name: str | None) -> str | None:
    """Trim a speaker label ('Alban:' -> 'Alban'); placeholders such as 'Unknown' become None."""
    if name is None:
        return None
    cleaned = squash(name).rstrip(":").strip()
    if not cleaned or cleaned.lower() in _ANONYMOUS or len(cleaned) > 80:
        return None
    return cleaned


def split_turn_lines(lines: list[str]) -> list[str]:
    """Group cue lines into turns: a line led by '- ' or '>>' (after the first) opens a new turn."""
    turns: list[str] = []
    for line in lines:
        if turns and TURN_MARK.match(line):
            turns.append(line)
        elif turns:
            turns[-1] = f"{turns[-1]}\n{line}"
        else:
            turns.append(line)
    return turns
