"""OPML import and export: nested outlines, sloppy exports, hostile files, round trips."""

from __future__ import annotations

import pytest

from core.errors import ValidationError
from core.feeds.opml import build_opml, parse_opml
from core.models import Feed

NESTED = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>My podcasts</title></head>
  <body>
    <outline text="News">
      <outline type="rss" text="Daily News" xmlUrl="https://news.test/feed.xml"/>
      <outline text="Deeper">
        <outline type="rss" title="Deep Show" text="ignored" xmlUrl="https://deep.test/rss"/>
      </outline>
    </outline>
    <outline type="rss" text="Tech" xmlUrl="https://tech.test/feed"/>
    <outline type="rss" text="Tech again" xmlUrl="https://tech.test/feed"/>
    <outline type="link" text="Just a link" url="https://example.test/"/>
  </body>
</opml>"""


def test_nested_outlines_are_all_found_in_document_order_without_repeats():
    assert parse_opml(NESTED) == [
        ("Daily News", "https://news.test/feed.xml"),
        ("Deep Show", "https://deep.test/rss"),
        ("Tech", "https://tech.test/feed"),
    ]


def test_sloppy_exports_with_bare_ampersands_and_odd_attribute_case_still_import():
    data = (b"\n<opml version='1.0'><body>"
            b"<outline text='Q&A Hour' XMLURL='https://qa.test/feed?a=1&b=2'/>"
            b"<outline xmlurl='https://untitled.test/rss'/></body></opml>")
    assert parse_opml(data) == [
        ("Q&A Hour", "https://qa.test/feed?a=1&b=2"),
        ("https://untitled.test/rss", "https://untitled.test/rss"),
    ]


@pytest.mark.parametrize(
    "data, message",
    [
        (b"<opml version='2.0'><head/><body/></opml>", "no <outline> entries"),
        (b"<opml><body><outline text='Folder'><outline text='no url'/></outline></body></opml>",
         "no outlines with an xmlUrl"),
    ],
    ids=["empty-body", "no-xmlurl"],
)
def test_an_opml_without_feeds_says_why_nothing_was_imported(data, message):
    with pytest.raises(ValidationError, match=message):
        parse_opml(data)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty"),
        (b"this is not xml at all", "not readable XML"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "not readable XML"),
        (b"<rss version='2.0'><channel/></rss>", "root element"),
        (b"<opml version='2.0'><head/></opml>", "no <body>"),
        ((b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaaaaaaaa">]>'
          b"<opml><body><outline text='&a;' xmlUrl='https://x.test/'/></body></opml>"), "entities"),
    ],
    ids=["empty", "text", "binary", "rss", "no-body", "entities"],
)
def test_garbage_gives_a_clear_validation_error(data, message):
    with pytest.raises(ValidationError, match=message):
        parse_opml(data)


def test_an_external_entity_in_opml_never_reads_a_file(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("TOP-SECRET")
    data = (f'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY x SYSTEM "{secret.as_uri()}">]>'
            "<opml><body><outline text='&x;' xmlUrl='https://x.test/'/></body></opml>").encode()
    with pytest.raises(ValidationError) as caught:
        parse_opml(data)
    assert "TOP-SECRET" not in str(caught.value)


def test_a_deeply_nested_file_does_not_exhaust_the_stack():
    depth = 5000
    data = (b"<opml><body>" + b"<outline text='x'>" * depth
            + b"<outline text='deep' xmlUrl='https://deep.test/'/>"
            + b"</outline>" * depth + b"</body></opml>")
    # Below the nesting limit nothing is read, nothing crashes, and the error says so.
    with pytest.raises(ValidationError, match="deeper than 50 levels"):
        parse_opml(data)


def test_a_thousand_deep_file_says_it_is_too_deep_but_keeps_feeds_above_the_limit():
    nested = b"<outline text='x'>" * 1000 + b"<outline xmlUrl='https://deep.test/'/>" + b"</outline>" * 1000
    lone = b"<opml><body>" + nested + b"</body></opml>"
    with pytest.raises(ValidationError, match="deeper than 50 levels"):
        parse_opml(lone)
    shallow = b"<opml><body><outline text='Top' xmlUrl='https://top.test/'/>" + nested + b"</body></opml>"
    assert parse_opml(shallow) == [("Top", "https://top.test/")]


def test_export_then_import_round_trips_titles_and_urls_and_skips_local_files():
    feeds = [
        Feed(id="f1", url="https://a.test/feed?token=x&y=1", title="A & B <show>",
             site_url="https://a.test/"),
        Feed(id="f2", url="https://b.test/rss", title="Bad\x00char \ud800 title"),
        Feed(id="f3", url="/srv/feeds/local.xml", title="Local", origin="operator"),
    ]
    data = build_opml(feeds)
    assert data.startswith(b"<?xml")
    assert b"/srv/feeds" not in data
    assert parse_opml(data) == [
        ("A & B <show>", "https://a.test/feed?token=x&y=1"),
        ("Badchar title", "https://b.test/rss"),
    ]
