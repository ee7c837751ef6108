"""SRT: speaker prefixes carried forward, comma milliseconds, sloppy block layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import TranscriptParseError
from core.transcripts.parse import parse_transcript
from core.transcripts.srt import parse_srt


def test_speaker_named_only_at_a_change_is_carried_to_following_cues(transcripts: Path) -> None:
    segments = parse_srt((transcripts / "buzzcast_full-episode.srt").read_text())
    assert len(segments) == 488
    assert segments[0].speaker == "Alban"
    assert segments[0].text == "It is so stinking nice to like, show up and record this"
    # cue 2 has no prefix: still Alban; cue 7 names Kevin
    assert segments[1].speaker == "Alban"
    assert (segments[6].speaker, segments[6].text[:17]) == ("Kevin", "You guys remember")
    assert {s.speaker for s in segments} == {"Alban", "Kevin", "Travis", "Tom", "Dave"}


def test_comma_milliseconds_are_read(transcripts: Path) -> None:
    segments = parse_srt((transcripts / "buzzcast_full-episode.srt").read_text())
    assert (segments[0].start, segments[0].end) == (0.0, 4.799)
    assert (segments[2].start, segments[2].end) == (8.25, 13.169)


def test_unknown_speaker_label_resets_the_speaker(transcripts: Path) -> None:
    segments = parse_srt((transcripts / "podcasting20_ep124.srt").read_text())
    assert len(segments) == 646
    assert segments[0].speaker == "Adam Curry"
    assert segments[0].text.startswith("podcasting 2.0 March 4 2023")
    assert {s.speaker for s in segments} == {"Adam Curry", "Dave Jones", None}
    assert not any(s.text.startswith("Unknown:") for s in segments)


def test_namespace_example_reads_inline_speaker_names(transcripts: Path) -> None:
    segments = parse_transcript((transcripts / "podcastns_example.srt").read_bytes(), "application/srt")
    assert {s.speaker for s in segments} == {"Travis", "Sarah", "Gilon"}
    assert segments[0].text.startswith("When you first get started in podcasting")


def test_publisher_srt_without_speakers_parses_an_hour_and_twenty_minutes(corpus: Path) -> None:
    data = (corpus / "long-transcripts" / "pc20_PC20-22-Captions.srt").read_bytes()
    raw = parse_srt(data.decode())
    assert len(raw) == 1929
    assert raw[-1].text == "Podcasts are cool."
    assert raw[-1].end == pytest.approx(4911.04)
    assert {s.speaker for s in raw} == {None}


def test_missing_blank_lines_and_blank_lines_inside_text_are_tolerated() -> None:
    text = (
        "1\n00:00:01,000 --> 00:00:02,000\nAnn: First line\n"
        "2\n00:00:02,000 --> 00:00:03,000\nsecond cue\n\nafter a blank line\n\n"
        "3\n00:00:03,500 --> 00:00:04,000\n<i>Bob:</i> styled\n"
        "4\n00:00:04,000 --> 00:00:05,000\nAnn: Back to me.\n\n"
        "5\n00:00:05,000 --> 00:00:06,000\nBob: And me.\n"
    )
    segments = parse_srt(text)
    assert [(s.speaker, s.text) for s in segments] == [
        ("Ann", "First line"),
        ("Ann", "second cue after a blank line"),
        ("Bob", "styled"),  # the label is found after markup is stripped
        ("Ann", "Back to me."),
        ("Bob", "And me."),
    ]


def test_colons_that_do_not_name_a_recurring_speaker_stay_text() -> None:
    text = (
        "1\n00:00:01,000 --> 00:00:02,000\nnote: this is text\n\n"
        "2\n00:00:02,000 --> 00:00:03,000\nThe rule is simple: go\n\n"
        "3\n00:00:03,000 --> 00:00:04,000\nToday: a one-off label, not a person\n"
    )
    segments = parse_srt(text)
    assert {s.speaker for s in segments} == {None}
    assert segments[2].text == "Today: a one-off label, not a person"


def test_srt_without_any_readable_timing_raises() -> None:
    with pytest.raises(TranscriptParseError, match="SRT"):
        parse_srt("1\n00:00:aa,000 --> 00:00:02,000\nHello\n")
    with pytest.raises(TranscriptParseError):
        parse_transcript(b"just some words", "application/srt")
