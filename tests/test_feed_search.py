"""search_podcasts against a local fake of the iTunes Search API, through the real SafeFetcher."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiohttp import web

from core.adapters.http import SafeFetcher
from core.config import HttpSettings
from core.errors import CastfiveError, FetchError, ValidationError
from core.feeds.search import search_podcasts
from core.ids import short_hash
from tests.fakes.http_server import serve_app

GOOD = {
    "resultCount": 3,
    "results": [
        {"collectionName": "Hard Fork", "artistName": "The New York Times",
         "feedUrl": "https://feeds.simplecast.test/hardfork"},
        {"trackName": "Only a track name", "artistName": "Someone",
         "feedUrl": "https://example.test/track.xml"},
        {"collectionName": "No feed URL (Apple Music only)", "artistName": "X"},
    ],
}


class FakeItunes:
    """Answers /search with whatever the test sets; remembers the query it got."""

    def __init__(self) -> None:
        self.status = 200
        self.body: bytes = json.dumps(GOOD).encode()
        self.queries: list[dict[str, str]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.queries.append(dict(request.query))
        return web.Response(status=self.status, body=self.body, content_type="application/json")


@pytest_asyncio.fixture
async def itunes() -> AsyncIterator[tuple[FakeItunes, str, SafeFetcher]]:
    fake = FakeItunes()
    app = web.Application()
    app.router.add_get("/search", fake.handle)
    async with serve_app(app) as base:
        fetcher = SafeFetcher(HttpSettings(allow_private_addresses=True, total_timeout_s=10))
        await fetcher.start()
        try:
            yield fake, base + "/search", fetcher
        finally:
            await fetcher.close()


async def test_results_carry_title_author_feed_url_and_a_short_stable_id(itunes):
    fake, url, fetcher = itunes
    results = await search_podcasts(fetcher, url, "  hard   fork ", limit=5)
    assert [(r.title, r.author, r.feed_url) for r in results] == [
        ("Hard Fork", "The New York Times", "https://feeds.simplecast.test/hardfork"),
        ("Only a track name", "Someone", "https://example.test/track.xml"),
    ]
    assert results[0].id == short_hash("https://feeds.simplecast.test/hardfork", length=8)
    assert len(results[0].id) == 8
    assert fake.queries == [{"media": "podcast", "entity": "podcast", "term": "hard fork",
                             "limit": "5"}]


async def test_the_limit_is_respected_even_when_the_service_sends_more(itunes):
    fake, url, fetcher = itunes
    rows = [{"collectionName": f"Show {n}", "feedUrl": f"https://s{n}.test/rss"} for n in range(30)]
    fake.body = json.dumps({"results": rows}).encode()
    results = await search_podcasts(fetcher, url, "show", limit=3)
    assert [r.title for r in results] == ["Show 0", "Show 1", "Show 2"]


async def test_hostile_rows_are_skipped_and_text_is_cleaned(itunes):
    fake, url, fetcher = itunes
    fake.body = json.dumps({"results": [
        "not an object",
        None,
        {"collectionName": ["list"], "feedUrl": "https://ok.test/a", "artistName": 42},
        {"collectionName": "Bad scheme", "feedUrl": "file:///etc/passwd"},
        {"collectionName": "Not a string", "feedUrl": {"x": 1}},
        {"collectionName": "Spaces", "feedUrl": "https://bad host.test/rss"},
        {"collectionName": "Dup", "feedUrl": "https://ok.test/a"},
        {"collectionName": "Evil\u202e\x1b[31m name\n" + "x" * 5000,
         "feedUrl": "https://ok.test/b"},
    ]}).encode()
    results = await search_podcasts(fetcher, url, "x")
    assert [r.feed_url for r in results] == ["https://ok.test/a", "https://ok.test/b"]
    assert results[0].title == "https://ok.test/a" and results[0].author == ""
    assert "\x1b" not in results[1].title and "\u202e" not in results[1].title
    assert len(results[1].title) <= 200


@pytest.mark.parametrize(
    "body",
    [b"<html>busy</html>", b'{"results": {"not": "a list"}}', b"[1, 2, 3]", b"\xff\xfe\x00",
     b"[" * 100_000 + b"]" * 100_000],
    ids=["html", "results-not-list", "top-level-list", "binary", "deeply-nested"],
)
async def test_unreadable_answers_give_a_clear_error(itunes, body):
    fake, url, fetcher = itunes
    fake.body = body
    with pytest.raises(FetchError, match="search service"):
        await search_podcasts(fetcher, url, "x")


async def test_a_failing_service_gives_a_clear_error(itunes):
    fake, url, fetcher = itunes
    fake.status = 503
    with pytest.raises(CastfiveError, match="not answering"):
        await search_podcasts(fetcher, url, "x")


async def test_no_matches_is_an_empty_list(itunes):
    fake, url, fetcher = itunes
    fake.body = b'{"resultCount": 0, "results": []}'
    assert await search_podcasts(fetcher, url, "zzzz") == []


async def test_empty_terms_are_refused_before_any_request(itunes):
    fake, url, fetcher = itunes
    with pytest.raises(ValidationError):
        await search_podcasts(fetcher, url, "   ")
    assert fake.queries == []
