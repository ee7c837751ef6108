"""parse_transcript: decoding, sniffing lying types, and only TranscriptParseError on bad input."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest

from core.errors import TranscriptParseError
from core.models import Segment
from core.transcripts.html_format import parse_html
from core.transcripts.json_format import parse_json_transcript
from core.transcripts.parse import parse_transcript
from core.transcripts.srt import parse_srt
from core.transcripts.text_format import parse_markdown, parse_text
from core.transcripts.vtt import parse_vtt

DATA = Path(__file__).parent / "data" / "transcripts"
MIMES = ["text/vtt", "application/srt", "application/json", "text/html", "text/plain", "text/markdown", ""]


def test_vtt_served_as_text_plain_is_read_as_vtt() -> None:
    data = (DATA / "podcastns_example.vtt").read_bytes()
    assert parse_transcript(data, "text/plain") == parse_transcript(data, "text/vtt")
    assert {s.speaker for s in parse_transcript(data, "text/plain")} == {"Sarah", "Gillian"}


def test_srt_served_as_text_plain_or_json_is_read_as_srt() -> None:
    data = (DATA / "podcastns_example.srt").read_bytes()
    expected = parse_transcript(data, "application/srt")
    assert parse_transcript(data, "text/plain") == expected
    assert parse_transcript(data, "application/json") == expected
    assert parse_transcript(data, "", url="https://x.test/captions") == expected


def test_json_served_as_html_or_unknown_is_read_as_json() -> None:
    data = (DATA / "podcastns_example.json").read_bytes()
    assert parse_transcript(data, "text/html")[0].text == "I am your father."
    assert parse_transcript(data, "application/octet-stream")[0].speaker == "Darth Vader"


def test_srt_content_labelled_vtt_keeps_its_speakers() -> None:
    data = (DATA / "buzzcast_full-episode.srt").read_bytes()
    as_vtt = parse_transcript(data, "text/vtt")
    as_srt = parse_transcript(data, "application/srt")
    assert [(s.speaker, s.text) for s in as_vtt] == [(s.speaker, s.text) for s in as_srt]


def test_headerless_cues_with_short_timestamps_are_sniffed_as_vtt() -> None:
    data = b"0.860 --> 7.380\nHello there.\n\n7.400 --> 9.000\nBye now.\n"
    assert [(s.start, s.text) for s in parse_transcript(data, "text/plain")] == [
        (0.86, "Hello there."),
        (7.4, "Bye now."),
    ]


@pytest.mark.parametrize(
    "data",
    [
        "WEBVTT\n\n00:01.000 --> 00:02.000\nCafé crème.\n".encode("utf-8-sig"),
        "WEBVTT\n\n00:01.000 --> 00:02.000\nCafé crème.\n".encode("utf-16"),
        "WEBVTT\n\n00:01.000 --> 00:02.000\nCafé crème.\n".encode("cp1252"),
    ],
    ids=["utf-8 with BOM", "utf-16 with BOM", "windows-1252"],
)
def test_encodings_are_decoded(data: bytes) -> None:
    assert parse_transcript(data, "text/vtt")[0].text == "Café crème."


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"  \n\t \n", "empty"),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8, "not text"),
        (b"WEBVTT\n\n", "no readable cues"),
        (b"<html><body></body></html>", "no text"),
    ],
)
def test_empty_binary_and_content_free_files_raise_clear_errors(data: bytes, reason: str) -> None:
    with pytest.raises(TranscriptParseError, match=reason):
        parse_transcript(data, "text/vtt" if data.startswith(b"WEBVTT") else "text/html")


def assert_sane(segments: tuple[Segment, ...]) -> None:
    assert segments and all(isinstance(s, Segment) for s in segments)
    assert all(0 <= s.start <= s.end for s in segments)
    assert all(a.start <= b.start for a, b in itertools.pairwise(segments))
    assert all(s.text and s.text == s.text.strip() for s in segments)


def test_random_bytes_give_segments_or_a_transcript_error_never_a_crash() -> None:
    rng = random.Random(20240125)
    for _ in range(150):
        data = rng.randbytes(rng.randrange(0, 400))
        for mime in MIMES:
            try:
                assert_sane(parse_transcript(data, mime))
            except TranscriptParseError:
                pass


def test_truncated_and_mangled_real_files_never_crash_any_parser() -> None:
    rng = random.Random(7)
    parsers = [parse_vtt, parse_srt, parse_json_transcript, parse_html, parse_text, parse_markdown]
    samples = sorted(DATA.iterdir())
    for path in samples:
        data = path.read_bytes()[:6_000]
        for _ in range(4):
            cut = data[: rng.randrange(0, len(data) + 1)]
            if cut and rng.random() < 0.5:  # flip a few bytes too
                mangled = bytearray(cut)
                for _ in range(5):
                    mangled[rng.randrange(len(mangled))] = rng.randrange(256)
                cut = bytes(mangled)
            for mime in MIMES:
                try:
                    assert_sane(parse_transcript(cut, mime, url=path.name))
                except TranscriptParseError:
                    pass
            text = cut.decode("utf-8", errors="replace")
            for parser in parsers:  # each parser on its own, without the top-level safety net
                try:
                    parser(text)
                except TranscriptParseError:
                    pass
