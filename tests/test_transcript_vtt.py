"""WebVTT: real publisher files (copies in tests/data and the shared corpus) and hand-made quirks."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import TranscriptParseError
from core.transcripts.parse import parse_transcript
from core.transcripts.vtt import parse_vtt


def test_torture_file_keeps_voices_and_ignores_notes_settings_and_class_spans(transcripts: Path) -> None:
    segments = parse_vtt((transcripts / "podcast_search_vtt-edge-cases_synthetic.vtt").read_text())
    assert [s.text for s in segments] == [
        "Text line 1",
        "Text line 2",
        "Text line 3",
        "Text line 4",
        "Text line 5",
        "Multi Line 1 Multi Line 2",
    ]
    assert [s.speaker for s in segments] == [None, "Speaker1", "Speaker2", "Speaker3", None, None]
    # mm:ss.ttt and hh:mm:ss.ttt mixed in one file, with the jump to 01:02:09
    assert [s.start for s in segments] == [0.0, 2.0, 3.0, 65.0, 67.0, 3729.001]
    assert segments[-1].end == pytest.approx(3730.001)


def test_namespace_example_takes_speakers_from_voice_tags_and_decodes_entities(transcripts: Path) -> None:
    data = (transcripts / "podcastns_example.vtt").read_bytes()
    segments = parse_transcript(data, "text/vtt")
    assert {s.speaker for s in segments} == {"Sarah", "Gillian"}
    assert any("Podcasting Q&A," in s.text for s in segments)
    assert (
        segments[0].text
        == "In today's episode, you'll learn whether or not you should have a podcast trailer."
    )


def test_short_non_standard_timestamps_are_read(transcripts: Path) -> None:
    segments = parse_vtt((transcripts / "podnews-daily_2024-01-25_short-timestamps.vtt").read_text())
    assert (segments[0].start, segments[0].end) == (0.86, 7.38)
    assert (segments[-1].start, segments[-1].end) == (224.1, 225.62)  # '3:44.100 --> 3:45.620'
    assert {s.speaker for s in segments} == {"SPEAKER_1"}
    assert len(segments) == 44


def test_weekly_review_keeps_all_diarised_speakers(transcripts: Path) -> None:
    segments = parse_vtt((transcripts / "podnews-weekly_2024-01-19_short-timestamps.vtt").read_text())
    assert len(segments) == 189
    assert {s.speaker for s in segments} == {"SPEAKER_1", "SPEAKER_2", "SPEAKER_3", "SPEAKER_4"}
    assert segments[-1].end == 855.04


def test_leading_space_in_cue_text_is_trimmed_and_accents_survive(transcripts: Path) -> None:
    segments = parse_transcript((transcripts / "kde-express-16_spanish.vtt").read_bytes(), "text/vtt")
    assert segments[0].text == "Buenas, bienvenidas de vuelta a KDE Express."
    assert not any(s.text != s.text.strip() for s in segments)
    assert "versión movilidad" in " ".join(s.text for s in segments)


def test_youtube_style_file_splits_turns_at_markers_and_drops_blank_audio(corpus: Path) -> None:
    text = (corpus / "transcripts" / "talkpython_304_youtube-style.vtt").read_bytes()
    segments = parse_transcript(text, "text/vtt")
    joined = " ".join(s.text for s in segments)
    assert ">>" not in joined and "[BLANK_AUDIO]" not in joined
    texts = [s.text for s in segments]
    assert "Howdy." in texts  # '>> Howdy.' opens the guest's turn: not glued to the host's sentence
    assert segments[-1].end <= 4179.38


def test_double_blank_lines_turn_markers_and_dashes_are_handled() -> None:
    text = (
        "WEBVTT\n\n\n00:00:00.000 --> 00:00:02.000\n>> Hello there, welcome\n\n\n"
        "00:00:02.000 --> 00:00:04.000\nto the show.\n\n\n"
        "00:00:04.000 --> 00:00:06.000\n>> Thanks for having me\n\n"
        "00:00:06.000 --> 00:00:08.000\n- Did you like it?\n- Yes, a lot.\n"
    )
    segments = parse_transcript(text.encode(), "text/vtt")
    assert [s.text for s in segments] == [
        "Hello there, welcome to the show.",
        "Thanks for having me",
        "Did you like it?",
        "Yes, a lot.",
    ]


def test_style_region_note_blocks_and_cue_ids_never_become_text() -> None:
    text = (
        "\ufeffWEBVTT - My show\nKind: captions\n\n"
        "STYLE\n::cue { color: yellow }\n\n"
        "REGION\nid:fred width:40%\n\n"
        "NOTE a comment\nthat runs on\n\n"
        "intro-1\n00:00:01.000 --> 00:00:02.500 region:fred align:left size:50%\n"
        "<v Ann>Hi <b>there</b>.</v>\n\n"
        "2\n00:00:03.000 --> 00:00:04.000\n<v Bob>Hello.\n"
    )
    segments = parse_transcript(text.encode(), "text/vtt")
    assert [(s.speaker, s.text, s.start, s.end) for s in segments] == [
        ("Ann", "Hi there.", 1.0, 2.5),
        ("Bob", "Hello.", 3.0, 4.0),
    ]


def test_two_voices_in_one_cue_become_two_speakers() -> None:
    segments = parse_vtt("WEBVTT\n\n00:01.000 --> 00:03.000\n<v Ann>Ready?\n<v Bob>Yes.\n")
    assert [(s.speaker, s.text) for s in segments] == [("Ann", "Ready?"), ("Bob", "Yes.")]


def test_cues_with_broken_timestamps_are_skipped() -> None:
    text = (
        "WEBVTT\n\n00:00:xx.000 --> 00:00:02.000\nbad clock\n\n"
        "00:00:05.000 --> 00:00:04.000\nends before it starts\n\n"
        "00:00:06.000 -> 00:00:07.000\nno arrow\n\n"
        "00:00:08.000 --> 00:00:09.000\ngood one\n"
    )
    segments = parse_vtt(text)
    assert [s.text for s in segments] == ["good one"]


def test_file_without_one_valid_cue_raises_a_clear_error() -> None:
    with pytest.raises(TranscriptParseError, match="no readable cues"):
        parse_vtt("WEBVTT\n\n00:00:xx.000 --> 00:00:02.000\nbad clock\n")
    with pytest.raises(TranscriptParseError):
        parse_transcript(b"WEBVTT\n\nNOTE only a note\n", "text/vtt")


def test_windows_line_endings_parse_like_unix_ones() -> None:
    unix = "WEBVTT\n\n00:01.000 --> 00:02.000\nOne.\n\n00:02.000 --> 00:03.000\nTwo.\n"
    assert parse_vtt(unix.replace("\n", "\r\n")) == parse_vtt(unix)
