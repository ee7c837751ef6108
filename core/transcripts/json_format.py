"""Podcasting 2.0 JSON transcripts -> segments.

Spec: {"version": "1.0.0", "segments": [{"speaker", "startTime", "endTime", "body"}]};
endTime and speaker are optional.
"""

from __future__ import annotations

from typing import Any

from core.errors import TranscriptParseError
from core.models import Segment
from core.transcripts.cues import clean_speaker, json_seconds, load_json, strip_tags
from core.transcripts.merge import WORDS_PER_SECOND

# No episode runs two days; a time past that is a broken exporter (1e308 would push every later
# cue, the chapters and the [mm:ss] citations into nonsense). Such a cue is dropped rather than the
# whole file refused: one bad number should not cost the publisher's otherwise good transcript.
MAX_SECONDS = 48 * 3600.0


def parse_json_transcript(text: str) -> tuple[Segment, ...]:
    """Segments in file order; a missing endTime is the next segment's startTime."""
    items = _segment_items(load_json(text, "JSON transcript"))
    timed: list[tuple[float, float | None, str, str | None]] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        start = _sane_seconds(item.get("startTime"))
        body = item.get("body")
        if start is None or not isinstance(body, str):
            continue
        speaker = item.get("speaker")
        timed.append((start, _sane_seconds(item.get("endTime")), body, _speaker(speaker)))
    if not timed:
        raise TranscriptParseError("The JSON transcript has no segments with a start time and text.")
    next_starts = _next_starts([t[0] for t in timed])
    segments: list[Segment] = []
    for (start, end, body, speaker), next_start in zip(timed, next_starts, strict=True):
        if end is None or end < start:
            end = next_start if next_start is not None else start + len(body.split()) / WORDS_PER_SECOND
        # Bodies are kept raw (spaces included): merging decides what is whitespace-only.
        segments.append(Segment(start, max(start, end), strip_tags(body), speaker))
    return tuple(segments)


def _sane_seconds(value: Any) -> float | None:
    # json_seconds already refuses non-finite and negative times; this adds the upper bound.
    seconds = json_seconds(value)
    return seconds if seconds is not None and seconds <= MAX_SECONDS else None


def _segment_items(doc: Any) -> list[Any]:
    if isinstance(doc, dict) and isinstance(doc.get("segments"), list):
        return doc["segments"]
    if isinstance(doc, list):  # a bare list of segments: seen from hand-rolled exporters
        return doc
    raise TranscriptParseError('The JSON transcript has no "segments" list.')


def _speaker(value: Any) -> str | None:
    return clean_speaker(value) if isinstance(value, str) else None


def _next_starts(starts: list[float]) -> list[float | None]:
    # For each segment, the first later start beyond its own (line splits share a start).
    out: list[float | None] = [None] * len(starts)
    for i in range(len(starts) - 2, -1, -1):
        candidate = starts[i + 1] if starts[i + 1] > starts[i] else out[i + 1]
        out[i] = candidate if candidate is not None and candidate > starts[i] else None
    return out
