"""A feed link copied from a podcast's web page (itpc://, pcast://) is followed as http://."""

from __future__ import annotations

import pytest

from core.feeds.poller import FeedPoller
from tests.test_poller import (  # noqa: F401 - fixtures
    FIVE,
    Reply,
    clock,
    feed_xml,
    fetcher,
    make_settings,
    server,
    store,
)


@pytest.mark.parametrize("scheme", ["itpc", "pcast"])
async def test_a_podcast_app_link_is_added_as_its_http_feed(scheme, server, fetcher, store, clock) -> None:  # noqa: F811
    poller = FeedPoller(fetcher, store, clock, make_settings())
    url = server.script("/show.xml", Reply(body=feed_xml(*FIVE)))
    feed, episodes = await poller.add_feed(url.replace("http://", f"{scheme}://", 1))
    assert feed.url == url
    assert len(episodes) == 5
    assert server.hits("/show.xml") == 1
