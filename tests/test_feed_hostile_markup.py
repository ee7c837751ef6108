"""Hostile feed markup found in review: each reads as a feed or a FeedParseError, quickly, never a crash."""

from __future__ import annotations

import pytest

from core.feeds.parse import parse_feed

pytestmark = pytest.mark.timeout(20)


def rss(item: str, prolog: str = "") -> bytes:
    return (f'<?xml version="1.0"?>{prolog}<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/">'
            f"<channel><title>S</title><item><guid>g</guid>{item}</item></channel></rss>").encode()


@pytest.mark.parametrize("junk", [("<a " * 22000)[:65536], "<a x" * 16000])
def test_a_description_of_unclosed_tag_starts_is_read_in_linear_time(junk: str) -> None:
    # each '<' used to restart a scan to the end of the text: 60-80 s of CPU for 64 KB
    (episode,) = parse_feed(rss(f"<title>T</title><description><![CDATA[{junk}]]></description>")).episodes
    assert episode.title == "T"


def test_an_empty_internal_subset_and_a_bare_ampersand_semicolon_read_as_text() -> None:
    body = rss("<title><![CDATA[a &; b]]></title>", prolog="<!DOCTYPE rss [<!-- <!ENTITY -->]>")
    (episode,) = parse_feed(body).episodes  # was a KeyError out of the entity guard
    assert episode.title == "a &; b"


def test_thousands_of_nested_media_groups_do_not_exhaust_the_stack() -> None:
    nested = '<media:group>' * 5000 + '<media:content url="https://x.test/a.mp3" type="audio/mpeg"/>'
    feed = parse_feed(rss(f"<title>T</title>{nested}{'</media:group>' * 5000}"))
    assert [e.title for e in feed.episodes] == ["T"]  # was a RecursionError


def test_an_atom_feed_over_the_item_cap_keeps_its_podcast_tags_and_reads_cleanly() -> None:
    entries = "".join(
        f"<entry><id>e{n}</id><title>E{n}</title><updated>2024-01-{28 - n:02d}T00:00:00Z</updated>"
        f'<link rel="enclosure" href="https://x.test/{n}.mp3" type="audio/mpeg"/>'
        f'<podcast:person role="host">Ada {n}</podcast:person></entry>' for n in range(5))
    body = ('<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom" '
            'xmlns:podcast="https://podcastindex.org/namespace/1.0"><title>A</title>'
            f"{entries}</feed>").encode()
    feed = parse_feed(body, max_items=3)
    assert [e.title for e in feed.episodes] == ["E0", "E1", "E2"]
    assert all(e.persons for e in feed.episodes)  # the cut body was unclosed: no persons, a warning
    assert not feed.warnings
