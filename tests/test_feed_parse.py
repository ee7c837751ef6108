"""parse_feed: real-world feed quirks, Podcasting 2.0 tags, and hostile documents."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.errors import FeedParseError
from core.feeds.fields import html_to_text, parse_duration
from core.feeds.parse import parse_feed
from core.models import Person, Soundbite, TranscriptLink

DATA = Path(__file__).parent / "data" / "feeds"


def rss(items: str, channel: str = "<title>Show</title>", ns: str = "", head: str = "") -> bytes:
    """A small RSS document around the given items."""
    return (
        f'{head}<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" {ns}>'
        f"<channel>{channel}{items}</channel></rss>"
    ).encode()


PODCAST_NS = 'xmlns:podcast="https://podcastindex.org/namespace/1.0"'


# --- ordinary fields -------------------------------------------------------------------


def test_apple_example_feed_gives_episodes_newest_first_with_durations_and_audio():
    feed = parse_feed((DATA / "nodepp_apple-example.xml").read_bytes())
    assert feed.title == "All About Everything"
    assert [e.guid for e in feed.episodes] == [
        "http://example.com/podcasts/archive/aae20140615.m4a",
        "http://example.com/podcasts/archive/aae20140608.mp3",
        "http://example.com/podcasts/archive/aae20140601.mp3",
    ]
    first = feed.episodes[0]
    assert first.duration_s == 7 * 60 + 4
    assert first.audio_type == "audio/x-m4a"
    assert first.audio_length == 8727310
    assert first.published_at is not None and first.published_at.tzinfo is not None
    assert first.published_at.utcoffset().total_seconds() == 0


def test_dates_in_other_zones_become_aware_utc():
    body = rss("<item><guid>a</guid><title>A</title>"
               "<pubDate>Tue, 10 Oct 2023 10:46:31 +0200</pubDate></item>")
    (episode,) = parse_feed(body).episodes
    assert episode.published_at == datetime(2023, 10, 10, 8, 46, 31, tzinfo=UTC)


def test_items_are_sorted_newest_first_even_when_the_feed_lists_them_oldest_first():
    body = rss(
        "<item><guid>old</guid><pubDate>Mon, 01 Jan 2024 00:00:00 GMT</pubDate></item>"
        "<item><guid>new</guid><pubDate>Wed, 03 Jan 2024 00:00:00 GMT</pubDate></item>"
        "<item><guid>mid</guid><pubDate>Tue, 02 Jan 2024 00:00:00 GMT</pubDate></item>"
    )
    assert [e.guid for e in parse_feed(body).episodes] == ["new", "mid", "old"]


@pytest.mark.parametrize(
    "text, seconds",
    [("3600", 3600), ("1:02:03", 3723), ("62:03", 3723), ("07:04", 424), ("90.5", 90.5),
     ("", None), ("45 minutes", None), ("-5", None), ("1:2:3:4", None), ("nan", None)],
)
def test_itunes_duration_forms_are_read_as_seconds(text, seconds):
    assert parse_duration(text) == seconds


def test_description_is_plain_text_without_html_or_scripts():
    text = html_to_text("<p>Hello&nbsp;<b>world</b> &amp; friends</p><script>alert(1)</script>"
                        "<ul><li>one</li><li>two</li></ul>")
    assert text == "Hello world & friends\n\none\n\ntwo"


def test_the_longer_content_encoded_wins_over_a_short_summary():
    body = rss(
        "<item><guid>a</guid><description>Short.</description>"
        "<content:encoded><![CDATA[<p>Long notes with <a href='x'>links</a>.</p>]]></content:encoded>"
        "</item>",
        ns='xmlns:content="http://purl.org/rss/1.0/modules/content/"',
    )
    (episode,) = parse_feed(body).episodes
    assert episode.description == "Long notes with links."


def test_image_enclosures_are_not_audio_but_an_untyped_mp3_is():
    body = rss(
        '<item><guid>a</guid><enclosure url="https://x.test/cover.jpg" type="image/jpeg"/>'
        '<enclosure url="https://x.test/ep.mp3?t=1" length="10"/></item>'
        '<item><guid>b</guid><enclosure url="https://x.test/cover.png" type="image/png"/></item>'
    )
    first, second = parse_feed(body).episodes
    assert (first.audio_url, first.audio_type) == ("https://x.test/ep.mp3?t=1", "audio/mpeg")
    assert second.audio_url is None


def test_atom_enclosure_links_are_audio():
    body = (
        b'<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>'
        b"<entry><id>urn:1</id><title>One</title><updated>2024-01-01T00:00:00Z</updated>"
        b'<link rel="alternate" href="https://x.test/1"/>'
        b'<link rel="enclosure" type="audio/mpeg" length="99" href="https://x.test/1.mp3"/>'
        b"</entry></feed>"
    )
    (episode,) = parse_feed(body).episodes
    assert episode.audio_url == "https://x.test/1.mp3"
    assert episode.audio_length == 99
    assert episode.page_url == "https://x.test/1"


def test_relative_enclosure_transcript_and_chapter_urls_resolve_against_the_feed_url():
    body = rss(
        '<item><guid>a</guid><enclosure url="/media/ep1.mp3" type="audio/mpeg"/>'
        '<podcast:transcript url="ep1.vtt" type="text/vtt"/>'
        '<podcast:chapters url="../ch/ep1.json" type="application/json+chapters"/></item>',
        ns=PODCAST_NS,
    )
    (episode,) = parse_feed(body, base_url="https://host.test/shows/feed.xml").episodes
    assert episode.audio_url == "https://host.test/media/ep1.mp3"
    assert episode.transcripts[0].url == "https://host.test/shows/ep1.vtt"
    assert episode.chapters_url == "https://host.test/ch/ep1.json"


def test_the_real_relative_enclosure_feed_resolves_it_and_sees_it_is_an_image():
    feed = parse_feed((DATA / "feedrs_relative-enclosure-url.xml").read_bytes(),
                      base_url="https://kryogenix.org/random/relurleg.xml")
    (episode,) = feed.episodes
    assert episode.audio_url is None  # the relative enclosure is a PNG
    assert episode.page_url == "https://kryogenix.org/nothing-here-really"


def test_a_remote_feed_cannot_point_episodes_at_local_files():
    body = rss('<item><guid>a</guid><enclosure url="file:///etc/passwd" type="audio/mpeg"/></item>')
    (episode,) = parse_feed(body, base_url="https://host.test/feed.xml").episodes
    assert episode.audio_url is None


def test_a_local_feed_gets_file_urls_for_relative_enclosures():
    body = rss('<item><guid>a</guid><enclosure url="audio/ep1.mp3" type="audio/mpeg"/></item>')
    (episode,) = parse_feed(body, base_url="file:///srv/feeds/demo.xml").episodes
    assert episode.audio_url == "file:///srv/feeds/audio/ep1.mp3"


def test_itunes_new_feed_url_is_read_from_a_real_bbc_feed():
    feed = parse_feed((DATA / "feedrs_bbc-in-our-time_excerpt.xml").read_bytes())
    assert feed.new_feed_url == "https://podcasts.files.bbci.co.uk/b006qykl.rss"
    (episode,) = feed.episodes
    assert episode.duration_s == 3156
    assert episode.audio_type == "audio/mpeg"


# --- Podcasting 2.0 --------------------------------------------------------------------


def test_every_transcript_offer_person_and_soundbite_of_the_namespace_example_is_kept():
    feed = parse_feed((DATA / "podcastns_example.xml").read_bytes())
    assert feed.title == "Podcasting 2.0 Namespace Example"  # not the liveItem's title
    assert feed.site_url == "https://example.com/podcast"  # not the liveItem's link
    assert len(feed.episodes) == 3  # the liveItem is not an episode
    newest = feed.episodes[0]
    assert newest.transcripts == (
        TranscriptLink("https://example.com/ep3/transcript.txt", "text/plain"),
        TranscriptLink("https://example.com/episode1/transcript.vtt", "text/vtt", "es", "captions"),
    )
    assert newest.chapters_url == "https://example.com/ep3_chapters.json"
    assert newest.persons[0] == Person(
        name="Adam Curry", role="host", group="cast",
        href="https://www.podchaser.com/creators/adam-curry-107ZzmWE5f",
        img="https://example.com/images/adamcurry.jpg",
    )
    assert [p.name for p in newest.persons] == ["Adam Curry", "Dave Jones", "Becky Smith"]
    assert newest.persons[2].group == "visuals"
    assert newest.soundbites == (Soundbite(start=33.833, duration=60.0),)


def test_two_transcripts_and_soundbite_titles_survive_in_a_hand_written_item():
    body = rss(
        '<item><guid>a</guid>'
        '<podcast:transcript url="https://x.test/a.json" type="application/json"/>'
        '<podcast:transcript url="https://x.test/a.srt" type="application/srt" language="en"/>'
        '<podcast:soundbite startTime="73.0" duration="60.0">Why it matters</podcast:soundbite>'
        '<podcast:soundbite startTime="bad" duration="60.0">Broken</podcast:soundbite>'
        '<podcast:person role="Guest" href="https://x.test/p">Ada &amp; Co</podcast:person>'
        '<podcast:person role="host"></podcast:person>'
        "</item>",
        ns=PODCAST_NS,
    )
    (episode,) = parse_feed(body).episodes
    assert [t.mime_type for t in episode.transcripts] == ["application/json", "application/srt"]
    assert episode.transcripts[1].language == "en"
    assert episode.soundbites == (Soundbite(73.0, 60.0, "Why it matters"),)
    assert episode.persons == (Person("Ada & Co", role="guest", href="https://x.test/p"),)


def test_live_items_are_not_episodes():
    body = rss(
        '<podcast:liveItem status="live" start="2024-01-01T00:00:00Z">'
        "<title>Live now</title><guid>live-1</guid>"
        '<enclosure url="https://x.test/stream" type="audio/mpeg"/></podcast:liveItem>'
        '<item><guid>ep</guid><title>Episode</title></item>',
        ns=PODCAST_NS,
    )
    feed = parse_feed(body)
    assert [e.guid for e in feed.episodes] == ["ep"]
    assert feed.title == "Show"


# --- bozo but usable ---------------------------------------------------------------------


def test_an_unbound_itunes_prefix_still_parses_with_a_warning():
    body = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>S</title>'
            b"<item><guid>a</guid><itunes:duration>1:00</itunes:duration></item></channel></rss>")
    feed = parse_feed(body)
    assert [e.guid for e in feed.episodes] == ["a"]
    assert feed.warnings and "prefix" in feed.warnings[0]


def test_a_leading_newline_before_the_xml_declaration_still_parses_with_podcast_tags():
    body = rss('<item><guid>a</guid><podcast:transcript url="https://x.test/1.vtt" '
               'type="text/vtt"/><podcast:transcript url="https://x.test/1.srt" '
               'type="application/srt"/></item>', ns=PODCAST_NS, head="\n")
    feed = parse_feed(body)
    assert feed.warnings
    assert len(feed.episodes[0].transcripts) == 2


def test_an_undefined_entity_still_parses_and_keeps_both_transcripts():
    body = rss('<item><guid>a</guid><description>&lt;/p&gtgt; and &nbsp; Q&A</description>'
               '<podcast:transcript url="https://x.test/1.vtt" type="text/vtt"/>'
               '<podcast:transcript url="https://x.test/1.srt" type="application/srt"/></item>',
               ns=PODCAST_NS)
    feed = parse_feed(body)
    assert feed.warnings
    assert [e.guid for e in feed.episodes] == ["a"]
    assert len(feed.episodes[0].transcripts) == 2


# --- hostile or not a feed ------------------------------------------------------------------


@pytest.mark.parametrize(
    "reference", ["&#xD800;", "&#x110000;", "&#xFFFFFFFF;"],
)
def test_character_references_that_crash_feedparser_give_a_feed_parse_error(reference):
    body = rss(f"<item><guid>a</guid><title>x {reference} y</title></item>")
    with pytest.raises(FeedParseError, match="could not be read"):
        parse_feed(body)


def test_a_backslash_in_a_harmless_entity_value_is_read_literally():
    # feedparser used to crash on this; the entity is now written out before any parser runs.
    body = (b'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY foo "a\\qb">\n]>\n'
            b'<rss version="2.0"><channel><title>x &foo; y</title></channel></rss>')
    assert parse_feed(body).title == "x a\\qb y"


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>&lol9;</title><item><guid>a</guid></item></channel></rss>"""


