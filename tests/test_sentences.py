"""Sentence segmentation across caption segments: punctuation, abbreviations, speakers, raw ASR."""

from __future__ import annotations

import math

import pytest

from core.insights.sentences import MAX_WORDS, split_sentences
from core.models import Segment


def texts(segments: list[Segment]) -> list[str]:
    return [s.text for s in split_sentences(segments)]


def test_sentences_continue_across_caption_boundaries_with_interpolated_times() -> None:
    segments = [
        Segment(0.0, 4.0, "Heat pumps move heat. They do not"),
        Segment(4.0, 8.0, "make it, which is why they are efficient."),
    ]
    sentences = split_sentences(segments)
    assert [s.text for s in sentences] == [
        "Heat pumps move heat.", "They do not make it, which is why they are efficient."]
    first, second = sentences
    assert first.start == 0.0 and first.end == pytest.approx(4.0 * 21 / 33, abs=0.01)
    assert second.start == pytest.approx(4.0 * 22 / 33, abs=0.01)  # 22 characters into 33
    assert second.end == pytest.approx(8.0)
    assert [s.index for s in sentences] == [0, 1]


def test_abbreviations_initials_and_decimals_do_not_end_sentences() -> None:
    segments = [Segment(0, 10, "Dr. Ruth Patel of the U.S. Census Bureau said growth was 3.5% in 2023, "
                               "e.g. in Texas. J. R. R. Tolkien wrote slowly.")]
    assert texts(segments) == [
        "Dr. Ruth Patel of the U.S. Census Bureau said growth was 3.5% in 2023, e.g. in Texas.",
        "J. R. R. Tolkien wrote slowly.",
    ]


def test_an_abbreviation_that_ends_a_sentence_still_splits_before_a_new_one() -> None:
    assert texts([Segment(0, 6, "Prices rose in the U.S. The rest of the world followed.")]) == [
        "Prices rose in the U.S.", "The rest of the world followed."]


def test_question_and_exclamation_marks_end_sentences() -> None:
    assert texts([Segment(0, 5, "Does it work? Yes! It does.")]) == ["Does it work?", "Yes!", "It does."]


def test_unpunctuated_lowercase_speech_is_split_at_pauses() -> None:
    segments = [
        Segment(0.0, 3.0, "so the first thing you learn is that salt"),
        Segment(3.1, 5.0, "pulls water out of the meat"),
        Segment(6.0, 9.0, "and after forty minutes the brine goes back in"),
        Segment(9.1, 11.0, "which is why you should salt early"),
    ]
    assert texts(segments) == [
        "so the first thing you learn is that salt pulls water out of the meat",
        "and after forty minutes the brine goes back in which is why you should salt early",
    ]


def test_a_long_run_without_any_punctuation_or_pause_is_cut_to_bounded_sentences() -> None:
    words = ("so what we found is that the teams that shipped weekly had fewer incidents "
             "and the reason is that each change was smaller ") * 6
    chunks = [" ".join(words.split()[i:i + 8]) for i in range(0, len(words.split()), 8)]
    segments = [Segment(i * 3.0, i * 3.0 + 2.9, chunk) for i, chunk in enumerate(chunks)]
    sentences = split_sentences(segments)
    assert len(sentences) >= 3
    assert all(len(s.text.split()) <= MAX_WORDS for s in sentences)
    assert " ".join(s.text for s in sentences).split() == words.split()


def test_inline_speaker_labels_become_speakers_and_end_sentences() -> None:
    segments = [
        Segment(0, 3, "Adam Curry: hello everybody and welcome"),
        Segment(3, 6, "to the show Dave Jones: thanks"),
        Segment(6, 9, "Dave Jones: It was a weird weekend."),
        Segment(9, 12, "and the power went out."),
    ]
    sentences = split_sentences(segments)
    assert [(s.speaker, s.text) for s in sentences] == [
        ("Adam Curry", "hello everybody and welcome to the show Dave Jones: thanks"),
        ("Dave Jones", "It was a weird weekend."),
        ("Dave Jones", "and the power went out."),
    ]


def test_a_change_of_segment_speaker_ends_a_sentence() -> None:
    segments = [Segment(0, 2, "I think that", "Ana"), Segment(2, 4, "it works", "Ben")]
    assert [(s.speaker, s.text) for s in split_sentences(segments)] == [
        ("Ana", "I think that"), ("Ben", "it works")]


def test_word_level_segments_with_lone_punctuation_join_the_word_before() -> None:
    words = ["Salt", "early", ",", "not", "late", ".", "Then", "sear", "."]
    segments = [Segment(i * 0.4, i * 0.4 + 0.3, w) for i, w in enumerate(words)]
    assert texts(segments) == ["Salt early, not late.", "Then sear."]


def test_caption_lines_sharing_one_time_range_are_read_in_order() -> None:
    segments = [Segment(10.0, 14.0, "The first line of"), Segment(10.0, 14.0, "a caption. Second one.")]
    sentences = split_sentences(segments)
    assert [s.text for s in sentences] == ["The first line of a caption.", "Second one."]
    assert sentences[0].start == 10.0 and sentences[1].start > sentences[0].start + 2.0


@pytest.mark.parametrize("segments", [[], [Segment(0, 1, "   ")], [Segment(0, 1, "[Music]")]])
def test_transcripts_without_speech_yield_no_sentences(segments: list[Segment]) -> None:
    assert split_sentences(segments) == []


def test_broken_times_are_tolerated() -> None:
    segments = [Segment(math.nan, 2.0, "Lost cue."), Segment(5.0, 4.0, "Backwards cue."),
                Segment(6.0, 6.0, "Zero length.")]
    sentences = split_sentences(segments)
    assert [s.text for s in sentences] == ["Backwards cue.", "Zero length."]
    assert all(s.end >= s.start for s in sentences)


def test_markup_and_non_speech_notes_are_removed() -> None:
    assert texts([Segment(0, 3, "<v Ana>It <i>really</i> works. [laughter] (applause)")]) == [
        "It really works."]
