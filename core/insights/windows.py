"""Cut a transcript into overlapping windows of `[mm:ss] Speaker: text` lines that fit a model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.insights.budget import CHARS_PER_TOKEN
from core.insights.prompts import clean_untrusted
from core.models import Segment
from core.timeutil import format_timestamp

MERGE_CHARS = 280  # short same-speaker segments merge into lines up to this long
MERGE_GAP_S = 2.0


@dataclass(frozen=True)
class Line:
    """One stamped transcript line as the model sees it."""

    start: float
    end: float
    text: str

    def render(self) -> str:
        return f"[{format_timestamp(self.start)}] {self.text}"


@dataclass(frozen=True)
class Window:
    """Consecutive lines whose rendering fits the model's window."""

    index: int
    lines: tuple[Line, ...]

    @property
    def start(self) -> float:
        return self.lines[0].start

    @property
    def end(self) -> float:
        return self.lines[-1].end

    @property
    def text(self) -> str:
        return "\n".join(line.render() for line in self.lines)


def transcript_lines(segments: Sequence[Segment], max_chars: int) -> list[Line]:
    """Stamped lines: tiny same-speaker segments merged, over-long ones split by words."""
    lines: list[Line] = []
    speaker: str | None = None
    words: list[str] = []
    start = end = 0.0

    def flush() -> None:
        if words:
            prefix = f"{clean_untrusted(speaker, 60)}: " if speaker else ""
            lines.append(Line(start, end, prefix + clean_untrusted(" ".join(words), 10**6)))

    for segment in segments:
        for piece in _split(segment, max_chars):
            text = " ".join(piece.text.split())
            if not text:
                continue
            same = (piece.speaker == speaker and piece.start - end <= MERGE_GAP_S
                    and len(" ".join(words)) + len(text) < MERGE_CHARS)
            if not same:
                flush()
                speaker, words, start = piece.speaker, [], piece.start
            words.append(text)
            end = max(piece.end, piece.start)
    flush()
    return lines


def _split(segment: Segment, max_chars: int) -> list[Segment]:
    """Pieces of a segment no longer than `max_chars`, times interpolated by word position."""
    words = segment.text.split()
    if len(segment.text) <= max_chars or len(words) < 2:
        return [segment]
    pieces: list[list[str]] = [[]]
    size = 0
    for word in words:
        if pieces[-1] and size + len(word) + 1 > max_chars:
            pieces.append([])
            size = 0
        pieces[-1].append(word)
        size += len(word) + 1
    span = max(0.0, segment.end - segment.start)
    out, done = [], 0
    for piece in pieces:
        begin = segment.start + span * done / len(words)
        done += len(piece)
        out.append(Segment(begin, segment.start + span * done / len(words), " ".join(piece),
                           segment.speaker))
    return out


def make_windows(
    segments: Sequence[Segment], window_tokens: int, overlap_tokens: int
) -> list[Window]:
    """Windows of about `window_tokens` each, consecutive ones sharing about `overlap_tokens`."""
    cap = max(200, window_tokens * CHARS_PER_TOKEN)
    overlap = max(0, min(overlap_tokens * CHARS_PER_TOKEN, cap // 2))
    lines = transcript_lines(segments, max_chars=max(100, cap // 4))
    sizes = [len(line.render()) + 1 for line in lines]
    windows: list[Window] = []
    first = 0
    while first < len(lines):
        last, used = first, 0
        while last < len(lines) and (last == first or used + sizes[last] <= cap):
            used += sizes[last]
            last += 1
        windows.append(Window(len(windows), tuple(lines[first:last])))
        if last >= len(lines):
            break
        back, shared = last, 0
        while back - 1 > first and shared + sizes[back - 1] <= overlap:
            back -= 1
            shared += sizes[back]
        first = back
    return windows
