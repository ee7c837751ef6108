"""FeedPoller against a real aiohttp server on 127.0.0.1 through the real SafeFetcher."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web

import core.feeds.poller as poller_module
from core.adapters.http import SafeFetcher
from core.config import FeedSettings, HttpSettings, Settings
from core.errors import InvalidUrlError, NotFoundError
from core.feeds.local import read_local_feed
from core.feeds.poller import FeedPoller
from core.ids import feed_id_for
from core.models import Episode, EpisodeState, FeedStatus
from core.store.tables import Table
from tests.fakes.clock import FakeClock
from tests.fakes.http_server import serve_app
from tests.fakes.memory_store import FakeStore

START = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)


def item(guid: str | None, day: int, audio: str | None = None, extra: str = "",
         title: str | None = None) -> str:
    guid_tag = f"<guid>{guid}</guid>" if guid is not None else ""
    audio = audio or f"https://cdn.test/{guid or day}.mp3"
    return (f"<item>{guid_tag}<title>{title or f'Episode {guid or day}'}</title>"
            f"<pubDate>{format_datetime(datetime(2024, 3, day, 6, tzinfo=UTC), usegmt=True)}</pubDate>"
            f'<enclosure url="{audio.replace("&", "&amp;")}" type="audio/mpeg" length="1000"/>'
            f"{extra}</item>")


def feed_xml(*items: str, title: str = "Test Show", channel_extra: str = "") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
        'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" '
        'xmlns:podcast="https://podcastindex.org/namespace/1.0">'
        f"<channel><title>{title}</title>{channel_extra}{''.join(items)}</channel></rss>"
    ).encode()


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class FeedServer:
    """Serves scripted replies per path (the last one repeats) and records request headers."""

    def __init__(self) -> None:
        self.replies: dict[str, list[Reply]] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.etag_paths: dict[str, str] = {}  # path -> ETag served with conditional support
        self.base = ""

    def script(self, path: str, *replies: Reply) -> str:
        self.replies[path] = list(replies)
        return self.base + path

    def hits(self, path: str) -> int:
        return sum(1 for p, _ in self.requests if p == path)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        self.requests.append((path, dict(request.headers)))
        queue = self.replies.get(path)
        if not queue:
            return web.Response(status=404)
        reply = queue.pop(0) if len(queue) > 1 else queue[0]
        if reply.status in (301, 302, 307, 308):
            return web.Response(status=reply.status, headers={"Location": reply.headers["Location"]})
        etag = reply.headers.get("ETag")
        if etag and request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        modified = reply.headers.get("Last-Modified")
        if modified and request.headers.get("If-Modified-Since") == modified:
            return web.Response(status=304)
        return web.Response(status=reply.status, body=reply.body, headers=reply.headers,
                            content_type="application/rss+xml" if reply.body else None)


@pytest_asyncio.fixture
async def server() -> AsyncIterator[FeedServer]:
    fake = FeedServer()
    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", fake.handle)
    async with serve_app(app) as base:
        fake.base = base
        yield fake


def make_settings(**feeds: object) -> Settings:
    return Settings(
        http=HttpSettings(allow_private_addresses=True, total_timeout_s=10, connect_timeout_s=2),
        feeds=FeedSettings(**feeds),  # type: ignore[arg-type]
    )


@pytest_asyncio.fixture
async def fetcher() -> AsyncIterator[SafeFetcher]:
    client = SafeFetcher(make_settings().http)
    await client.start()
    yield client
    await client.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def poller(fetcher, store, clock) -> FeedPoller:
    return FeedPoller(fetcher, store, clock, make_settings())


async def stored_episodes(store: FakeStore) -> list[Episode]:
    return await Table(store, "episodes", Episode).all()


@pytest.fixture
def parse_calls(monkeypatch) -> list[int]:
    """Counts calls of our parse_feed made by the poller."""
    calls: list[int] = []
    real = poller_module.parse_feed

    def spy(body: bytes, base_url: str | None = None, **options: object):
        calls.append(len(body))
        return real(body, base_url, **options)

    monkeypatch.setattr(poller_module, "parse_feed", spy)
    return calls


FIVE = [item(str(n), n) for n in (5, 4, 3, 2, 1)]


# --- adding ---------------------------------------------------------------------------


async def test_adding_a_feed_queues_only_the_newest_three_and_skips_the_back_catalogue(
    server, poller, store
):
    url = server.script("/feed.xml", Reply(body=feed_xml(*FIVE)))
    feed, episodes = await poller.add_feed(url)
    assert feed.id == feed_id_for(url)
    assert feed.title == "Test Show"
    assert [(e.identity, e.state) for e in episodes] == [
        ("5", EpisodeState.NEW), ("4", EpisodeState.NEW), ("3", EpisodeState.NEW),
        ("2", EpisodeState.SKIPPED), ("1", EpisodeState.SKIPPED),
    ]
    assert len(await stored_episodes(store)) == 5
    assert feed.next_poll_at == START + timedelta(minutes=60)


async def test_adding_a_known_feed_again_changes_nothing_and_fetches_nothing(server, poller, store):
    url = server.script("/feed.xml", Reply(body=feed_xml(*FIVE)))
    first, _ = await poller.add_feed(url)
    again, episodes = await poller.add_feed(url)
    assert again == first and episodes == []
    assert server.hits("/feed.xml") == 1
    assert len(await stored_episodes(store)) == 5


@pytest.mark.parametrize("url", ["/etc/passwd", "file:///etc/passwd", "ftp://x.test/feed"])
async def test_users_may_only_add_web_addresses(poller, url):
    with pytest.raises(InvalidUrlError):
        await poller.add_feed(url, origin="user")


async def test_an_operator_feed_may_be_a_local_file_with_relative_enclosures(
    tmp_path, poller, parse_calls
):
    path = tmp_path / "show" / "feed.xml"
    path.parent.mkdir()
    path.write_bytes(feed_xml(item("a", 1, audio="audio/a.mp3")))
    feed, (episode,) = await poller.add_feed(str(path), origin="operator")
    assert episode.audio_url == (tmp_path / "show" / "audio" / "a.mp3").as_uri()
    report = await poller.poll(feed)
    assert report.status == "unchanged" and len(parse_calls) == 1


async def test_a_page_that_is_not_a_feed_cannot_be_added(server, poller, store):
    url = server.script("/page", Reply(body=b"<!DOCTYPE html><html><body>Hi</body></html>"))
    with pytest.raises(Exception, match="web page"):
        await poller.add_feed(url)
    assert await poller.list_feeds() == []


# --- conditional polling -----------------------------------------------------------------


async def test_a_warm_poll_sends_the_validators_back_verbatim_and_parses_nothing(
    server, poller, parse_calls
):
    etag, modified = 'W/"abc-123"', "Sun, 10 Mar 2024 11:00:00 GMT"
    url = server.script("/feed.xml", Reply(body=feed_xml(*FIVE),
                                           headers={"ETag": etag, "Last-Modified": modified}))
    feed, _ = await poller.add_feed(url)
    assert (feed.etag, feed.last_modified) == (etag, modified)
    report = await poller.poll(feed)
    assert report.status == "not_modified"
    assert report.new_episodes == []
    assert len(parse_calls) == 1  # only the add parsed
    _, headers = server.requests[-1]
    assert headers["If-None-Match"] == etag
    assert headers["If-Modified-Since"] == modified
    assert report.feed.etag == etag  # kept although the 304 did not repeat it


async def test_the_same_body_again_without_validators_is_not_parsed(server, poller, parse_calls):
    url = server.script("/feed.xml", Reply(body=feed_xml(*FIVE)))
    feed, _ = await poller.add_feed(url)
    report = await poller.poll(feed)
    assert report.status == "unchanged"
    assert len(parse_calls) == 1


async def test_a_new_item_is_reported_once_and_stored_episodes_keep_their_state(
    server, poller, store, clock
):
    url = server.script("/feed.xml", Reply(body=feed_xml(*FIVE)),
                        Reply(body=feed_xml(item("6", 6), *FIVE)))
    feed, episodes = await poller.add_feed(url)
    table = Table(store, "episodes", Episode)
    done = episodes[0]
    await table.put(Episode(**{**done.__dict__, "state": EpisodeState.DONE}))
    clock.advance(hours=1)
    report = await poller.poll(feed)
    assert [e.identity for e in report.new_episodes] == ["6"]
    assert report.new_episodes[0].state == EpisodeState.NEW
    again = await poller.poll(report.feed)
    assert again.new_episodes == []
    assert len(await stored_episodes(store)) == 6
    assert (await table.get(done.id)).state == EpisodeState.DONE


async def test_a_transcript_added_later_updates_the_known_episode_in_place(server, poller, store):
    transcript = '<podcast:transcript url="https://cdn.test/5.vtt" type="text/vtt"/>'
    url = server.script("/feed.xml", Reply(body=feed_xml(*FIVE)),
                        Reply(body=feed_xml(item("5", 5, extra=transcript), *FIVE[1:])))
    feed, episodes = await poller.add_feed(url)
    report = await poller.poll(feed)
    assert report.new_episodes == []
    stored = await Table(store, "episodes", Episode).get(episodes[0].id)
    assert [t.url for t in stored.transcripts] == ["https://cdn.test/5.vtt"]
    assert stored.state == EpisodeState.NEW and stored.discovered_at == START


async def test_rotating_enclosure_tokens_in_a_guidless_feed_add_no_episodes(server, poller, store):
    def rotated(token: str) -> bytes:
        return feed_xml(*(item(None, d, audio=f"https://cdn.test/{d}.mp3?token={token}&ts={d}")
                          for d in (3, 2, 1)))

    url = server.script("/feed.xml", Reply(body=rotated("aaa")), Reply(body=rotated("bbb")))
    feed, episodes = await poller.add_feed(url)
    assert len(episodes) == 3
    report = await poller.poll(feed)
    assert report.status == "updated" and report.new_episodes == []
    assert len(await stored_episodes(store)) == 3


async def test_duplicate_guids_in_one_feed_make_one_episode(server, poller, store):
    url = server.script("/feed.xml", Reply(body=feed_xml(item("dup", 2), item("dup", 2),
                                                         item("solo", 1))))
    _, episodes = await poller.add_feed(url)
    assert sorted(e.identity for e in episodes) == ["dup", "solo"]


async def test_every_item_with_guid_1_stays_a_distinct_episode_across_polls(server, poller, store):
    one = [item("1", d, audio=f"https://cdn.test/ep{d}.mp3", title=f"Show {d}") for d in (2, 1)]
    url = server.script("/feed.xml", Reply(body=feed_xml(*one)),
                        Reply(body=feed_xml(item("1", 3, audio="https://cdn.test/ep3.mp3",
                                                 title="Show 3"), *one)))
    feed, episodes = await poller.add_feed(url)
    assert len(episodes) == 2
    report = await poller.poll(feed)
    assert [e.title for e in report.new_episodes] == ["Show 3"]
    assert len({e.id for e in await stored_episodes(store)}) == 3


async def test_old_items_surfacing_after_a_guid_migration_are_recorded_but_not_queued(
    server, poller, clock
):
    clock.set(START + timedelta(days=30))  # subscribed weeks after these episodes came out
    url = server.script("/feed.xml", Reply(body=feed_xml(*FIVE)),
                        Reply(body=feed_xml(*(item(f"new-{n}", n) for n in (5, 4, 3, 2, 1)))))
    feed, _ = await poller.add_feed(url)
    clock.advance(days=1)
    report = await poller.poll(feed)
    assert len(report.new_episodes) == 5
    assert {e.state for e in report.new_episodes} == {EpisodeState.SKIPPED}


# --- moves, gone, throttling, failures -------------------------------------------------------


async def test_a_permanent_redirect_updates_the_feed_url(server, poller):
    old = server.script("/old.xml", Reply(body=feed_xml(*FIVE)),
                        Reply(301, headers={"Location": "/new.xml"}))
    new = server.script("/new.xml", Reply(body=feed_xml(*FIVE)))
    feed, _ = await poller.add_feed(old)
    report = await poller.poll(feed)
    assert report.feed.url == new
    assert report.feed.id == feed_id_for(old)
    await poller.poll(report.feed)
    assert server.hits("/old.xml") == 2 and server.hits("/new.xml") == 2


async def test_a_temporary_redirect_keeps_the_feed_url(server, poller):
    old = server.script("/old.xml", Reply(body=feed_xml(*FIVE)),
                        Reply(302, headers={"Location": "/elsewhere.xml"}))
    server.script("/elsewhere.xml", Reply(body=feed_xml(*FIVE)))
    feed, _ = await poller.add_feed(old)
    report = await poller.poll(feed)
    assert report.feed.url == old


async def test_itunes_new_feed_url_moves_the_feed(server, poller):
    moved = server.base + "/moved.xml"
    url = server.script("/feed.xml", Reply(body=feed_xml(
        *FIVE, channel_extra=f"<itunes:new-feed-url>{moved}</itunes:new-feed-url>")))
    feed, _ = await poller.add_feed(url)
    assert feed.url == moved


async def test_410_marks_the_feed_gone_and_it_is_never_polled_again(server, poller, clock):
    url = server.script("/feed.xml", Reply(body=feed_xml(*FIVE)), Reply(410))
    feed, _ = await poller.add_feed(url)
    report = await poller.poll(feed)
    assert report.status == "gone"
    assert report.feed.status == FeedStatus.GONE
    clock.advance(days=3)
    assert await poller.poll_due() == []
    assert (await poller.poll(report.feed)).status == "skipped"
    assert server.hits("/feed.xml") == 2


@pytest.mark.parametrize("form", ["seconds", "http-date"])
async def test_429_waits_as_long_as_retry_after_says(server, poller, clock, form):
    wait = timedelta(hours=3)
    value = "10800" if form == "seconds" else format_datetime(START + wait, usegmt=True)
    url = server.script("/feed.xml", Reply(body=feed_xml(*FIVE)),
                        Reply(429, headers={"Retry-After": value}))
    feed, _ = await poller.add_feed(url)
    report = await poller.poll(feed)
    assert report.status == "rate_limited"
    assert report.feed.next_poll_at == START + wait
    assert "slow down" in report.feed.last_error


async def test_server_errors_back_off_exponentially_up_to_the_cap_then_recover(
    server, poller, clock, store
):
    body = feed_xml(*FIVE)
    url = server.script("/feed.xml", Reply(body=body), *[Reply(500)] * 7,
                        Reply(body=feed_xml(item("6", 6), *FIVE)))
    feed, _ = await poller.add_feed(url)
    delays = []
    for _ in range(7):
        report = await poller.poll(feed)
        feed = report.feed
        assert report.status == "failed" and "HTTP 500" in feed.last_error
        delays.append(feed.next_poll_at - clock.now())
        clock.set(feed.next_poll_at)
    hours = [d / timedelta(hours=1) for d in delays]
    assert hours == [2, 4, 8, 16, 24, 24, 24]
    assert feed.failures == 7
    report = await poller.poll(feed)
    assert report.status == "updated" and [e.identity for e in report.new_episodes] == ["6"]
    assert report.feed.failures == 0 and report.feed.last_error == ""
    assert report.feed.next_poll_at == clock.now() + timedelta(hours=1)


async def test_an_empty_200_is_a_failure_not_a_feed_without_episodes(server, poller, store):
    url = server.script("/feed.xml", Reply(body=feed_xml(*FIVE)), Reply(200, body=b""))
    feed, _ = await poller.add_feed(url)
    report = await poller.poll(feed)
    assert report.status == "failed"
    assert "empty" in report.error
    assert report.feed.failures == 1
    assert len(await stored_episodes(store)) == 5


async def test_a_broken_body_is_a_failure_and_the_next_good_one_is_parsed(server, poller):
    url = server.script("/feed.xml", Reply(body=feed_xml(*FIVE)),
                        Reply(body=b"<html><body>maintenance</body></html>"),
                        Reply(body=feed_xml(*FIVE)))
    feed, _ = await poller.add_feed(url)
    failed = await poller.poll(feed)
    assert failed.status == "failed" and "web page" in failed.error
    recovered = await poller.poll(failed.feed)
    assert recovered.status == "unchanged"  # same bytes as the last good parse
    assert recovered.feed.failures == 0


async def test_a_refused_connection_is_a_failure_with_backoff(server, poller, store):
    url = server.script("/feed.xml", Reply(body=feed_xml(*FIVE)))
    feed, _ = await poller.add_feed(url)
    dead = feed.__class__(**{**feed.__dict__, "url": "http://127.0.0.1:9/feed.xml"})
    await Table(store, "feeds", type(feed)).put(dead)
    report = await poller.poll(dead)
    assert report.status == "failed"
    assert report.feed.failures == 1
    assert report.feed.next_poll_at == START + timedelta(hours=2)


# --- many feeds ----------------------------------------------------------------------------


async def test_poll_due_polls_only_due_feeds_and_one_bad_feed_does_not_block_others(
    server, poller, clock
):
    good = [server.script(f"/good{n}.xml", Reply(body=feed_xml(item(f"g{n}", 1))),
                          Reply(body=feed_xml(item(f"g{n}-2", 2), item(f"g{n}", 1))))
            for n in range(3)]
    bad = server.script("/bad.xml", Reply(body=feed_xml(item("b", 1))), Reply(503))
    for url in good + [bad]:
        await poller.add_feed(url)
    assert await poller.poll_due() == []  # nothing is due yet
    clock.advance(minutes=61)
    reports = await poller.poll_due(limit_concurrency=2)
    by_url = {r.feed.url: r for r in reports}
    assert by_url[bad].status == "failed"
    assert all(len(by_url[u].new_episodes) == 1 for u in good)


async def test_removing_a_feed_deletes_it_and_its_episodes(server, poller, store):
    url = server.script("/feed.xml", Reply(body=feed_xml(*FIVE)))
    feed, _ = await poller.add_feed(url)
    await poller.remove_feed(feed.id)
    assert await poller.list_feeds() == []
    assert await stored_episodes(store) == []
    with pytest.raises(NotFoundError):
        await poller.remove_feed(feed.id)


async def test_logs_name_the_feed_id_never_a_private_url(server, poller, caplog):
    caplog.set_level(logging.DEBUG)
    url = server.script("/feed.xml", Reply(body=feed_xml(*FIVE)), Reply(500)) + "?token=s3cret"
    feed, _ = await poller.add_feed(url)
    await poller.poll(feed)
    text = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("core.feeds"))
    assert feed.id in text
    assert "s3cret" not in text and "/feed.xml" not in text
    assert feed.private


def test_a_local_feed_file_over_the_size_limit_is_refused(tmp_path: Path):
    path = tmp_path / "f.xml"
    path.write_bytes(b"x" * 10)
    assert read_local_feed(path, 100) == b"x" * 10
    with pytest.raises(Exception, match="larger"):
        read_local_feed(path, 5)


async def test_an_unexpected_error_on_one_feed_is_recorded_and_backed_off(
    server, poller, monkeypatch
):
    url = server.script("/feed.xml", Reply(body=feed_xml(*FIVE)),
                        Reply(body=feed_xml(item("6", 6), *FIVE)))
    feed, _ = await poller.add_feed(url)

    def broken(body: bytes, base_url: str | None = None, **options: object):
        raise RuntimeError("bug")

    monkeypatch.setattr(poller_module, "parse_feed", broken)
    report = await poller.poll(feed)
    assert report.status == "failed" and "RuntimeError" in report.error
    assert report.feed.next_poll_at == START + timedelta(hours=2)


async def test_a_user_feed_redirecting_to_a_file_url_is_a_failure_not_a_local_read(
    server, poller
):
    url = server.script("/feed.xml", Reply(body=feed_xml(*FIVE)),
                        Reply(301, headers={"Location": "file:///etc/passwd"}))
    feed, _ = await poller.add_feed(url)
    report = await poller.poll(feed)
    assert report.status == "failed"
    assert report.feed.url == url


class RecordingStore(FakeStore):
    """FakeStore that remembers which episode keys each write touched."""

    def __init__(self) -> None:
        super().__init__()
        self.episode_writes: list[str] = []

    async def put(self, table: str, key: str, doc: dict) -> None:
        if table == "episodes":
            self.episode_writes.append(key)
        await super().put(table, key, doc)


async def test_a_moved_enclosure_updates_only_unprocessed_episodes_and_is_written_once(
    server, fetcher, clock
):
    store = RecordingStore()
    poller = FeedPoller(fetcher, store, clock, make_settings())
    moved = [item(str(n), n, audio=f"https://new-cdn.test/{n}.mp3") for n in (5, 4, 3, 2, 1)]
    url = server.script("/feed.xml", Reply(body=feed_xml(*FIVE)), Reply(body=feed_xml(*moved)),
                        Reply(body=feed_xml(item("6", 6), *moved)))
    feed, episodes = await poller.add_feed(url)
    table = Table(store, "episodes", Episode)
    processed, waiting = episodes[0], episodes[1]
    await table.put(Episode(**{**processed.__dict__, "state": EpisodeState.DONE}))
    report = await poller.poll(feed)
    assert (await table.get(processed.id)).audio_url == "https://cdn.test/5.mp3"
    assert (await table.get(waiting.id)).audio_url == "https://new-cdn.test/4.mp3"
    store.episode_writes.clear()
    report = await poller.poll(report.feed)
    assert [e.identity for e in report.new_episodes] == ["6"]
    assert store.episode_writes == [report.new_episodes[0].id]
