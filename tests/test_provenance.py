"""Quote alignment: fuzzy enough for speech-to-text, strict enough to reject invented quotes."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import pytest

from core.insights.provenance import QuoteAligner, align_quote, normalise_words
from core.models import Segment
from tests.conftest import DATA


def load_buzzcast() -> tuple[Segment, ...]:
    """The Buzzcast full episode (MIT, tests/data): 959 segments, ~5.3k words, 28 minutes."""
    doc = json.loads((DATA / "buzzcast_full-episode.json").read_text(encoding="utf-8"))
    return tuple(
        Segment(float(s["startTime"]), float(s["endTime"]), s["body"], s.get("speaker"))
        for s in doc["segments"]
    )


def one_hour(segments: tuple[Segment, ...]) -> tuple[Segment, ...]:
    """Two back-to-back copies: ~10.5k words over ~56 minutes (each phrase occurs twice)."""
    shift = segments[-1].end + 10.0
    return segments + tuple(replace(s, start=s.start + shift, end=s.end + shift) for s in segments)


SIMPLE = (
    Segment(0.0, 10.0, "Welcome back to the show, everyone.", "Ann"),
    Segment(10.0, 20.0, "One two three four five six seven eight nine ten", "Ann"),
    Segment(20.0, 30.0, "Shows that publish weekly keep 40% more listeners than monthly ones.", "Bo"),
    Segment(30.0, 40.0, "That surprised us, honestly, when we ran the numbers.", "Bo"),
)


def test_words_are_normalised_to_lowercase_tokens_without_punctuation() -> None:
    assert normalise_words("Don't STOP — it's Café-time, 40%!") == [
        "dont", "stop", "its", "cafe", "time", "40",
    ]


def test_an_exact_quote_gets_the_transcript_words_and_interpolated_times() -> None:
    found = align_quote("six seven eight nine ten", SIMPLE)
    assert found is not None
    assert found.text == "six seven eight nine ten"
    assert found.start == pytest.approx(15.0)
    assert found.end == pytest.approx(20.0)
    assert found.ratio == 1.0
    assert found.speaker == "Ann"


def test_case_and_punctuation_differences_are_tolerated_and_the_transcript_text_wins() -> None:
    found = align_quote("shows that publish WEEKLY keep 40 more listeners than monthly ones", SIMPLE)
    assert found is not None
    assert found.text == "Shows that publish weekly keep 40% more listeners than monthly ones."
    assert found.start == pytest.approx(20.0)
    assert found.speaker == "Bo"


def test_a_quote_across_two_segments_spans_both_times() -> None:
    found = align_quote("than monthly ones. That surprised us, honestly", SIMPLE)
    assert found is not None
    assert found.start == pytest.approx(20.0 + 10 * 8 / 11, abs=0.01)
    assert found.end == pytest.approx(30.0 + 10 * 4 / 9, abs=0.01)
    assert found.text == "than monthly ones. That surprised us, honestly,"


def test_a_small_speech_to_text_difference_is_tolerated() -> None:
    found = align_quote("shows that publish weakly keep 40% more listeners than monthly ones", SIMPLE)
    assert found is not None and 0.85 <= found.ratio < 1.0


def test_an_invented_quote_is_not_found() -> None:
    assert align_quote("Monthly shows keep far more listeners than weekly ones do", SIMPLE) is None
    segments = load_buzzcast()
    assert align_quote(
        "The secret to growing a podcast is posting on TikTok every day at noon", segments
    ) is None


def test_a_paraphrase_of_a_real_sentence_is_not_accepted_as_a_quote() -> None:
    assert align_quote(
        "Podcasts publishing every week retain 40% more of their audience", SIMPLE
    ) is None


def test_quotes_too_short_to_be_evidence_and_empty_transcripts_give_nothing() -> None:
    assert align_quote("the show", SIMPLE) is None
    assert align_quote("six seven eight nine", ()) is None
    assert align_quote("", SIMPLE) is None


def test_a_segment_without_an_end_borrows_the_next_start() -> None:
    segments = (Segment(5.0, 5.0, "alpha beta gamma delta"), Segment(9.0, 12.0, "epsilon zeta"))
    found = align_quote("gamma delta epsilon", segments)
    assert found is not None
    assert found.start == pytest.approx(7.0)
    assert found.end == pytest.approx(10.5)


def test_the_hint_picks_the_nearer_of_two_identical_passages() -> None:
    segments = one_hour(load_buzzcast())
    aligner = QuoteAligner(segments)
    quote = " ".join(w for s in segments[200:204] for w in s.text.split())
    early = aligner.align(quote, hint=segments[200].start)
    late = aligner.align(quote, hint=segments[200].start + segments[958].end + 10.0)
    assert early is not None and late is not None
    assert early.start == pytest.approx(segments[200].start, abs=1.0)
    assert late.start == pytest.approx(segments[959 + 200].start, abs=1.0)


def test_aligning_quotes_in_a_one_hour_transcript_is_fast() -> None:
    segments = one_hour(load_buzzcast())
    words = [w for s in segments for w in s.text.split()]
    assert len(words) > 10_000
    began = time.perf_counter()
    aligner = QuoteAligner(segments)
    built = time.perf_counter() - began
    quotes = [" ".join(words[i : i + 25]).upper() for i in range(0, 10_000, 200)]
    began = time.perf_counter()
    found = [aligner.align(q) for q in quotes]
    per_quote = (time.perf_counter() - began) / len(quotes)
    print(f"\nindex of {len(words)} words: {built * 1000:.1f} ms; {per_quote * 1000:.2f} ms/quote")
    assert all(f is not None and f.ratio == 1.0 for f in found)
    assert built < 1.0 and per_quote < 0.05  # generous: ~0.05 s and ~4 ms on a 2-core laptop
