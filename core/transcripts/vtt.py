"""WebVTT -> segments, tolerant of what publishers really serve."""

from __future__ import annotations

import re

from core.errors import TranscriptParseError
from core.models import Segment
from core.transcripts.cues import (
    clean_speaker,
    name_speakers,
    parse_timing_line,
    split_turn_lines,
    squash,
    strip_tags,
)

_BLOCKS = re.compile(r"\n[ \t]*\n")  # VTT forbids blank lines inside a cue: they end blocks
_VOICE = re.compile(r"<v(?:\.[^\s>]*)?(?:\s+([^>]*))?>", re.IGNORECASE)


def parse_vtt(text: str) -> tuple[Segment, ...]:
    """One segment per cue (per voice inside a cue); broken cues are skipped, none valid is an error."""
    segments: list[Segment] = []
    broken = 0
    for block in _BLOCKS.split(text.replace("\r\n", "\n").replace("\r", "\n")):
        lines = block.strip("\n").split("\n")
        timing_at = next((i for i, line in enumerate(lines) if "-->" in line), None)
        if timing_at is None:
            continue  # header, NOTE, STYLE, REGION (none may hold '-->') or stray text
        times = parse_timing_line(lines[timing_at])
        if times is None:
            broken += 1
            continue
        segments.extend(_cue_segments(*times, lines[timing_at + 1 :]))
    if not segments:
        detail = f" ({broken} cues had unreadable times)" if broken else ""
        raise TranscriptParseError(f"The WebVTT transcript has no readable cues{detail}.")
    return name_speakers(segments)  # for files that write 'Name:' instead of voice tags


def _cue_segments(start: float, end: float, lines: list[str]) -> list[Segment]:
    # A cue may carry several voices ('<v A>hi\n<v B>hello'): each becomes its own segment.
    out: list[Segment] = []
    for turn in split_turn_lines([line for line in lines if line.strip()]):
        for speaker, body in _voices(turn):
            text = squash(strip_tags(body))
            if text:
                # Keep a leading '- ' / '>>' so merging sees an unnamed speaker change.
                out.append(Segment(start, end, text, speaker))
    return out


def _voices(text: str) -> list[tuple[str | None, str]]:
    matches = list(_VOICE.finditer(text))
    if not matches:
        return [(None, text)]
    parts: list[tuple[str | None, str]] = []
    if text[: matches[0].start()].strip():
        parts.append((None, text[: matches[0].start()]))
    for match, following in zip(matches, [*matches[1:], None], strict=True):
        body = text[match.end() : following.start() if following else len(text)]
        parts.append((clean_speaker(match.group(1)), body))
    return parts
