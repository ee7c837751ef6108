"""Plain-text and Markdown transcripts: timestamped lines, sparse marks, untimed paragraphs."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from core.errors import TranscriptParseError
from core.transcripts.parse import parse_transcript
from core.transcripts.text_format import parse_markdown, parse_text


def test_timestamped_lines_start_segments_and_run_to_the_next() -> None:
    text = ("00:00:00 Welcome to the show.\n\n00:00:06 Today: parsers.\nStill the same paragraph."
            "\n\n01:02:03 Bye.")
    segments = parse_text(text)
    assert [(s.start, s.end, s.text) for s in segments] == [
        (0.0, 6.0, "Welcome to the show."),
        (6.0, 3723.0, "Today: parsers. Still the same paragraph."),
        (3723.0, 3723.4, "Bye."),
    ]


def test_talk_python_text_matches_its_vtt_twin(corpus: Path) -> None:
    folder = corpus / "transcripts"
    text = parse_transcript((folder / "talkpython_000_intro.txt").read_bytes(), "text/plain")
    vtt = parse_transcript((folder / "talkpython_000_intro.vtt").read_bytes(), "text/vtt")
    assert [s.text for s in text] == [s.text for s in vtt]
    # the text file keeps whole seconds only
    assert all(abs(a.start - b.start) < 1.0 for a, b in zip(text, vtt, strict=True))


def test_otter_style_speaker_and_time_lines_head_their_paragraphs() -> None:
    text = "Jane Doe  0:03\nHello and welcome.\n\nSpeaker 2  (1:15)\nThanks, Jane.\n"
    assert [(s.speaker, s.start, s.text) for s in parse_text(text)] == [
        ("Jane Doe", 3.0, "Hello and welcome."),
        ("Speaker 2", 75.0, "Thanks, Jane."),
    ]


def test_untimed_paragraphs_are_laid_end_to_end_at_150_words_a_minute() -> None:
    words = " ".join(["word"] * 150)
    segments = parse_text(f"{words}\n\n{words}")
    assert [(s.start, s.end) for s in segments] == [(0.0, 60.0), (60.0, 120.0)]


def test_recurring_name_prefixes_become_speakers_and_one_offs_stay_text() -> None:
    text = "Ann: Hello.\n\nBob: Hi Ann.\n\nAnn: Welcome.\n\nBob: Thanks.\n\nNote: this stays text."
    segments = parse_text(text)
    assert [(s.speaker, s.text) for s in segments] == [
        ("Ann", "Hello."),
        ("Bob", "Hi Ann."),
        ("Ann", "Welcome."),
        ("Bob", "Thanks."),
        ("Bob", "Note: this stays text."),
    ]


def test_untimed_text_is_refused_when_timing_is_required() -> None:
    with pytest.raises(TranscriptParseError, match="no timestamps"):
        parse_text("Just words.\n\nMore words.", require_timing=True)


def test_markdown_marks_anchor_times_and_text_between_is_interpolated() -> None:
    text = (
        "**Ann:** one two three four\n\n"
        "**Bob:** \\[00:10\\] five six seven eight\n\n"
        "**Ann:** nine ten \\[unintelligible 00:00:15.00\\] eleven twelve\n\n"
        "**Bob:** \\[00:30\\] **bold** and [a link](https://example.com) end\n"
    )
    segments = parse_markdown(text)
    assert [(s.speaker, s.start, s.text) for s in segments] == [
        ("Ann", 0.0, "one two three four"),
        ("Bob", 10.0, "five six seven eight"),
        ("Ann", 20.0, "nine ten eleven twelve"),
        ("Bob", 30.0, "bold and a link end"),
    ]
    merged = parse_transcript(text.encode(), "text/markdown")
    assert "unintelligible" not in " ".join(s.text for s in merged)


def test_changelog_markdown_keeps_speakers_and_marks(corpus: Path) -> None:
    data = (corpus / "long-transcripts" / "changelog_go-time-300.md").read_bytes()
    segments = parse_transcript(data, "text/markdown")
    assert {s.speaker for s in segments} == {
        "Kris Brandow",
        "Jon Calhoun",
        "Johnny Boursiquot",
        "Ian Lopshire",
        "Angelica Hill",
    }
    at_mark = next(s for s in segments if s.text.startswith("Yeah, especially over - you know"))
    assert at_mark.start == 373.0  # '\[06:13\]'
    assert not any("**" in s.text or "\\[" in s.text for s in segments)
    assert all(a.start <= b.start for a, b in itertools.pairwise(segments))


def test_markdown_is_sniffed_when_served_as_plain_text() -> None:
    text = b"**Ann:** hello there.\n\n**Bob:** \\[00:05\\] hi.\n"
    segments = parse_transcript(text, "text/plain")
    assert [(s.speaker, s.start) for s in segments] == [("Ann", 0.0), ("Bob", 5.0)]


def test_text_with_no_words_raises() -> None:
    with pytest.raises(TranscriptParseError, match="no text"):
        parse_text("\n\n   \n")
