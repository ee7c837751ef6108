"""HTML transcripts: the namespace <cite>/<time>/<p> shape, full pages, missing speakers, huge lines."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest

from core.errors import TranscriptParseError
from core.transcripts.html_format import parse_html
from core.transcripts.parse import parse_transcript


def test_each_turn_starts_at_its_time_and_runs_to_the_next(transcripts: Path) -> None:
    raw = parse_html((transcripts / "podcastns_example.html").read_text())
    assert [(s.speaker, s.start) for s in raw[:4]] == [
        ("Travis", 0.0),
        ("Sarah", 53.0),
        ("Travis", 102.0),
        ("Gilon", 219.0),
    ]
    assert raw[0].end == 53.0
    assert "it's almost guaranteed" in raw[0].text  # &#39; decoded


def test_full_page_with_saved_from_comment_reads_only_the_transcript(transcripts: Path) -> None:
    raw = parse_html((transcripts / "buzzcast_full-episode.html").read_text())
    assert len(raw) == 34
    assert raw[0].speaker == "Alban" and raw[0].text.startswith("It is so stinking nice")
    assert not any("saved from" in s.text or "charset" in s.text for s in raw)


def test_missing_first_cite_and_huge_lines_are_handled(transcripts: Path) -> None:
    data = (transcripts / "podnews-weekly_2023-03-17.html").read_bytes()
    raw = parse_html(data.decode())
    assert len(raw) == 9
    assert raw[0].speaker is None and raw[0].text.startswith("Hello. And just before we start")
    assert raw[1].speaker == "Norma-Jean Belenky"
    assert [s.start for s in raw] == [0, 67, 74, 884, 981, 1015, 1050, 1082, 1130]
    began = time.perf_counter()
    segments = parse_transcript(data, "text/html")
    assert time.perf_counter() - began < 1.0
    # the 13-minute paragraph is shared out over its sentences, inside its own span
    inside = [s for s in segments if 74 <= s.start < 884]
    assert len(inside) > 100
    assert all(len(s.text) <= 400 for s in segments)
    assert all(a.start <= b.start for a, b in itertools.pairwise(segments))


def test_speaker_label_colon_is_trimmed_and_missing_cite_keeps_the_last_speaker() -> None:
    text = (
        "<cite>Ann:</cite><time>0:05</time><p>One.</p>"
        "<time>0:09</time><p>Two.</p>"
        "<cite>Bob</cite><time>1:02:03</time><p>Three <b>bold</b><br>words.</p>"
    )
    raw = parse_html(text)
    assert [(s.speaker, s.start, s.text) for s in raw] == [
        ("Ann", 5.0, "One."),
        ("Ann", 9.0, "Two."),
        ("Bob", 3723.0, "Three bold words."),
    ]


def test_paragraph_without_time_is_placed_between_its_neighbours() -> None:
    raw = parse_html("<time>0:00</time><p>one two</p><p>three four</p><time>0:10</time><p>five</p>")
    assert [s.start for s in raw] == [0.0, 5.0, 10.0]


def test_page_without_the_namespace_shape_is_read_as_text() -> None:
    page = ("<html><head><title>T</title><script>var x=1</script></head>"
            "<body><p>00:00:05 Hello there.</p><p>00:00:09 Bye now.</p></body></html>")
    segments = parse_transcript(page.encode(), "text/html")
    assert [(s.start, s.text) for s in segments] == [(5.0, "Hello there."), (9.0, "Bye now.")]


def test_web_page_served_as_a_timed_format_is_refused() -> None:
    page = b"<!doctype html><html><body><h1>404 Not Found</h1><p>Sorry.</p></body></html>"
    with pytest.raises(TranscriptParseError, match="no timestamps"):
        parse_transcript(page, "application/json")
    with pytest.raises(TranscriptParseError):
        parse_transcript(page, "text/vtt")


def test_truncated_html_keeps_the_open_paragraph() -> None:
    raw = parse_html("<cite>Ann</cite><time>0:01</time><p>cut off in the mid")
    assert [(s.speaker, s.text) for s in raw] == [("Ann", "cut off in the mid")]