@pytest.mark.parametrize("prefix", [b"", b"\n\n"], ids=["plain", "after-leading-newlines"])
def test_billion_laughs_is_refused_without_expanding_anything(prefix):
    with pytest.raises(FeedParseError, match="refuses to expand"):
        parse_feed(prefix + BILLION_LAUGHS)


def xxe_feed(secret: Path) -> bytes:
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>\n'
        '<rss version="2.0"><channel><title>t &xxe;</title>'
        "<item><guid>a</guid><title>&xxe;</title><description>&xxe;</description></item>"
        "</channel></rss>"
    ).encode()


def test_an_external_entity_never_discloses_a_local_file(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE")
    with pytest.raises(FeedParseError) as caught:
        parse_feed(xxe_feed(secret))
    assert "TOP-SECRET-VALUE" not in str(caught.value)


def test_an_external_entity_in_a_utf16_document_is_refused_too(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE")
    body = xxe_feed(secret).decode().replace('version="1.0"?>', 'version="1.0" encoding="utf-16"?>')
    with pytest.raises(FeedParseError):
        parse_feed(body.encode("utf-16"))


def test_a_netscape_doctype_without_entities_is_fine():
    body = (b'<?xml version="1.0"?><!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS '
            b'0.91//EN" "http://my.netscape.com/publish/formats/rss-0.91.dtd">'
            b'<rss version="0.91"><channel><title>Old</title><item><title>One</title>'
            b"<link>https://x.test/1</link></item></channel></rss>")
    feed = parse_feed(body)
    assert feed.title == "Old"
    assert [e.title for e in feed.episodes] == ["One"]


def test_a_body_that_is_a_file_path_is_never_opened(tmp_path):
    secret = tmp_path / "feed.xml"
    secret.write_bytes(rss("<item><guid>from-disk</guid></item>"))
    with pytest.raises(FeedParseError):
        parse_feed(str(secret).encode())


@pytest.mark.parametrize(
    "body, message",
    [
        (b"", "empty"),
        (b"  \n\t", "empty"),
        (b"<!DOCTYPE html><html><head><title>Login</title></head><body>Hi</body></html>",
         "web page"),
        (b'{"feed": "no"}', "not a podcast feed"),
        (b'<?xml version="1.0"?><rss version="2.0"></rss>', "no channel"),
        (b"\x00\xff\xfe garbage \x89PNG", "not a podcast feed"),
    ],
    ids=["empty", "whitespace", "html", "json", "no-channel", "binary"],
)
def test_documents_that_are_not_feeds_give_a_clear_error(body, message):
    with pytest.raises(FeedParseError, match=message):
        parse_feed(body)


def test_a_channel_without_items_is_a_feed_with_no_episodes():
    feed = parse_feed(rss(""))
    assert feed.title == "Show"
    assert feed.episodes == ()
