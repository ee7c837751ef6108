"""Shape parsed segments into sentence-sized ones, and give coarse or missing times an estimate."""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from core.models import Segment
from core.transcripts.cues import TURN_MARK, squash, strip_annotations

# ~150 words a minute: a typical conversational podcast pace, used wherever a file gives no times.
WORDS_PER_SECOND = 2.5

_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*$")
# A sentence ends at . ! ? or … (after any closing quote) when the next word is not lower case.
_SENTENCE_SPLIT = re.compile(r"(?:(?<=[.!?…])|(?<=[.!?…][\"'”’)\]]))\s+(?![a-z])")
_ABBREVIATION = re.compile(r"(?<!\S)(?:Mr|Mrs|Ms|Dr|Prof|St|Sr|Jr|vs|e\.g|i\.e)\.$", re.IGNORECASE)
_PUNCTUATION_ONLY = re.compile(r"^[^\w\s]+$")


class Draft(NamedTuple):
    """A stretch of text whose start may be unknown (None) before `spread_times`."""

    start: float | None
    text: str
    speaker: str | None = None


@dataclass
class _Run:
    start: float
    end: float
    text: str
    speaker: str | None
    turn: bool  # opens an unnamed speaker's turn ('- ' or '>>'): never glued to what precedes


def merge_segments(
    segments: Iterable[Segment], *, max_chars: int = 400, max_gap: float = 1.5
) -> tuple[Segment, ...]:
    """Shape segments into sentence-sized ones: tiny and line-split segments are joined, segments
    holding several sentences are split at sentence ends (times shared out by character position).

    A new segment starts at a speaker change (named, or a '- ' / '>>' turn mark), a pause longer
    than max_gap seconds, or where max_chars would be passed. Output starts never go backwards.
    """
    groups: list[_Run] = []
    for whole in _collapse_line_splits(_prepare(segments)):
        for run in _split_sentences(whole, max_chars):
            last = groups[-1] if groups else None
            if last is None or _breaks(last, run, max_chars, max_gap):
                groups.append(run)
            else:
                last.text = f"{last.text} {run.text}"
                last.end = max(last.end, run.end)
    return tuple(Segment(round(g.start, 3), round(g.end, 3), g.text, g.speaker) for g in groups)


def spread_times(drafts: Sequence[Draft]) -> list[Segment]:
    """Time every draft: known starts stay, unknown ones are interpolated by word count between
    them, and text after the last known start runs on at WORDS_PER_SECOND (from 0 if none is known)."""
    words = [max(1, len(d.text.split())) for d in drafts]
    offsets = [0, *_cumulative(words)]
    anchors: list[tuple[int, float]] = [(0, 0.0)]
    for i, draft in enumerate(drafts):
        if draft.start is None or not math.isfinite(draft.start) or draft.start < anchors[-1][1]:
            continue  # a mark running backwards is a typo, not a time: keep the clock monotonic
        if offsets[i] == anchors[-1][0]:
            anchors[-1] = (offsets[i], draft.start)
        else:
            anchors.append((offsets[i], draft.start))
    starts = [_time_at(offsets[i], anchors) for i in range(len(drafts))]
    ends = starts[1:] + [_time_at(offsets[-1], anchors)]
    return [
        Segment(start=round(s, 3), end=round(max(s, e), 3), text=d.text, speaker=d.speaker)
        for d, s, e in zip(drafts, starts, ends, strict=True)
    ]


def _cumulative(values: list[int]) -> list[int]:
    total, out = 0, []
    for value in values:
        total += value
        out.append(total)
    return out


def _time_at(offset: int, anchors: list[tuple[int, float]]) -> float:
    # Linear between the anchors around `offset`; past the last one, at the typical speaking rate.
    i = bisect_right(anchors, offset, key=lambda a: a[0])
    if i >= len(anchors):
        w_last, t_last = anchors[-1]
        return t_last + (offset - w_last) / WORDS_PER_SECOND
    (w0, t0), (w1, t1) = anchors[i - 1], anchors[i]
    return t0 + (t1 - t0) * (offset - w0) / (w1 - w0)


def _prepare(segments: Iterable[Segment]) -> list[_Run]:
    runs: list[_Run] = []
    for seg in segments:
        raw = seg.text.strip()
        turn = bool(TURN_MARK.match(raw))
        text = squash(strip_annotations(TURN_MARK.sub("", raw, count=1) if turn else raw))
        if not text:
            continue  # whitespace-only or a lone [BLANK_AUDIO]: nothing was said
        start = seg.start if math.isfinite(seg.start) and seg.start > 0 else 0.0
        end = seg.end if math.isfinite(seg.end) and seg.end > start else start
        if _PUNCTUATION_ONLY.match(text):
            if runs:  # a lone ',' or '.' belongs to the word before it
                runs[-1].text += text
                runs[-1].end = max(runs[-1].end, end)
            continue
        runs.append(_Run(start, end, text, seg.speaker, turn))
    runs.sort(key=lambda r: r.start)  # stable: equal starts keep file order
    return runs


def _collapse_line_splits(runs: list[_Run]) -> list[_Run]:
    # Publishers split one caption into lines that share a start and end; they are one utterance.
    out: list[_Run] = []
    for run in runs:
        last = out[-1] if out else None
        if (
            last is not None
            and not run.turn
            and (last.start, last.end, last.speaker) == (run.start, run.end, run.speaker)
        ):
            last.text = f"{last.text} {run.text}"
        else:
            out.append(run)
    return out


def _breaks(group: _Run, run: _Run, max_chars: int, max_gap: float) -> bool:
    return (
        run.turn
        or run.speaker != group.speaker
        or run.start - group.end > max_gap
        or len(group.text) + 1 + len(run.text) > max_chars
        or _ends_sentence(group.text)
    )


def _split_sentences(run: _Run, max_chars: int) -> list[_Run]:
    pieces = _sentences(run.text, max_chars)
    if len(pieces) == 1:
        return [run]
    # Times inside one segment are not known: share its span out by character position.
    total = sum(len(p) + 1 for p in pieces)
    span = run.end - run.start
    out: list[_Run] = []
    done = 0
    for n, piece in enumerate(pieces):
        start = run.start + span * done / total
        done += len(piece) + 1
        out.append(_Run(start, run.start + span * done / total, piece, run.speaker, run.turn and n == 0))
    return out


def _sentences(text: str, max_chars: int) -> list[str]:
    # Sentences, and any sentence longer than max_chars cut between words.
    pieces: list[str] = []
    for sentence in _join_abbreviations(_SENTENCE_SPLIT.split(text)):
        while len(sentence) > max_chars:
            cut = sentence.rfind(" ", 0, max_chars)
            cut = cut if cut > 0 else max_chars
            pieces.append(sentence[:cut].strip())
            sentence = sentence[cut:].strip()
        if sentence:
            pieces.append(sentence)
    return pieces


def _join_abbreviations(sentences: list[str]) -> list[str]:
    out: list[str] = []
    for sentence in sentences:
        if out and _ABBREVIATION.search(out[-1]):
            out[-1] = f"{out[-1]} {sentence}"
        else:
            out.append(sentence)
    return out


def _ends_sentence(text: str) -> bool:
    return bool(_SENTENCE_END.search(text)) and not _ABBREVIATION.search(text)
