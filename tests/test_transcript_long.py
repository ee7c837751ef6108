"""Full-length episodes: every long corpus transcript parses completely and fast."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

from core.models import Segment
from core.transcripts.parse import parse_transcript

# Generous for a loaded 2-core CI box; unloaded, an hour of VTT takes well under 0.2 s.
SECONDS_PER_HOUR_OF_AUDIO = 1.0


def timed_parse(data: bytes, mime: str) -> tuple[tuple[Segment, ...], float]:
    """The segments and the best of three timings (other work on the box only ever adds time)."""
    times = []
    for _ in range(3):
        began = time.perf_counter()
        segments = parse_transcript(data, mime)
        times.append(time.perf_counter() - began)
    return segments, min(times)


def assert_sane(segments: tuple[Segment, ...]) -> None:
    assert all(0 <= s.start <= s.end for s in segments)
    assert all(a.start <= b.start for a, b in itertools.pairwise(segments))
    assert all(0 < len(s.text) <= 400 for s in segments)


def test_an_hour_of_generated_vtt_parses_in_well_under_a_second() -> None:
    cues = "".join(
        f"{i}\n{i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}.000 --> "
        f"{(i + 1) // 3600:02d}:{(i + 1) // 60 % 60:02d}:{(i + 1) % 60:02d}.000\n"
        f"<v Host>Sentence number {i} is about here and it ends.\n\n"
        for i in range(3600)
    )
    segments, seconds = timed_parse(f"WEBVTT\n\n{cues}".encode(), "text/vtt")
    assert len(segments) == 3600 and segments[-1].end == 3600.0
    assert seconds < SECONDS_PER_HOUR_OF_AUDIO


def test_talk_python_vtt_of_over_an_hour(corpus: Path) -> None:
    data = (corpus / "long-transcripts" / "talkpython_367_pyscript.vtt").read_bytes()
    segments, seconds = timed_parse(data, "text/vtt")
    assert_sane(segments)
    assert segments[-1].end == 4449.86
    assert 700 <= len(segments) <= 900  # 3861 cues, mostly whole sentences already
    assert seconds < 1.3 * SECONDS_PER_HOUR_OF_AUDIO


def test_podcasting_20_srt_of_an_hour_and_twenty_minutes(corpus: Path) -> None:
    data = (corpus / "long-transcripts" / "pc20_PC20-22-Captions.srt").read_bytes()
    segments, seconds = timed_parse(data, "application/srt")
    assert_sane(segments)
    assert segments[-1].text == "Podcasts are cool."
    assert segments[-1].end == 4911.04
    assert 1300 <= len(segments) <= 1600  # from 1929 cues
    words = sum(len(s.text.split()) for s in segments)
    assert words == 14_490  # every spoken word (the manifest's ~22k counts cue numbers and times)
    assert seconds < 1.4 * SECONDS_PER_HOUR_OF_AUDIO


def test_changelog_markdown_with_sparse_marks_is_interpolated_between_them(corpus: Path) -> None:
    data = (corpus / "long-transcripts" / "changelog_go-time-300.md").read_bytes()
    segments, seconds = timed_parse(data, "text/markdown")
    assert_sane(segments)
    assert seconds < SECONDS_PER_HOUR_OF_AUDIO
    starts = {s.start for s in segments}
    # every standalone mark is a segment start: '\[06:13\]' ... '\[01:14:24.09\]'
    assert {373.0, 592.0, 852.0, 3724.12, 4464.09} <= starts
    # the last mark is 1:46:09; the few paragraphs after it run on at ~150 words a minute
    assert 6369.26 < segments[-1].end <= 6700
