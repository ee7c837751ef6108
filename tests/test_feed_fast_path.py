"""The fast RSS reader: used for RSS, equal to the feedparser reading, and as guarded."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import feedparser
import pytest

import core.feeds.parse as parse_module
from core.errors import FeedParseError
from core.feeds.parse import parse_feed
from tests.feed_snapshot import CORPUS

CORPUS_FEEDS = sorted(CORPUS.glob("*.xml")) if CORPUS.is_dir() else []
RSS = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>S</title>'
       b"<item><guid>a</guid><title>One</title></item></channel></rss>")


@pytest.fixture
def no_feedparser(monkeypatch: pytest.MonkeyPatch) -> None:
    """feedparser fails if anything calls it: what parses must be the fast reader."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("feedparser was called")

    monkeypatch.setattr(feedparser, "parse", refuse)


def test_an_rss_feed_is_read_without_feedparser(no_feedparser: None) -> None:
    assert [e.guid for e in parse_feed(RSS).episodes] == ["a"]


def test_an_atom_feed_still_goes_to_feedparser() -> None:
    body = (b'<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>'
            b"<entry><id>urn:1</id><title>One</title></entry></feed>")
    assert [e.guid for e in parse_feed(body).episodes] == ["urn:1"]


def test_xml_that_stays_broken_goes_to_feedparser() -> None:
    body = b'<rss version="2.0"><channel><title>S</title><item><guid>a</guid></item><item><guid>b'
    feed = parse_feed(body)
    assert [e.guid for e in feed.episodes] == ["a"]
    assert feed.warnings


BILLION_LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "lol">'
                  b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
                  b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
                  b'<rss version="2.0"><channel><title>&c;</title></channel></rss>')


def test_the_fast_reader_never_expands_nested_entities(no_feedparser: None) -> None:
    with pytest.raises(FeedParseError, match="refuses to expand"):
        parse_feed(BILLION_LAUGHS)


def test_the_fast_reader_never_reads_an_external_entity(no_feedparser: None, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE")
    body = (f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "{secret.as_uri()}">]>'
            '<rss version="2.0"><channel><title>&x;</title></channel></rss>').encode()
    with pytest.raises(FeedParseError) as caught:
        parse_feed(body)
    assert "TOP-SECRET-VALUE" not in str(caught.value)


def test_entities_hidden_in_an_encoding_the_byte_check_cannot_read_are_never_expanded() -> None:
    rest = ('<!DOCTYPE rss [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;">]><rss version="2.0">'
            "<channel><title>&b;</title><item><guid>g</guid></item></channel></rss>")
    body = b'<?xml version="1.0" encoding="cp037"?>' + rest.encode("cp037")
    try:
        feed = parse_feed(body)
    except FeedParseError:
        return
    assert "lol" not in feed.title


def test_a_harmless_entity_is_written_out_on_the_fast_path_too(no_feedparser: None) -> None:
    body = (b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY nbsp "&#160;">]><rss version="2.0">'
            b"<channel><title>A&nbsp;B</title></channel></rss>")
    assert parse_feed(body).title == "A B"


@pytest.mark.parametrize("path", CORPUS_FEEDS, ids=[p.name for p in CORPUS_FEEDS])
def test_every_corpus_feed_reads_the_same_on_both_paths(path: Path, monkeypatch) -> None:
    body = path.read_bytes()
    fast = parse_feed(body, "https://feeds.example.org/feed.xml")
    monkeypatch.setattr(parse_module, "read_rss", lambda *args: None)
    slow = parse_feed(body, "https://feeds.example.org/feed.xml")
    assert (fast.title, fast.site_url, fast.image_url, fast.new_feed_url) == (
        slow.title, slow.site_url, slow.image_url, slow.new_feed_url)
    assert len(fast.episodes) == len(slow.episodes)
    for a, b in zip(fast.episodes, slow.episodes, strict=True):
        assert dataclasses.asdict(a) == dataclasses.asdict(b), a.guid
