"""A feed nobody follows keeps its history for the dedupe window; the daily prune then forgets it all."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiohttp import web

from core.bootstrap import Services
from core.jobs.maintenance import prune
from core.models import Feed, FeedStatus, Insight, Segment, Transcript
from core.store.blobs import load_transcript, save_transcript, transcript_blob
from core.store.repos import LedgerEntry, LedgerMessage
from tests.fakes.clock import FakeClock
from tests.opml_world import FeedServer, build_world

pytestmark = pytest.mark.timeout(30)
SUB = "telegram:1"


@pytest_asyncio.fixture
async def world(http_server) -> AsyncIterator[tuple[Services, FakeClock, str]]:
    base = await http_server(FeedServer().app())
    services, fetcher = await build_world()
    await services.api.subscribe("telegram", "1")
    try:
        yield services, services.clock, base  # type: ignore[misc]
    finally:
        await fetcher.close()


async def follow_with_an_insight(services: Services, url: str) -> tuple[Feed, Insight]:
    """Follow the feed and give its episode a transcript and an insight, as the pipeline would."""
    feed = (await services.api.add_feed(SUB, url)).feed
    assert feed is not None
    (episode,) = [e for e in await services.repos.episodes.all() if e.feed_id == feed.id]
    await save_transcript(services.store, Transcript(episode.id, (Segment(0, 5, "Said."),), "test"))
    insight = Insight(id=f"i{feed.id}", episode_id=episode.id, feed_id=feed.id, text="An idea.",
                      quote="Said.", start=0, end=5, created_at=services.clock.now())
    await services.repos.insights.put(insight)
    return feed, insight


async def history_of(services: Services, feed_id: str) -> tuple[bool, int, int]:
    """Whether the feed is stored, and how many episodes and insights it has."""
    episodes = [e for e in await services.repos.episodes.all() if e.feed_id == feed_id]
    insights = [i for i in await services.repos.insights.all() if i.feed_id == feed_id]
    return await services.repos.feeds.get(feed_id) is not None, len(episodes), len(insights)


async def test_an_unfollowed_feed_is_kept_for_the_dedupe_window_then_forgotten_with_its_history(world):
    services, clock, base = world
    feed, insight = await follow_with_an_insight(services, f"{base}/ok/1.xml")
    await services.api.remove_feed(SUB, feed.id)
    assert (await services.repos.feeds.get(feed.id)).status == FeedStatus.IDLE
    clock.advance(days=29)
    await prune(services.repos, clock, services.settings)
    assert await history_of(services, feed.id) == (True, 1, 1)
    clock.advance(days=2)  # 31 days since it was last polled: beyond the 30-day dedupe window
    report = await prune(services.repos, clock, services.settings)
    assert await history_of(services, feed.id) == (False, 0, 0)
    assert report.idle_feeds == 1 and report.episodes == 1 and report.insights == 1
    assert await load_transcript(services.store, insight.episode_id) is None
    assert transcript_blob(insight.episode_id) not in services.store.blobs  # type: ignore[attr-defined]
    again = (await services.api.add_feed(SUB, f"{base}/ok/1.xml")).feed  # a fresh first poll
    assert again is not None and again.status == FeedStatus.ACTIVE
    assert await history_of(services, feed.id) == (True, 1, 0)


async def test_followed_feeds_and_idle_feeds_with_insights_still_sent_are_kept(world):
    services, clock, base = world
    followed, _ = await follow_with_an_insight(services, f"{base}/ok/2.xml")
    idle, sent = await follow_with_an_insight(services, f"{base}/ok/3.xml")
    await services.api.remove_feed(SUB, idle.id)
    clock.advance(days=33)
    # delivered today: the ledger still names it, so dedupe and /ask may need it
    await services.repos.ledger.put(LedgerEntry("telegram:2", clock.now().date().isoformat(),
                                                (LedgerMessage(sent.id),), clock.now(), finished=True))
    report = await prune(services.repos, clock, services.settings)
    assert report.idle_feeds == 0
    assert await history_of(services, followed.id) == (True, 1, 0)  # old insight pruned as before
    assert await history_of(services, idle.id) == (True, 1, 1)


async def test_a_forgotten_feed_followed_again_stores_every_item_it_lists_later(http_server) -> None:
    items = ["a"]  # what the feed lists right now

    async def feed(request: web.Request) -> web.Response:
        body = "".join(f"<item><guid>{g}</guid><title>Episode {g}</title>"
                       f'<enclosure url="https://cdn.test/{g}.mp3" type="audio/mpeg"/></item>' for g in items)
        return web.Response(body=f'<rss version="2.0"><channel><title>Show</title>{body}</channel></rss>',
                            content_type="application/rss+xml")

    base = await http_server({"/feed.xml": feed})
    services, fetcher = await build_world()
    try:
        await services.api.subscribe("telegram", "1")
        first = (await services.api.add_feed(SUB, f"{base}/feed.xml")).feed
        items.append("z")
        await services.poller.poll(first)  # a changed body: the poller now indexes "a" and "z"
        await services.api.remove_feed(SUB, first.id)
        services.clock.advance(days=31)  # type: ignore[attr-defined]
        assert (await prune(services.repos, services.clock, services.settings)).idle_feeds == 1
        items[:] = ["b"]  # meanwhile the publisher dropped "a"...
        again = (await services.api.add_feed(SUB, f"{base}/feed.xml")).feed
        items[:] = ["a", "b"]  # ...and lists it again
        await services.poller.poll(again)
        stored = sorted(e.identity for e in await services.repos.episodes.all())
        assert stored == ["a", "b"]
    finally:
        await fetcher.close()


async def test_a_follow_landing_while_the_prune_forgets_the_feed_never_leaves_a_dangling_id(world):
    """The prune found the feed unfollowed; a follow lands while it deletes the episodes' blobs."""
    services, clock, base = world
    url = f"{base}/ok/7.xml"
    feed, _ = await follow_with_an_insight(services, url)
    await services.api.remove_feed(SUB, feed.id)
    clock.advance(days=40)
    store = services.repos.store
    delete_blob, followed = store.delete_blob, False

    async def follow_meanwhile(name: str) -> None:
        nonlocal followed
        await delete_blob(name)
        if not followed:
            followed = True
            await services.api.add_feed(SUB, url)

    store.delete_blob = follow_meanwhile  # type: ignore[method-assign]
    await prune(services.repos, clock, services.settings, locks=services.delivery.locks)
    assert followed
    assert feed.id in ((await services.api.get_subscriber(SUB)).feed_ids or ())
    kept = await services.repos.feeds.get(feed.id)
    assert kept is not None and kept.status == FeedStatus.ACTIVE


async def test_a_follow_of_a_feed_the_prune_just_deleted_stores_it_again(world):
    """The other order: the record went after the follow fetched it, before the follow was written."""
    services, _, base = world
    url = f"{base}/ok/8.xml"
    feed, _ = await follow_with_an_insight(services, url)
    await services.api.remove_feed(SUB, feed.id)
    add_feed = services.poller.add_feed

    async def add_then_pruned(*args, **kwargs):  # type: ignore[no-untyped-def]
        fetched = await add_feed(*args, **kwargs)
        await services.repos.feeds.delete(feed.id)  # the prune's last step, just then
        return fetched

    services.poller.add_feed = add_then_pruned  # type: ignore[method-assign]
    await services.api.add_feed(SUB, url)
    kept = await services.repos.feeds.get(feed.id)
    assert kept is not None and kept.status == FeedStatus.ACTIVE
    assert feed.id in ((await services.api.get_subscriber(SUB)).feed_ids or ())
