"""merge_segments and spread_times: sentence-sized output, monotonic times, no words lost."""

from __future__ import annotations

import itertools
import random

from core.models import Segment
from core.transcripts.merge import Draft, merge_segments, spread_times


def words(*items: tuple[float, float, str]) -> list[Segment]:
    return [Segment(start, end, text, "Ann") for start, end, text in items]


def test_word_level_segments_join_until_a_sentence_ends() -> None:
    merged = merge_segments(
        words((0, 0.3, "Hello"), (0.3, 0.6, "there."), (0.7, 1.0, "Next"), (1.0, 1.4, "one."))
    )
    assert [(s.start, s.end, s.text) for s in merged] == [(0.0, 0.6, "Hello there."), (0.7, 1.4, "Next one.")]


def test_a_speaker_change_always_starts_a_new_segment() -> None:
    merged = merge_segments([Segment(0, 1, "so what", "Ann"), Segment(1, 2, "do you think", "Bob")])
    assert [(s.speaker, s.text) for s in merged] == [("Ann", "so what"), ("Bob", "do you think")]


def test_a_pause_longer_than_max_gap_starts_a_new_segment() -> None:
    merged = merge_segments(words((0, 1, "and then"), (3, 4, "later on")), max_gap=1.5)
    assert [s.text for s in merged] == ["and then", "later on"]
    assert len(merge_segments(words((0, 1, "and then"), (2, 3, "soon")), max_gap=1.5)) == 1


def test_no_segment_grows_past_max_chars() -> None:
    many = [Segment(i, i + 1, "word", None) for i in range(500)]
    merged = merge_segments(many, max_chars=100)
    assert all(len(s.text) <= 100 for s in merged)
    assert sum(len(s.text.split()) for s in merged) == 500


def test_lines_sharing_start_and_end_collapse_before_sentences_are_split() -> None:
    merged = merge_segments(
        words(
            (16.74, 21.27, "wild. And I don't see anything."), (16.74, 21.27, "That's an absolute joy for at")
        )
    )
    assert [s.text for s in merged] == ["wild.", "And I don't see anything.", "That's an absolute joy for at"]
    assert merged[0].start == 16.74 and merged[-1].end == 21.27
    assert all(a.end <= b.start + 1e-9 for a, b in itertools.pairwise(merged))


def test_a_long_paragraph_is_split_at_sentences_with_times_shared_by_length() -> None:
    text = "First sentence here. " * 40
    merged = merge_segments([Segment(100.0, 180.0, text.strip(), "Ann")])
    assert len(merged) == 40
    assert merged[0].start == 100.0 and merged[-1].end == 180.0
    assert merged[20].start == 140.0


def test_a_sentence_longer_than_max_chars_is_cut_between_words() -> None:
    merged = merge_segments([Segment(0, 10, " ".join(["abcdefghi"] * 100), None)], max_chars=95)
    assert all(len(s.text) <= 95 for s in merged)
    assert " ".join(s.text for s in merged) == " ".join(["abcdefghi"] * 100)


def test_abbreviations_do_not_end_sentences() -> None:
    merged = merge_segments(words((0, 5, "I met Dr. Smith and Mr. Jones today. They agreed.")))
    assert [s.text for s in merged] == ["I met Dr. Smith and Mr. Jones today.", "They agreed."]


def test_whitespace_punctuation_and_blank_audio_never_stand_alone() -> None:
    merged = merge_segments(
        words(
            (0, 1, "Friday"),
            (1, 1, ","),
            (1, 1, "  "),
            (1.1, 2, "the"),
            (2, 2, "2nd"),
            (2, 2, "."),
            (3, 4, "[BLANK_AUDIO]"),
        )
    )
    assert [s.text for s in merged] == ["Friday, the 2nd."]


def test_turn_marks_split_unnamed_speakers_and_are_removed() -> None:
    merged = merge_segments(
        [Segment(0, 1, ">> are you", None), Segment(1, 2, "sure", None), Segment(2, 3, "- Yes", None)]
    )
    assert [s.text for s in merged] == ["are you sure", "Yes"]


def test_output_is_monotonic_even_from_shuffled_or_backwards_input() -> None:
    rng = random.Random(7)
    pieces = [
        Segment(rng.uniform(0, 100), rng.uniform(0, 100), rng.choice(["a", "b.", "c?"]), None)
        for _ in range(300)
    ]
    merged = merge_segments(pieces)
    assert all(s.start <= s.end for s in merged)
    assert all(a.start <= b.start for a, b in itertools.pairwise(merged))


def test_spread_times_interpolates_between_known_starts_and_extrapolates_after() -> None:
    drafts = [Draft(None, "a b"), Draft(10.0, "c d"), Draft(None, "e f"), Draft(30.0, "g h i j k")]
    segments = spread_times(drafts)
    assert [s.start for s in segments] == [0.0, 10.0, 20.0, 30.0]
    assert [s.end for s in segments] == [10.0, 20.0, 30.0, 32.0]  # 5 words at 2.5 words a second


def test_spread_times_ignores_a_mark_that_runs_backwards() -> None:
    segments = spread_times([Draft(0.0, "a"), Draft(50.0, "b"), Draft(20.0, "c"), Draft(60.0, "d")])
    assert [s.start for s in segments] == [0.0, 50.0, 55.0, 60.0]
