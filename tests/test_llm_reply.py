"""Strict validation of the model's JSON, and the transcript windows the model is shown."""

from __future__ import annotations

import itertools
import json

import pytest

from core.insights.llm_reply import ReplyError, parse_stamp, read_reply
from core.insights.prompts import MAX_INSIGHTS_PER_WINDOW, new_fence
from core.insights.windows import make_windows, transcript_lines
from core.models import Segment
from tests.test_provenance import load_buzzcast

GOOD = {
    "insight": "Weekly shows keep 40% more listeners than monthly ones.",
    "quote": "shows that publish weekly keep 40% more listeners",
    "start": "12:34", "kind": "data", "novelty": 0.7, "specificity": 0.9, "evidence": 0.4,
}


def reply(*items: dict) -> str:
    return json.dumps({"insights": list(items)})


def test_a_valid_reply_is_read_with_seconds_and_a_lowercase_kind() -> None:
    (item,), problems = read_reply(reply({**GOOD, "kind": " Data "}))
    assert problems == []
    assert item.start == 754.0 and item.kind == "data" and item.novelty == 0.7


def test_a_reply_in_a_code_fence_is_still_read() -> None:
    items, _ = read_reply("```json\n" + reply(GOOD) + "\n```")
    assert len(items) == 1


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("PWNED", "not valid JSON"),
        ('{"insights": [', "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"items": []}', "JSON object"),
        ('{"insights": "none"}', "must be a list"),
        (reply(*[GOOD] * (MAX_INSIGHTS_PER_WINDOW + 1)), "at most"),
        ("[" * 100_000, "not valid JSON"),
    ],
)
def test_a_broken_reply_is_refused_with_a_reason(text: str, why: str) -> None:
    with pytest.raises(ReplyError, match=why):
        read_reply(text)


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"insight": 5}, '"insight" must be a string'),
        ({"insight": "Too short."}, "characters"),
        ({"insight": "x" * 501}, "characters"),
        ({"quote": None}, '"quote" must be a string'),
        ({"quote": "too short"}, "words"),
        ({"quote": "word " * 91}, "words"),
        ({"start": "soon"}, '"start"'),
        ({"start": -3}, '"start"'),
        ({"start": True}, '"start"'),
        ({"kind": "joke"}, '"kind" must be one of'),
        ({"novelty": 1.5}, "between 0 and 1"),
        ({"evidence": "0.5"}, '"evidence" must be a number'),
        ({"specificity": False}, '"specificity" must be a number'),
        ({"novelty": float("nan")}, "between 0 and 1"),
    ],
)
def test_an_invalid_item_is_reported_and_the_valid_ones_kept(change: dict, why: str) -> None:
    items, problems = read_reply(reply(GOOD, {**GOOD, **change}))
    assert len(items) == 1
    (problem,) = problems
    assert problem.startswith("item 1:") and why in problem


def test_stamps_inside_quotes_are_removed() -> None:
    (item,), _ = read_reply(reply({**GOOD, "quote": "[12:34] shows that publish weekly keep"}))
    assert item.quote == "shows that publish weekly keep"


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("01:05", 65.0), ("1:02:03", 3723.0), ("[00:07]", 7.0), (12, 12.0), (3.5, 3.5),
     ("12:75", None), ("", None), (None, None), (float("inf"), None)],
)
def test_stamps_parse_to_seconds(value: object, seconds: float | None) -> None:
    assert parse_stamp(value) == seconds


def test_fences_are_random_and_never_occur_in_the_data() -> None:
    first, second = new_fence("text"), new_fence("text")
    assert first.token != second.token and len(first.token) == 16
    assert first.wrap("T", "data").startswith(f"<<<T-{first.token}>>>\ndata\n")


# --- windows ---------------------------------------------------------------------------------


def test_windows_fit_the_model_overlap_and_cover_every_line() -> None:
    segments = load_buzzcast()
    windows = make_windows(segments, window_tokens=1500, overlap_tokens=150)
    assert len(windows) >= 4
    for window in windows:
        assert len(window.text) <= 1500 * 4
    for before, after in itertools.pairwise(windows):
        shared = set(before.lines) & set(after.lines)
        assert shared and sum(len(line.render()) + 1 for line in shared) <= 150 * 4
        assert after.start > before.start
    lines = transcript_lines(segments, max_chars=10**6)
    assert {line for w in windows for line in w.lines} == set(lines)


def test_lines_are_stamped_with_speakers_and_short_segments_merge() -> None:
    segments = load_buzzcast()
    first = make_windows(segments, 3000, 300)[0].lines[0].render()
    assert first.startswith("[00:00] Alban: It is so stinking nice to like, show up")


def test_an_overlong_segment_is_split_with_interpolated_times() -> None:
    text = " ".join(f"w{i}" for i in range(2000))
    windows = make_windows((Segment(0.0, 1000.0, text, "Host"),), 500, 50)
    assert len(windows) > 3
    assert windows[1].start > 0.0 and windows[-1].end == pytest.approx(1000.0)
    assert all(len(w.text) <= 500 * 4 for w in windows)
