"""Feeds from publishers who bend the specs still give their episodes' audio, dates and links."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.errors import FeedParseError
from core.feeds.parse import parse_feed
from core.models import Chapter

ITUNES = 'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"'
PSC = 'xmlns:psc="http://podlove.org/simple-chapters"'
MEDIA = 'xmlns:media="http://search.yahoo.com/mrss/"'
PODCAST = 'xmlns:podcast="https://podcastindex.org/namespace/1.0"'
ATOM = 'xmlns="http://www.w3.org/2005/Atom"'


def _rss(item: str, channel: str = "<title>S</title>", ns: str = "", doctype: str = "") -> bytes:
    return (f'<?xml version="1.0"?>{doctype}<rss version="2.0" {ns}><channel>{channel}{item}'
            "</channel></rss>").encode()


def _one(item: str, **kwargs: str):
    (episode,) = parse_feed(_rss(item, **kwargs)).episodes
    return episode


@pytest.mark.parametrize(
    "mime",
    [
        "application/x-mpeg",
        "mp3",
        "application/mp3",
        "application/force-download",
        "application/octet-stream",
        "text/html",
    ],
)
@pytest.mark.parametrize("ext", ["mp3", "m4a"])
def test_an_audio_extension_is_trusted_over_an_odd_enclosure_type(mime: str, ext: str) -> None:
    url = f"https://cdn.example.com/ep1.{ext}"
    enclosure = f'<enclosure url="{url}" type="{mime}" length="100"/>'
    feed = parse_feed(_rss(f"<item><title>E</title><guid>g1</guid>{enclosure}</item>"))
    assert feed.episodes[0].audio_url == url
    assert feed.episodes[0].audio_type.startswith("audio/")


# --- 2. untyped, extensionless enclosures ------------------------------------------------------


def test_a_lone_untyped_extensionless_enclosure_is_the_audio_candidate() -> None:
    ep = _one('<item><title>E</title><guid>g</guid>'
              '<enclosure url="https://dts.example.com/track/ab12cd" length="100"/></item>')
    assert ep.audio_url == "https://dts.example.com/track/ab12cd"
    assert ep.audio_length == 100
    assert ep.audio_type is None  # the download's content sniffing decides


def test_an_untyped_enclosure_beside_an_image_is_not_taken_for_audio() -> None:
    ep = _one('<item><guid>g</guid><enclosure url="https://x.test/track/ab12" length="1"/>'
              '<enclosure url="https://x.test/cover.jpg" type="image/jpeg"/></item>')
    assert ep.audio_url is None


# --- 3. internal entities --------------------------------------------------------------------


def test_a_harmless_internal_entity_is_written_out_instead_of_refusing_the_feed() -> None:
    body = _rss("<item><guid>g</guid><title>A&nbsp;B &show;</title></item>",
                channel="<title>S&nbsp;1</title>",
                doctype='<!DOCTYPE rss [<!ENTITY nbsp "&#160;"> <!ENTITY show \'The Show\'>]>')
    feed = parse_feed(body)
    assert feed.title == "S 1"
    assert [e.title for e in feed.episodes] == ["A B The Show"]


@pytest.mark.parametrize(
    "declarations",
    [
        '<!ENTITY a "x"><!ENTITY b "&a;&a;">',  # a reference: expansion can grow
        '<!ENTITY % p "x">',  # parameter entity
        '<!ENTITY e SYSTEM "file:///etc/passwd">',  # external
        '<!ENTITY e PUBLIC "-//x//y" "http://127.0.0.1/x">',
        '<!ENTITY e "<b>markup</b>">',
        f'<!ENTITY e "{"x" * 65}">',  # long value
        "".join(f'<!ENTITY e{i} "x">' for i in range(65)),  # too many
        '<!ENTITY e "x"><!ELEMENT rss ANY>',  # other declarations
        '<!ENTITY amp "x">',  # redefines a predefined entity
    ],
    ids=["nested", "parameter", "system", "public", "markup", "long", "many", "element", "predefined"],
)
def test_entities_that_could_grow_or_reach_outside_are_still_refused(declarations: str) -> None:
    with pytest.raises(FeedParseError, match="refuses to expand"):
        parse_feed(_rss("<item><guid>g</guid><title>&e;</title></item>",
                        doctype=f"<!DOCTYPE rss [{declarations}]>"))


def test_a_flood_of_references_to_a_harmless_entity_is_refused() -> None:
    body = _rss("<item><guid>g</guid><title>" + "&e;" * 50_000 + "</title></item>",
                doctype=f'<!DOCTYPE rss [<!ENTITY e "{"y" * 64}">]>')
    with pytest.raises(FeedParseError, match="refuses to expand"):
        parse_feed(body)


# --- 4. dates in other languages and broken forms ----------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Di, 02 Jan 2024 03:04:05 +0100", datetime(2024, 1, 2, 2, 4, 5, tzinfo=UTC)),
        ("mer., 03 janv. 2024 10:00:00 +0100", datetime(2024, 1, 3, 9, 0, tzinfo=UTC)),
        ("02 Mär 2024 10:00:00 +0000", datetime(2024, 3, 2, 10, 0, tzinfo=UTC)),
        ("Lun, 04 Dic 2023 10:00:00 GMT", datetime(2023, 12, 4, 10, 0, tzinfo=UTC)),
        ("Do 04 Jan 2024 10:00 +0000", datetime(2024, 1, 4, 10, 0, tzinfo=UTC)),
    ],
)
def test_dates_are_read_whatever_the_weekday_language(text: str, expected: datetime) -> None:
    assert _one(f"<item><guid>g</guid><pubDate>{text}</pubDate></item>").published_at == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Tue, 2 Jan 24 03:04:05 +0000", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("Tue, 02 Jan 2024 03:04 +0000", datetime(2024, 1, 2, 3, 4, tzinfo=UTC)),
        ("2024-01-02T03:04:05+01:00", datetime(2024, 1, 2, 2, 4, 5, tzinfo=UTC)),
        ("2024-01-02", datetime(2024, 1, 2, tzinfo=UTC)),
    ],
)
def test_two_digit_years_missing_seconds_and_iso_dates_in_pubdate_stay_readable(
    text: str, expected: datetime
) -> None:
    assert _one(f"<item><guid>g</guid><pubDate>{text}</pubDate></item>").published_at == expected


# --- 5. zone abbreviations -------------------------------------------------------------------


@pytest.mark.parametrize(
    "zone, utc_hour, utc_minute",
    [("CEST", 10, 0), ("CET", 11, 0), ("BST", 11, 0), ("AEST", 2, 0), ("IST", 6, 30)],
)
def test_zone_abbreviations_are_not_read_as_utc(zone: str, utc_hour: int, utc_minute: int) -> None:
    ep = _one(f"<item><guid>g</guid><pubDate>Tue, 02 Jan 2024 12:00:00 {zone}</pubDate></item>")
    assert ep.published_at == datetime(2024, 1, 2, utc_hour, utc_minute, tzinfo=UTC)


def test_an_unknown_zone_name_falls_back_to_utc() -> None:
    ep = _one("<item><guid>g</guid><pubDate>Tue, 02 Jan 2024 12:00:00 QQT</pubDate></item>")
    assert ep.published_at == datetime(2024, 1, 2, 12, 0, tzinfo=UTC)


# --- 6. permalink guids ----------------------------------------------------------------------


def test_a_permalink_guid_is_the_page_link_when_there_is_no_link() -> None:
    ep = _one('<item><title>E</title><guid isPermaLink="true">http://ex.com/ep/1</guid></item>')
    assert ep.page_url == "http://ex.com/ep/1"


def test_a_permalink_guid_that_is_the_audio_url_is_not_a_page() -> None:
    ep = _one('<item><guid isPermaLink="true">https://ex.com/ep1.mp3</guid>'
              '<enclosure url="https://ex.com/ep1.mp3" type="audio/mpeg"/></item>')
    assert ep.page_url is None


# --- 7, 8. Atom covers and ids ---------------------------------------------------------------


@pytest.mark.parametrize("tags", ["<logo>/img/logo.png</logo>", "<icon>/img/logo.png</icon>"])
def test_an_atom_feed_gets_its_logo_or_icon_as_cover_resolved_against_the_feed_url(tags: str) -> None:
    body = (f"<feed {ATOM}><title>A</title>{tags}<entry><id>urn:1</id><title>One</title>"
            "</entry></feed>").encode()
    feed = parse_feed(body, "https://ex.com/feeds/a.atom")
    assert feed.image_url == "https://ex.com/img/logo.png"


@pytest.mark.parametrize("feed_id", ["https://ex.com/feeds/a.atom", "urn:uuid:60a76c80-d399"])
def test_an_atom_id_that_is_not_a_web_page_is_not_the_shows_website(feed_id: str) -> None:
    body = (f"<feed {ATOM}><title>A</title><id>{feed_id}</id><entry><id>urn:1</id>"
            "<title>One</title></entry></feed>").encode()
    assert parse_feed(body, "https://ex.com/feeds/a.atom").site_url == ""


# --- 9. items without a title ----------------------------------------------------------------


def test_an_item_without_title_takes_its_itunes_title() -> None:
    ep = _one("<item><guid>g</guid><itunes:title>The Real Title</itunes:title></item>", ns=ITUNES)
    assert ep.title == "The Real Title"


def test_an_item_without_any_title_is_named_after_its_audio_file_then_its_date() -> None:
    feed = parse_feed(_rss(
        '<item><guid>a</guid><enclosure url="https://x.test/shows/Ep%2012%20Hello.mp3?t=1" '
        'type="audio/mpeg"/><pubDate>Tue, 02 Jan 2024 12:00:00 GMT</pubDate></item>'
        "<item><guid>b</guid><pubDate>Mon, 01 Jan 2024 12:00:00 GMT</pubDate></item>"))
    assert [e.title for e in feed.episodes] == ["Ep 12 Hello", "2024-01-01"]


# --- 10. empty channels ----------------------------------------------------------------------


def test_an_empty_channel_is_a_feed_with_no_episodes() -> None:
    feed = parse_feed(b"<rss><channel></channel></rss>")
    assert feed.episodes == ()
    assert feed.title == ""


# --- 11. the rest ----------------------------------------------------------------------------


def test_a_legacy_redirect_new_location_moves_the_feed() -> None:
    feed = parse_feed(_rss("", channel="<title>S</title><redirect>"
                               "<newLocation>https://new.example/feed.xml</newLocation></redirect>"))
    assert feed.new_feed_url == "https://new.example/feed.xml"


def test_iso_8601_durations_are_read() -> None:
    ep = _one("<item><guid>g</guid><itunes:duration>PT1H2M3S</itunes:duration></item>", ns=ITUNES)
    assert ep.duration_s == 3723


@pytest.mark.parametrize("scheme", ["itpc", "pcast"])
def test_podcast_app_schemes_are_read_as_http(scheme: str) -> None:
    feed = parse_feed(_rss(
        f'<item><guid>g</guid><enclosure url="{scheme}://x.test/ep.mp3" type="audio/mpeg"/></item>',
        channel=f"<title>S</title><itunes:new-feed-url>{scheme}://x.test/new.xml</itunes:new-feed-url>",
        ns=ITUNES))
    assert feed.episodes[0].audio_url == "http://x.test/ep.mp3"
    assert feed.new_feed_url == "http://x.test/new.xml"


def test_inline_podlove_chapters_become_chapters() -> None:
    ep = _one('<item><guid>g</guid><psc:chapters version="1.2">'
              '<psc:chapter start="00:00:00.000" title="Intro"/>'
              '<psc:chapter start="00:01:30" title="Main part" href="https://x.test/notes"/>'
              "</psc:chapters></item>", ns=PSC)
    assert ep.chapters == (
        Chapter(start=0.0, title="Intro", end=90.0),
        Chapter(start=90.0, title="Main part", url="https://x.test/notes"),
    )


def test_a_podcast_chapters_file_wins_over_inline_chapters() -> None:
    ep = _one('<item><guid>g</guid><podcast:chapters url="https://x.test/c.json" '
              'type="application/json+chapters"/><psc:chapters version="1.2">'
              '<psc:chapter start="00:00:00" title="Intro"/></psc:chapters></item>',
              ns=f"{PSC} {PODCAST}")
    assert ep.chapters_url == "https://x.test/c.json"
    assert ep.chapters == ()


def test_the_default_media_rendition_is_the_audio() -> None:
    ep = _one('<item><guid>g</guid><media:group>'
              '<media:content url="https://x.test/low.mp3" type="audio/mpeg" fileSize="10"/>'
              '<media:content url="https://x.test/high.mp3" type="audio/mpeg" isDefault="true" '
              'fileSize="20"/></media:group></item>', ns=MEDIA)
    assert (ep.audio_url, ep.audio_length) == ("https://x.test/high.mp3", 20)


def test_titles_are_text_so_an_escaped_tag_keeps_its_words() -> None:
    feed = parse_feed(_rss("<item><guid>g</guid><title>The &lt;blink&gt; tag</title></item>",
                           channel="<title>Tags &lt;b&gt; and more</title>"))
    assert feed.episodes[0].title == "The <blink> tag"
    assert feed.title == "Tags <b> and more"
