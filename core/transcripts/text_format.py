"""Plain-text and Markdown transcripts -> segments, timed by whatever marks they carry.

Untimed text gets estimated times: paragraphs are laid end to end from 0 at ~150 words a
minute (merge.WORDS_PER_SECOND). Callers that cannot use estimates pass require_timing=True and
get a TranscriptParseError instead.
"""

from __future__ import annotations

import re

from core.errors import TranscriptParseError
from core.models import Segment
from core.transcripts.cues import (
    clean_speaker,
    name_speakers,
    parse_clock,
    squash,
    strip_annotations,
)
from core.transcripts.merge import Draft, spread_times

_CLOCK = r"(?:\d{1,2}:)?\d{1,2}:\d{2}(?:[.,]\d{1,3})?"
# '00:01:02 text', '[00:01:02] text', '(1:02) - text'
_TIMED_LINE = re.compile(rf"^\s*[\[(]?({_CLOCK})[\])]?(?:\s*[-–—|:]\s*|\s+|$)(.*)$")
# Otter-style heading line: 'Jane Doe  00:03' or 'Jane Doe (00:03):', the text follows below.
_SPEAKER_TIME_LINE = re.compile(
    rf"^\s*([A-Z][\w.'\-]*(?: [A-Z0-9][\w.'\-]*){{0,3}})\s+[\[(]?({_CLOCK})[\])]?:?\s*$"
)
# Markdown marks such as Changelog's '\[06:13\]' (escaped brackets) or '[01:02:04.12]'.
_MARK = re.compile(rf"\\?\[({_CLOCK})\\?\]")
_MD_SPEAKER = re.compile(r"^\*\*([^*\n]{1,80}?):?\*\*:?\s*")
_MD_LINK = re.compile(r"\[([^\]\n]*)\]\([^)\n]*\)")
_MD_EMPHASIS = re.compile(r"(\*{1,3}|_{2,3})(?=\S)(.+?)(?<=\S)\1")
_MD_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!])")
_PARAGRAPHS = re.compile(r"\n[ \t]*\n")


def parse_text(text: str, *, require_timing: bool = False) -> tuple[Segment, ...]:
    """'HH:MM:SS text' lines when timestamped, else one segment per paragraph at estimated times."""
    drafts: list[Draft] = []
    lines: list[str] = []
    start: float | None = None
    speaker: str | None = None
    timed = False

    def flush() -> None:
        nonlocal lines, start
        if body := squash(" ".join(lines)):
            drafts.append(Draft(start, body, speaker))
        lines, start = [], None

    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if match := _TIMED_LINE.match(line):
            flush()
            start, timed = parse_clock(match.group(1)), True
            lines.append(match.group(2))
        elif match := _SPEAKER_TIME_LINE.match(line):
            flush()
            start, timed = parse_clock(match.group(2)), True
            speaker = clean_speaker(match.group(1))
        elif line.strip():
            lines.append(line)
        else:
            flush()
    flush()
    return name_speakers(_finish(drafts, timed, "text", require_timing))


def parse_markdown(text: str, *, require_timing: bool = False) -> tuple[Segment, ...]:
    """Paragraphs with '**Name:**' speakers; sparse '[MM:SS]' marks anchor interpolated times."""
    drafts: list[Draft] = []
    speaker: str | None = None
    pending: float | None = None  # a mark standing alone times the next paragraph
    timed = False
    for paragraph in _PARAGRAPHS.split(text.replace("\r\n", "\n").replace("\r", "\n")):
        paragraph = paragraph.strip()
        if not paragraph or paragraph.startswith("#"):
            continue  # headings are titles, not speech
        if match := _MD_SPEAKER.match(paragraph):
            speaker, paragraph = clean_speaker(match.group(1)), paragraph[match.end() :]
        # Split at each mark: what follows a mark starts at its time.
        pieces = _MARK.split(paragraph)
        times: list[float | None] = [pending, *(parse_clock(t) for t in pieces[1::2])]
        pending = None
        for at, body in zip(times, pieces[0::2], strict=True):
            timed = timed or at is not None
            body = _plain_markdown(body)
            if body:
                drafts.append(Draft(at, body, speaker))
            elif at is not None:
                pending = at
    return _finish(drafts, timed, "Markdown", require_timing)


def _plain_markdown(text: str) -> str:
    text = _MD_LINK.sub(r"\1", text)
    text = _MD_EMPHASIS.sub(r"\2", text)
    # Notes such as '[unintelligible 00:10:27.27]' are not speech: they must not count as words.
    return squash(strip_annotations(_MD_ESCAPE.sub(r"\1", text)))


def _finish(drafts: list[Draft], timed: bool, kind: str, require_timing: bool) -> tuple[Segment, ...]:
    if not drafts:
        raise TranscriptParseError(f"The {kind} transcript has no text.")
    if require_timing and not timed:
        raise TranscriptParseError(f"The {kind} transcript has no timestamps.")
    return tuple(spread_times(drafts))
