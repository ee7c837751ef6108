"""The operator's catalogue: paths resolve beside the config; a feed down at start is added later."""

from __future__ import annotations

import dataclasses

from aiohttp import web

from core.adapters.http import SafeFetcher
from core.catalogue import resolve_catalogue_entry, sync_catalogue
from core.config import FeedSettings, HttpSettings, Settings
from core.feeds.poller import FeedPoller
from core.store.repos import Repos
from tests.fakes.http_server import serve_app

FEED = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Up Again</title>
<item><title>One</title><guid>1</guid><enclosure url="https://example.org/1.mp3" type="audio/mpeg"/></item>
</channel></rss>"""


def test_a_relative_catalogue_path_resolves_beside_the_config_file(tmp_path):
    settings = dataclasses.replace(Settings(), source=str(tmp_path / "castfive.toml"))
    assert resolve_catalogue_entry("feeds/show.xml", settings) == str(tmp_path / "feeds" / "show.xml")
    assert resolve_catalogue_entry("https://example.org/f.xml", settings) == "https://example.org/f.xml"


async def test_a_catalogue_feed_that_is_down_at_start_is_added_once_it_answers(fake_store, fake_clock):
    up = {"ok": False}

    async def feed(request: web.Request) -> web.Response:
        if not up["ok"]:
            return web.Response(status=503)
        return web.Response(body=FEED, content_type="application/rss+xml")

    async with serve_app({"/feed.xml": feed}) as base:
        settings = Settings(http=HttpSettings(allow_private_addresses=True),
                            feeds=FeedSettings(catalogue=(f"{base}/feed.xml",)))
        async with SafeFetcher(settings.http) as fetcher:
            poller = FeedPoller(fetcher, fake_store, fake_clock, settings)
            repos = Repos(fake_store)
            assert await sync_catalogue(poller, repos, settings) == []
            assert await repos.feeds.all() == []
            up["ok"] = True
            added = await sync_catalogue(poller, repos, settings)
            assert len(added) == 1 and (await repos.feeds.get(added[0])).title == "Up Again"
            assert await sync_catalogue(poller, repos, settings) == [], "nothing missing: nothing fetched"
