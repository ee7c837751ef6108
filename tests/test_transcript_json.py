"""Podcasting 2.0 JSON transcripts: word-level files, missing endTime, whitespace-only bodies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import TranscriptParseError
from core.transcripts.json_format import parse_json_transcript
from core.transcripts.parse import parse_transcript


def test_word_level_segments_merge_into_sentences_with_their_word_times(transcripts: Path) -> None:
    data = (transcripts / "buzzsprout_how-to-start-a-podcast_word-level.json").read_bytes()
    assert len(parse_json_transcript(data.decode())) == 2442
    segments = parse_transcript(data, "application/json")
    assert segments[0].text == "Hey, Travis Albritain here."
    assert (segments[0].start, segments[0].end) == (0.3, 1.65)
    assert 80 <= len(segments) <= 200
    assert all(len(s.text) <= 400 for s in segments)
    assert {s.speaker for s in segments} == {"Travis", "Eric"}
    # no word lost: 2442 bodies less 59 lone ',', '.' and '?' glued to the word before them
    assert sum(len(s.text.split()) for s in segments) == 2442 - 59
    assert sum(s.text.count(",") for s in segments) >= 52


def test_whitespace_only_bodies_are_dropped_and_lone_punctuation_glued(transcripts: Path) -> None:
    data = (transcripts / "podnews-weekly_2023-06-02_whitespace-segments.json").read_bytes()
    segments = parse_transcript(data, "application/json")
    assert [(s.speaker, s.text) for s in segments] == [
        ("Speaker 1", "It's Friday, the 2nd of June 2023."),
        ("Speaker 2", "The last word in podcasting news."),
        ("Speaker 2", "This is the Pod News"),
    ]
    assert (segments[0].start, segments[0].end) == (0.221, 3.09)


def test_missing_end_time_comes_from_the_next_start(transcripts: Path) -> None:
    data = (transcripts / "podcast_search_json-no-endTime_synthetic.json").read_bytes()
    segments = parse_transcript(data, "application/json")
    assert [(s.start, s.end, s.speaker) for s in segments] == [
        (0.0, 5.5, "Speaker 1"),
        (5.5, 10.0, "Speaker 2"),
        (10.0, 11.6, "Speaker 1"),  # last one: its 4 words at ~150 words a minute
    ]


def test_line_splits_sharing_times_become_one_utterance(transcripts: Path) -> None:
    data = (transcripts / "podnews-weekly_2023-05-05_excerpt.json").read_bytes()
    segments = parse_transcript(data, "application/json")
    assert segments[0].text == "it's Friday, the 5th of May 20, 23."
    assert (segments[0].start, segments[0].end) == (0.035, 3.455)
    assert segments[1].speaker == "Jingles"
    assert {"James C", "Sam Sethi", "Jingles"} <= {s.speaker for s in segments}


def test_namespace_example_joins_words_per_speaker(transcripts: Path) -> None:
    segments = parse_transcript((transcripts / "podcastns_example.json").read_bytes(), "application/json")
    assert [(s.speaker, s.text, s.start, s.end) for s in segments] == [
        ("Darth Vader", "I am your father.", 0.5, 2.5),
        ("Luke", "Nooooo", 2.75, 3.0),
    ]


def test_odd_values_are_skipped_not_fatal() -> None:
    doc = {
        "segments": [
            {"startTime": "abc", "body": "bad start"},
            {"startTime": True, "body": "boolean start"},
            {"startTime": -3, "body": "negative"},
            {"startTime": 1, "endTime": 0.5, "body": "end before start"},
            {"startTime": "00:00:02.5", "endTime": "3", "body": "clock strings", "speaker": 7},
            {"startTime": 4, "body": None},
            "not an object",
        ]
    }
    segments = parse_json_transcript(json.dumps(doc))
    assert [(s.start, s.end, s.text, s.speaker) for s in segments] == [
        (1.0, 2.5, "end before start", None),
        (2.5, 3.0, "clock strings", None),
    ]


def test_times_beyond_two_days_drop_the_cue_and_keep_the_rest() -> None:
    doc = {
        "segments": [
            {"startTime": 1e308, "body": "absurd start"},
            {"startTime": 1, "endTime": 1e308, "body": "absurd end"},
            {"startTime": 48 * 3600 + 1, "body": "just past two days"},
            {"startTime": 5, "endTime": 6, "body": "fine"},
        ]
    }
    segments = parse_json_transcript(json.dumps(doc))
    # The absurd end is treated as missing, so it runs to the next start.
    assert [(s.start, s.end, s.text) for s in segments] == [(1.0, 5.0, "absurd end"), (5.0, 6.0, "fine")]


def test_a_file_whose_only_times_are_absurd_is_refused() -> None:
    with pytest.raises(TranscriptParseError, match="start time"):
        parse_json_transcript(json.dumps({"segments": [{"startTime": 1e308, "body": "x"}]}))


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"version": "1.0.0"}', '"segments"'),
        (b'{"segments": [{"body": "no times"}]}', "start time"),
        (b'{"segments": [{"startTime": NaN, "body": "x"}]}', "not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
        (b'{"segments": [{"startTime": 1, "body": "   "}]}', "no text"),
    ],
)
def test_broken_json_raises_a_clear_error(body: bytes, reason: str) -> None:
    with pytest.raises(TranscriptParseError, match=reason):
        parse_transcript(body, "application/json")
