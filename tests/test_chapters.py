"""Podcasting 2.0 JSON chapters and show-notes timestamps, on every corpus chapters file."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from core.errors import TranscriptParseError
from core.models import Chapter
from core.transcripts.chapters import (
    chapter_at,
    parse_chapters,
    parse_description_chapters,
    visible,
)

DATA = Path(__file__).parent / "data" / "chapters"


@pytest.fixture(params=["copy", "corpus"])
def chapters_dir(request: pytest.FixtureRequest) -> Path:
    """The tests/data copy, then the corpus original (skipped where the corpus is absent)."""
    if request.param == "corpus":
        return request.getfixturevalue("corpus") / "chapters"
    return DATA


def test_namespace_example_fills_each_end_from_the_next_start(chapters_dir: Path) -> None:
    chapters = parse_chapters((chapters_dir / "podcastns_example.json").read_bytes())
    assert [c.start for c in chapters] == [0, 168, 260, 410, 3990, 4600, 5510, 5854, 6089]
    assert chapters[0] == Chapter(start=0.0, title="Intro", end=168.0)
    assert chapters[3].url == "https://github.com/Podcastindex-org/podcast-namespace"
    assert chapters[-1].end is None  # the episode's length is not in the file


def test_complex_example_keeps_a_hidden_untitled_location_chapter(chapters_dir: Path) -> None:
    chapters = parse_chapters((chapters_dir / "podcastns_exampleComplex.json").read_bytes())
    hidden = [c for c in chapters if not c.toc]
    assert hidden == [Chapter(start=4826.0, title="Eiffel Tower, Paris", end=5510.0, toc=False)]
    donations = next(c for c in chapters if c.title == "Donations")
    assert donations.end == 4826.0  # timing keeps the hidden mark
    assert next(c for c in visible(chapters) if c.title == "Donations").end == 5510.0


def test_empty_chapter_list_is_no_chapters(chapters_dir: Path) -> None:
    assert parse_chapters((chapters_dir / "rssblue_empty.json").read_bytes()) == ()


def test_vendor_keys_are_ignored(chapters_dir: Path) -> None:
    chapters = parse_chapters((chapters_dir / "rssblue_vendor-extension-remoteEntity.json").read_bytes())
    assert len(chapters) == 9 and chapters[5].title == "Donations"


def test_millisecond_floats_hidden_chapters_and_non_ascii_titles(chapters_dir: Path) -> None:
    chapters = parse_chapters((chapters_dir / "cdspill_Outrun_chapters.json").read_bytes())
    assert len(chapters) == 57
    assert sum(not c.toc for c in chapters) == 23
    assert sum(c.url is not None for c in chapters) == 6
    assert chapters[1] == Chapter(start=41.97, title="Velkommen til cd SPILL", end=241.514)
    assert any(c.title == "Kjøreopplevelsen" for c in chapters)
    # 'Vineyard' (toc:false) falls inside 'Ulike endings': a lookup names the visible chapter
    vineyard = next(c for c in chapters if c.title == "Vineyard")
    assert not vineyard.toc
    assert chapter_at(chapters, vineyard.start + 1).title == "Ulike endings"


@pytest.mark.parametrize(
    ("name", "count", "hidden"),
    [("cdspill_1995_chapters.json", 106, 2), ("cdspill_MagicCarpet_chapters.json", 67, 39)],
)
def test_large_and_mostly_hidden_chapter_files(corpus: Path, name: str, count: int, hidden: int) -> None:
    chapters = parse_chapters((corpus / "chapters" / name).read_bytes())
    assert len(chapters) == count
    assert len(visible(chapters)) == count - hidden
    assert all(a.start <= b.start for a, b in itertools.pairwise(chapters))
    assert all(c.end is not None for c in chapters[:-1])


def test_single_chapter_starting_late_covers_nothing_before_it(corpus: Path) -> None:
    chapters = parse_chapters((corpus / "chapters" / "pc20_PC20-100-Chapters.json").read_bytes())
    assert [(c.start, c.end) for c in chapters] == [(600.0, None)]
    assert chapter_at(chapters, 10) is None
    assert chapter_at(chapters, 4000).title.startswith("Thank you Dreb Scott")


def test_empty_url_string_becomes_none(corpus: Path) -> None:
    chapters = parse_chapters((corpus / "chapters" / "pc20_PC20-12-Chapters.json").read_bytes())
    assert chapters == (Chapter(start=20.0, title="Start", url=None),)


def test_trailing_spaces_are_trimmed_and_many_close_chapters_keep_order(corpus: Path) -> None:
    ep145 = parse_chapters((corpus / "chapters" / "pc20_PC20-145-Chapters.json").read_bytes())
    assert len(ep145) == 22 and ep145[0].start == 1.0
    assert all(c.title == c.title.strip() for c in ep145)
    ep23 = parse_chapters((corpus / "chapters" / "pc20_PC20-23-Chapters.json").read_bytes())
    assert len(ep23) == 68
    assert all(c.url is None or c.url.startswith("http") for c in ep23)


def test_unsorted_chapters_are_sorted_and_odd_values_tolerated() -> None:
    data = (
        b'{"chapters": [{"startTime": 90.5, "title": " Later  "}, {"startTime": "0", "title": "First",'
        b' "toc": "false"}, {"startTime": -1, "title": "negative"}, {"title": "no start"},'
        b' {"startTime": 30, "title": 5, "endTime": 20, "url": 7}]}'
    )
    chapters = parse_chapters(data)
    assert chapters == (
        Chapter(start=0.0, title="First", end=30.0, toc=False),
        Chapter(start=30.0, title="", end=90.5),
        Chapter(start=90.5, title="Later"),
    )


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"<html>not json</html>", "not valid JSON"),
        (b'{"version": "1.2.0"}', '"chapters"'),
        (b'{"chapters": [{"title": "no start"}]}', "start time"),
        (b"\x00\x01\x02" * 100, "not text"),
    ],
)
def test_broken_chapter_files_raise_a_clear_error(data: bytes, reason: str) -> None:
    with pytest.raises(TranscriptParseError, match=reason):
        parse_chapters(data)


def test_chapter_at_uses_visible_chapters_and_stops_at_a_known_end() -> None:
    chapters = (
        Chapter(0, "Intro", 10),
        Chapter(10, "song", 20, toc=False),
        Chapter(20, "Talk", 30),
    )
    assert chapter_at(chapters, 15).title == "Intro"
    assert chapter_at(chapters, 25).title == "Talk"
    assert chapter_at(chapters, 30) is None
    assert chapter_at((), 5) is None
    assert chapter_at((Chapter(0, "hidden", toc=False),), 5) is None


def test_show_notes_timestamps_become_chapters(chapters_dir: Path) -> None:
    text = (chapters_dir / "rssblue_description-timestamps.txt").read_text()
    chapters = parse_description_chapters(text)
    assert [(c.start, c.title) for c in chapters] == [
        (0.0, "Intro"),
        (285.0, "Plot summary"),
        (611.0, "Sergio Leone"),
        (1018.0, "Ennio Morricone"),
        (1350.0, "Charles Bronson"),
        (1642.0, "Henry Fonda"),
        (1941.0, "Conclusion"),
    ]
    assert chapters[0].end == 285.0 and chapters[-1].end is None


def test_show_notes_in_html_with_hours_and_brackets() -> None:
    html = "<p>Links below.</p><p>[00:00] Hello<br>(12:30) - Middle bit<br>1:02:03 The end</p>"
    assert [(c.start, c.title) for c in parse_description_chapters(html)] == [
        (0.0, "Hello"),
        (750.0, "Middle bit"),
        (3723.0, "The end"),
    ]


def test_a_lone_or_backwards_time_in_notes_is_not_a_chapter_list() -> None:
    assert parse_description_chapters("Recorded live.\n10:30 we started late.\n") == ()
    chapters = parse_description_chapters("05:00 Start\n02:00 mentioned earlier\n09:00 End")
    assert [c.title for c in chapters] == ["Start", "End"]
