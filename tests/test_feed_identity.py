"""Episode identity: guids, guid-less feeds with rotating enclosure tokens, reused guids."""

from __future__ import annotations

from datetime import UTC, datetime

from core.feeds.identity import (
    Fingerprint,
    assign_identities,
    enclosure_key,
    episode_identity,
    same_episode,
    unique_episodes,
)
from core.feeds.parse import parse_feed
from core.ids import episode_id_for
from core.models import ParsedEpisode

DAY1 = datetime(2024, 3, 1, tzinfo=UTC)
DAY2 = datetime(2024, 3, 2, tzinfo=UTC)


def ep(guid=None, title="Episode", audio=None, when=None, description="") -> ParsedEpisode:
    return ParsedEpisode(guid=guid, title=title, published_at=when, duration_s=None,
                         audio_url=audio, audio_type="audio/mpeg" if audio else None,
                         audio_length=None, page_url=None, description=description)


def test_the_guid_is_the_identity_stripped():
    assert episode_identity(ep(guid="  abc-123 \n", audio="https://x.test/a.mp3")) == "abc-123"


def test_a_guid_of_1_is_a_valid_identity():
    assert episode_identity(ep(guid="1")) == "1"
    assert episode_identity(ep(guid="0")) == "0"


def test_without_a_guid_the_enclosure_url_without_query_and_fragment_is_the_identity():
    a = ep(audio="https://CDN.test/show/ep1.mp3?token=abc&utm_source=rss#t=0")
    assert episode_identity(a) == "https://cdn.test/show/ep1.mp3"


def test_rotating_enclosure_tokens_keep_the_same_identity():
    monday = ep(audio="https://cdn.test/ep1.mp3?Expires=1&Signature=aaa")
    tuesday = ep(audio="https://cdn.test/ep1.mp3?Expires=2&Signature=bbb")
    assert episode_identity(monday) == episode_identity(tuesday)


def test_without_guid_or_enclosure_the_title_and_date_are_the_identity():
    a, b = ep(title="News", when=DAY1), ep(title="News", when=DAY2)
    assert episode_identity(a) != episode_identity(b)
    assert episode_identity(a) == episode_identity(ep(title="  News ", when=DAY1))


def test_an_item_with_nothing_but_text_still_gets_a_stable_identity():
    a = ep(title="", description="only notes")
    assert episode_identity(a) == episode_identity(ep(title="", description="only notes"))
    assert episode_identity(a) != episode_identity(ep(title="", description="other notes"))


def test_enclosure_key_rejects_non_urls():
    assert enclosure_key(None) is None
    assert enclosure_key("") is None
    assert enclosure_key("no scheme here") is None


def test_the_same_item_listed_twice_becomes_one_episode_keeping_the_first():
    first = ep(guid="g1", title="One", audio="https://x.test/1.mp3", when=DAY2)
    repeat = ep(guid="g1", title="One (repeat)", audio="https://x.test/1.mp3", when=DAY1)
    assert unique_episodes([first, repeat]) == [first]


def test_a_reused_guid_on_clearly_different_episodes_keeps_both():
    newer = ep(guid="1", title="Second show", audio="https://x.test/2.mp3", when=DAY2)
    older = ep(guid="1", title="First show", audio="https://x.test/1.mp3", when=DAY1)
    pairs = assign_identities([newer, older])
    assert [e for _, e in pairs] == [newer, older]
    assert pairs[0][0] == "1"
    assert pairs[1][0] != "1"


def test_a_reused_guid_keeps_the_stored_episode_s_identity_on_later_polls():
    stored_first = ep(guid="1", title="First show", audio="https://x.test/1.mp3", when=DAY1)
    known = {"1": Fingerprint.of(stored_first)}
    newer = ep(guid="1", title="Second show", audio="https://x.test/2.mp3", when=DAY2)
    pairs = {e.title: i for i, e in assign_identities([newer, stored_first], known)}
    assert pairs["First show"] == "1"  # the stored episode is still recognised
    assert pairs["Second show"] != "1"  # the newcomer is new, not a duplicate of the stored one
    # and the newcomer's key is stable on the next poll too
    known[pairs["Second show"]] = Fingerprint.of(newer)
    again = {e.title: i for i, e in assign_identities([newer, stored_first], known)}
    assert again == pairs


def test_an_edited_title_or_a_moved_enclosure_is_still_the_same_episode():
    original = ep(guid="g", title="Ep 1", audio="https://old-cdn.test/1.mp3", when=DAY1)
    retitled = ep(guid="g", title="Ep 1: the real title", audio="https://old-cdn.test/1.mp3",
                  when=DAY1)
    moved = ep(guid="g", title="Ep 1", audio="https://new-cdn.test/1.mp3", when=DAY1)
    assert same_episode(original, retitled)
    assert same_episode(original, moved)


def test_episode_ids_depend_on_the_feed_so_guid_1_in_two_feeds_differs():
    assert episode_id_for("fa", "1") != episode_id_for("fb", "1")


def test_an_untitled_items_stand_in_date_title_keeps_the_identity_it_had_without_one():
    body = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>S</title><item>'
            b"<description>Notes only</description><pubDate>Mon, 01 Jan 2024 12:00:00 GMT</pubDate>"
            b"</item></channel></rss>")
    (episode,) = parse_feed(body).episodes
    assert episode.title == "2024-01-01"
    assert episode_identity(episode) == "\x1f" + datetime(2024, 1, 1, 12, tzinfo=UTC).isoformat()
