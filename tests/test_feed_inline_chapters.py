"""Inline Podlove chapters travel from the feed into the stored episode."""

from __future__ import annotations

from core.feeds.poller import FeedPoller
from core.models import Chapter
from tests.test_poller import (  # noqa: F401 - fixtures
    Reply,
    clock,
    feed_xml,
    fetcher,
    item,
    make_settings,
    server,
    store,
    stored_episodes,
)

PSC = ('<psc:chapters xmlns:psc="http://podlove.org/simple-chapters" version="1.2">'
       '<psc:chapter start="00:00:00" title="Intro"/><psc:chapter start="00:02:00" title="Talk"/>'
       "</psc:chapters>")


async def test_a_polled_episode_keeps_its_inline_chapters(server, fetcher, store, clock) -> None:  # noqa: F811
    poller = FeedPoller(fetcher, store, clock, make_settings())
    url = server.script("/psc.xml", Reply(body=feed_xml(item("e1", 5, extra=PSC))))
    await poller.add_feed(url)
    (episode,) = await stored_episodes(store)
    assert episode.chapters == (Chapter(start=0.0, title="Intro", end=120.0),
                                Chapter(start=120.0, title="Talk"))
