"""Every real-world feed in ../shared/corpus imports, with the right episodes and no duplicates."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web

from core.adapters.http import SafeFetcher
from core.config import HttpSettings, Settings
from core.feeds.parse import parse_feed
from core.feeds.poller import FeedPoller
from core.models import Episode, EpisodeState
from core.store.tables import Table
from tests.fakes.clock import FakeClock
from tests.fakes.http_server import serve_app
from tests.fakes.memory_store import FakeStore

pytestmark = pytest.mark.corpus

# Items (RSS) or entries (Atom) counted in each file, minus podcast:liveItem elements; the corpus
# has no item listed twice. Checked against a plain count of the XML in the test below.
EXPECTED_EPISODES = {
    "antennapod_atom-enclosures_synthetic.xml": 10,
    "antennapod_podnews-transcript-json-srt.xml": 1,
    "feedrs_bbc-in-our-time_excerpt.xml": 1,
    "feedrs_relative-enclosure-url.xml": 1,
    "feedrs_youtube-channel_atom.xml": 1,
    "gnome_de-grote-no-guid.xml": 12,
    "gnome_de-grote-with-guid.xml": 12,
    "gnome_ellinofreneia_greek.xml": 6,
    "gnome_intercepted_2018-01-20.xml": 43,
    "gnome_intercepted_2018-02-03.xml": 47,
    "gnome_linux-unplugged-2020_huge.xml": 384,
    "gnome_ndr_2024-03-13.xml": 2,
    "gnome_ndr_2024-03-14.xml": 2,
    "gnome_reply-all-reruns.xml": 187,
    "gnome_series-i-cinema_iso-8859-1.xml": 50,
    "gnome_street-fight-radio_500items.xml": 500,
    "nodepp_apple-example.xml": 3,
    "nodepp_rtve_spanish.xml": 6,
    "nodepp_se-radio_missing-guids.xml": 249,
    "partytime_acast-sentimental-garbage.xml": 138,
    "partytime_dw-langsam-gesprochene-nachrichten.xml": 59,
    "partytime_fireside-launched.xml": 36,
    "partytime_homegrown-hits.xml": 4,  # plus 1 liveItem
    "partytime_mike-neumann-show.xml": 54,  # plus 1 liveItem
    "partytime_no-agenda.xml": 29,
    "partytime_peertube-natube-liveitem.xml": 15,  # plus 1 liveItem
    "partytime_podcasting20.xml": 56,
    "partytime_podverse-test-feed.xml": 5,  # plus 4 liveItems
    "partytime_publisher-agileset.xml": 0,  # a publisher feed: shows, no episodes
    "partytime_subsplash-changing-the-tide.xml": 15,
    "partytime_wondery-1865.xml": 61,
    "podcastns_example.xml": 3,  # plus 1 liveItem
}

_ITEM = re.compile(rb"<item[\s>]|<entry[\s>]")


class OneUrlServer:
    """Serves one body at /feed.xml; tests swap the body between polls."""

    def __init__(self) -> None:
        self.body = b""

    async def handle(self, request: web.Request) -> web.Response:
        return web.Response(body=self.body, content_type="application/rss+xml")


@pytest_asyncio.fixture
async def one_url() -> AsyncIterator[tuple[OneUrlServer, str]]:
    fake = OneUrlServer()
    app = web.Application()
    app.router.add_get("/feed.xml", fake.handle)
    async with serve_app(app) as base:
        yield fake, base + "/feed.xml"


@pytest_asyncio.fixture
async def fetcher() -> AsyncIterator[SafeFetcher]:
    client = SafeFetcher(HttpSettings(allow_private_addresses=True, total_timeout_s=20))
    await client.start()
    yield client
    await client.close()


def test_the_expected_counts_match_a_plain_count_of_items_in_each_file(corpus: Path):
    files = sorted(p.name for p in (corpus / "feeds").glob("*.xml"))
    assert files == sorted(EXPECTED_EPISODES)
    for name, expected in EXPECTED_EPISODES.items():
        assert len(_ITEM.findall((corpus / "feeds" / name).read_bytes())) == expected, name


async def test_every_corpus_feed_imports_with_exact_episode_counts_and_unique_ids(
    corpus: Path, one_url, fetcher
):
    server, url = one_url
    for name, expected in EXPECTED_EPISODES.items():
        store = FakeStore()
        poller = FeedPoller(fetcher, store, FakeClock(), Settings())
        server.body = (corpus / "feeds" / name).read_bytes()
        feed, episodes = await poller.add_feed(url)
        assert feed.title, name
        assert len(episodes) == expected, name
        stored = await Table(store, "episodes", Episode).all()
        assert len({e.id for e in stored}) == expected, name
        assert sum(e.state == EpisodeState.NEW for e in stored) == min(3, expected), name


def parsed(corpus: Path, name: str):
    return parse_feed((corpus / "feeds" / name).read_bytes())


def test_podcasting_2_tags_survive_in_real_feeds(corpus: Path):
    no_agenda = parsed(corpus, "partytime_no-agenda.xml")  # bozo: undefined entity
    assert no_agenda.warnings
    assert sum(1 for e in no_agenda.episodes if e.transcripts) == 29
    assert sum(1 for e in no_agenda.episodes if e.chapters_url) == 29
    pc20 = parsed(corpus, "partytime_podcasting20.xml")
    assert sum(len(e.transcripts) for e in pc20.episodes) == 47
    assert sum(1 for e in pc20.episodes if e.chapters_url) == 48
    mike = parsed(corpus, "partytime_mike-neumann-show.xml")
    with_two = [e for e in mike.episodes if len(e.transcripts) == 2]
    assert with_two
    # the publisher's types as declared; the transcript module normalises aliases
    assert {t.mime_type for t in with_two[0].transcripts} == {"application/x-subrip", "text/vtt"}
    assert {(t.language, t.rel) for t in with_two[0].transcripts} == {("EN", "captions")}
    assert any(e.soundbites for e in mike.episodes)
    huge = parsed(corpus, "gnome_linux-unplugged-2020_huge.xml")
    assert sum(len(e.persons) for e in huge.episodes) == 1204
    podnews = parsed(corpus, "antennapod_podnews-transcript-json-srt.xml")
    assert [t.mime_type for t in podnews.episodes[0].transcripts] == [
        "application/json", "application/srt"]


def test_encodings_and_guidless_items_in_real_feeds(corpus: Path):
    assert parsed(corpus, "gnome_series-i-cinema_iso-8859-1.xml").title == "Sèries i Cinema"
    assert parsed(corpus, "gnome_ellinofreneia_greek.xml").title == "Ελληνοφρένεια"
    se_radio = parsed(corpus, "nodepp_se-radio_missing-guids.xml")
    assert sum(1 for e in se_radio.episodes if e.guid is None) == 166
    no_guid = parsed(corpus, "gnome_de-grote-no-guid.xml")  # bozo: unbound itunes prefix
    assert all(e.guid is None and e.audio_url for e in no_guid.episodes)
    assert no_guid.new_feed_url and not no_guid.new_feed_url.startswith("\n")
    assert parsed(corpus, "partytime_podverse-test-feed.xml").title == "Podverse - Test Feed"


async def poll_pair(corpus: Path, one_url, fetcher, before: str, after: str, start: datetime):
    server, url = one_url
    clock = FakeClock(start)
    poller = FeedPoller(fetcher, FakeStore(), clock, Settings())
    server.body = (corpus / "feeds" / before).read_bytes()
    feed, _ = await poller.add_feed(url)
    clock.advance(days=1)
    server.body = (corpus / "feeds" / after).read_bytes()
    report = await poller.poll(feed)
    repeat = await poller.poll(report.feed)
    assert repeat.new_episodes == [] and repeat.status == "unchanged"
    return report


async def test_the_intercepted_snapshots_yield_exactly_the_four_new_episodes(
    corpus: Path, one_url, fetcher
):
    report = await poll_pair(corpus, one_url, fetcher, "gnome_intercepted_2018-01-20.xml",
                             "gnome_intercepted_2018-02-03.xml",
                             datetime(2018, 1, 20, 12, tzinfo=UTC))
    assert [e.title for e in report.new_episodes] == [
        "BONUS: The NFL's Violent Ballet",
        "Hate of the Union",
        "First They Came For the Immigrants",
        "BONUS: Leading Marxist Scholar David Harvey on Trump, Wall Street and Debt Peonage",
    ]
    assert {e.state for e in report.new_episodes} == {EpisodeState.NEW}


async def test_the_rolling_ndr_feed_yields_only_the_item_that_is_really_new(
    corpus: Path, one_url, fetcher
):
    report = await poll_pair(corpus, one_url, fetcher, "gnome_ndr_2024-03-13.xml",
                             "gnome_ndr_2024-03-14.xml", datetime(2024, 3, 13, 22, tzinfo=UTC))
    assert [e.identity for e in report.new_episodes] == ["AU-20240314-1705-4100-A"]
    assert report.new_episodes[0].published_at == datetime(2024, 3, 14, 15, 59, tzinfo=UTC)
    assert report.feed.next_poll_at == datetime(2024, 3, 14, 22, tzinfo=UTC) + timedelta(hours=1)
