"""SubRip (SRT) -> segments, with 'Name:' speaker prefixes carried to the following cues."""

from __future__ import annotations

from core.errors import TranscriptParseError
from core.models import Segment
from core.transcripts.cues import (
    name_speakers,
    parse_timing_line,
    split_turn_lines,
    squash,
    strip_tags,
)


def parse_srt(text: str) -> tuple[Segment, ...]:
    """One segment per cue (per '- ' turn inside one); 'Name:' prefixes become speakers."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    # Cues are found by their timing lines rather than by blank lines: real files drop the blank
    # line between cues or put one inside a cue's text.
    rows = [i for i, line in enumerate(lines) if "-->" in line]
    segments: list[Segment] = []
    broken = 0
    for n, row in enumerate(rows):
        times = parse_timing_line(lines[row])
        if times is None:
            broken += 1
            continue
        stop = rows[n + 1] if n + 1 < len(rows) else len(lines)
        for turn in split_turn_lines(_cue_body(lines[row + 1 : stop], last=stop == len(lines))):
            if cue_text := squash(strip_tags(turn)):
                segments.append(Segment(*times, cue_text))
    if not segments:
        detail = f" ({broken} cues had unreadable times)" if broken else ""
        raise TranscriptParseError(f"The SRT transcript has no readable cues{detail}.")
    return name_speakers(segments)


def _cue_body(lines: list[str], *, last: bool) -> list[str]:
    body = [line for line in lines if line.strip()]
    # The next cue's number sits just above its timing line.
    if not last and body and body[-1].strip().isdigit():
        body.pop()
    return body
