"""The same Buzzcast episode as JSON, SRT and HTML must read as the same words at the same times.

What the data allows: JSON and SRT hold the same cues (JSON rounds to 10 ms), so they must agree
word for word and within 0.02 s. The HTML holds one whole-second <time> per speaker turn (34
turns) plus one passage (44 words) the other two lack; inside a turn, sentence times are shared
out by length, so they agree only roughly.
"""

from __future__ import annotations

import difflib
import re
import statistics
from pathlib import Path

import pytest

from core.models import Segment
from core.transcripts.parse import parse_transcript

DATA = Path(__file__).parent / "data" / "transcripts"
TYPES = {"json": "application/json", "srt": "application/srt", "html": "text/html"}


@pytest.fixture(params=["copy", "corpus"])
def episode(request: pytest.FixtureRequest) -> dict[str, tuple[Segment, ...]]:
    """The episode in each format, from the tests/data copies and from the corpus."""
    folder = request.getfixturevalue("corpus") / "transcripts" if request.param == "corpus" else DATA
    return {
        ext: parse_transcript((folder / f"buzzcast_full-episode.{ext}").read_bytes(), mime)
        for ext, mime in TYPES.items()
    }


def timed_words(segments: tuple[Segment, ...]) -> list[tuple[str, float]]:
    """Normalised words, each with its segment's start (shared out by position in the segment)."""
    out: list[tuple[str, float]] = []
    for seg in segments:
        found = re.findall(r"[\w']+", seg.text.lower())
        for i, word in enumerate(found):
            out.append((word, seg.start + (seg.end - seg.start) * i / len(found)))
    return out


def aligned(a: list[tuple[str, float]], b: list[tuple[str, float]]) -> tuple[float, list[float]]:
    """Word-sequence similarity, and the time gaps of every word the two sequences share."""
    matcher = difflib.SequenceMatcher(None, [w for w, _ in a], [w for w, _ in b], autojunk=False)
    gaps = [
        abs(a[block.a + k][1] - b[block.b + k][1])
        for block in matcher.get_matching_blocks()
        for k in range(block.size)
    ]
    return matcher.ratio(), gaps


def turns(segments: tuple[Segment, ...]) -> list[tuple[str | None, float]]:
    return [
        (s.speaker, s.start) for i, s in enumerate(segments) if i == 0 or segments[i - 1].speaker != s.speaker
    ]


def test_json_and_srt_are_the_same_words_segments_and_times(episode: dict[str, tuple[Segment, ...]]) -> None:
    json_, srt = episode["json"], episode["srt"]
    assert [(s.speaker, s.text) for s in json_] == [(s.speaker, s.text) for s in srt]
    assert max(abs(a.start - b.start) for a, b in zip(json_, srt, strict=True)) <= 0.02
    assert max(abs(a.end - b.end) for a, b in zip(json_, srt, strict=True)) <= 0.02
    ratio, gaps = aligned(timed_words(json_), timed_words(srt))
    assert ratio == 1.0 and len(gaps) == 5302


def test_html_has_the_same_words_and_speaker_turns(episode: dict[str, tuple[Segment, ...]]) -> None:
    ratio, _ = aligned(timed_words(episode["json"]), timed_words(episode["html"]))
    assert ratio >= 0.995  # all that differs is the one extra HTML passage
    json_turns, html_turns = turns(episode["json"]), turns(episode["html"])
    assert [s for s, _ in json_turns] == [s for s, _ in html_turns]
    assert len(json_turns) == 34
    # HTML times are whole seconds, cut down: each turn starts within the second before JSON's
    assert all(0 <= j - h < 1.0 for (_, j), (_, h) in zip(json_turns, html_turns, strict=True))


def test_html_sentence_times_shared_out_inside_turns_stay_close(
    episode: dict[str, tuple[Segment, ...]],
) -> None:
    _, gaps = aligned(timed_words(episode["json"]), timed_words(episode["html"]))
    assert len(gaps) >= 5250
    assert statistics.median(gaps) <= 2.0
    assert sorted(gaps)[int(0.95 * len(gaps))] <= 5.0
    assert max(gaps) <= 10.0
