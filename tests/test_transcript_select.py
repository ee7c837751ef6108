"""Choosing among an episode's transcript offers, and what type each really is."""

from __future__ import annotations

import pytest

from core.models import TranscriptLink
from core.transcripts.select import (
    has_timing,
    mime_for,
    normalise_mime,
    rank_transcript_links,
)


@pytest.mark.parametrize(
    ("declared", "url", "expected"),
    [
        ("text/vtt; charset=utf-8", "https://x.test/a", "text/vtt"),
        ("application/x-subrip", "https://x.test/a", "application/srt"),
        ("text/srt", None, "application/srt"),
        ("Application/JSON", None, "application/json"),
        ("", "https://x.test/ep/captions.SRT?token=abc", "application/srt"),
        ("text/plain", "https://x.test/ep.vtt", "text/vtt"),  # servers call everything text/plain
        ("text/plain", "https://x.test/ep.txt", "text/plain"),
        ("application/octet-stream", "https://x.test/t.json#frag", "application/json"),
        ("text/html", "https://x.test/t.json", "text/html"),  # a specific declared type wins
        ("", "https://x.test/notes.md", "text/markdown"),
        ("", "https://[::1/broken", "application/octet-stream"),
        ("", None, "application/octet-stream"),
    ],
)
def test_types_are_normalised_and_guessed_from_the_extension(
    declared: str, url: str | None, expected: str
) -> None:
    assert normalise_mime(declared, url) == expected


def test_timed_formats_rank_first_then_html_then_text_then_unknown() -> None:
    links = [
        TranscriptLink("https://x.test/t.txt", "text/plain"),
        TranscriptLink("https://x.test/t", "application/x-unknown"),
        TranscriptLink("https://x.test/t.html", "text/html"),
        TranscriptLink("https://x.test/t.srt", "application/x-subrip", rel="captions"),
        TranscriptLink("https://x.test/t.vtt", "text/vtt", rel="captions"),
        TranscriptLink("https://x.test/t.json", "application/json"),
    ]
    ranked = rank_transcript_links(links)
    assert [mime_for(link) for link in ranked] == [
        "application/json",
        "text/vtt",
        "application/srt",
        "text/html",
        "text/plain",
        "application/x-unknown",
    ]


def test_equal_types_keep_the_feed_order() -> None:
    first = TranscriptLink("https://x.test/en.vtt", "text/vtt", language="en")
    second = TranscriptLink("https://x.test/es.vtt", "text/vtt", language="es")
    assert rank_transcript_links([first, second]) == [first, second]
    assert rank_transcript_links([]) == []


def test_timing_is_promised_only_by_json_vtt_and_srt() -> None:
    assert has_timing("application/x-subrip") and has_timing("text/vtt; charset=utf-8")
    assert not has_timing("text/html") and not has_timing("text/plain") and not has_timing("")
