"""Nobody reads what is not theirs: ask, show and vote answer a foreign insight like an unknown id."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from core.access import OPERATOR, may_search_transcript
from core.errors import NotFoundError, RateLimitedError
from core.models import Feed, FeedStatus, Segment, Subscriber, Transcript
from core.store.blobs import save_transcript
from core.store.repos import LedgerEntry, LedgerMessage, MessageState
from tests.test_service import make_services

PUBLIC = Feed(id="pub", url="https://example.org/public.xml", title="Public", origin="user")
PRIVATE = Feed(id="priv", url="https://example.org/feed/8f3a9c2e1b7d4f6a.rss", title="Private",
               origin="user", private=True)
CATALOGUE = Feed(id="cat", url="https://example.org/cat.xml", title="Catalogue", origin="operator")


@pytest.fixture
async def world():
    from tests.fakes.seed import seed

    services, _, _ = make_services()
    insights = await seed(services.repos, feeds=1, per_feed=3)
    by_feed = {}
    for feed, insight in zip((PUBLIC, PRIVATE, CATALOGUE), insights, strict=True):
        await services.repos.feeds.put(feed)
        moved = dataclasses.replace(insight, feed_id=feed.id)
        await services.repos.insights.put(moved)
        by_feed[feed.id] = moved
    api = services.api
    follower = await api.subscribe("telegram", "1")
    await services.repos.subscribers.put(dataclasses.replace(follower, feed_ids=("pub", "priv")))
    await api.subscribe("telegram", "2")  # follows nothing of these
    delivered = await api.subscribe("discord", "3")
    await services.repos.subscribers.put(dataclasses.replace(delivered, feed_ids=()))
    entry = LedgerEntry(
        subscriber_id=delivered.id, local_date="2026-11-27",
        messages=(LedgerMessage(by_feed["priv"].id, MessageState.SENT),),
        chosen_at=datetime(2026, 11, 27, 8, tzinfo=UTC), finished=True,
    )
    await services.repos.ledger.put(entry)
    services.delivery.history.record(entry)
    segments = tuple(Segment(i.start, i.end, i.quote) for i in by_feed.values())
    await save_transcript(services.store, Transcript(insights[0].episode_id, segments, source="test"))
    return services, by_feed


def cases():
    # (reader, feed, may read)
    yield "telegram:1", "pub", True      # follows a public feed
    yield "telegram:1", "priv", False    # follows, but the feed is private and nothing was sent
    yield "telegram:1", "cat", True      # the operator's catalogue is for every subscriber
    yield "telegram:2", "pub", False     # follows nothing of it
    yield "telegram:2", "priv", False
    yield "telegram:2", "cat", True
    yield "discord:3", "priv", True      # it was delivered to this chat
    yield "discord:3", "pub", False      # another platform's chat that follows nothing
    yield "telegram:99", "pub", False    # an unsubscribed chat
    yield "telegram:99", "cat", True     # the public catalogue is offered to anyone
    yield "telegram:99", "priv", False


@pytest.mark.parametrize(("reader", "feed", "allowed"), list(cases()))
async def test_show_ask_and_vote_follow_the_one_access_rule(world, reader, feed, allowed) -> None:
    services, by_feed = world
    insight = by_feed[feed]
    api = services.api
    if allowed:
        item = await api.insight_item(insight.id, reader=reader)
        assert item.insight.id == insight.id
        answer = await api.ask(insight.id, "why does that matter?", user_key=reader, reader=reader)
        assert answer.insight_id == insight.id
    else:
        with pytest.raises(NotFoundError) as shown:
            await api.insight_item(insight.id, reader=reader)
        with pytest.raises(NotFoundError) as asked:
            await api.ask(insight.id, "what exactly was said here?", user_key=reader, reader=reader)
        with pytest.raises(NotFoundError) as unknown:
            await api.insight_item("zzzzzzz", reader=reader)
        # Word for word what an unknown id gets, apart from the id itself.
        assert str(shown.value).replace(insight.id, "ID") == str(unknown.value).replace("zzzzzzz", "ID")
        assert str(asked.value) == str(shown.value)
    if await services.repos.subscribers.get(reader) is not None:
        if allowed:
            await api.feedback(reader, insight.id, 1)
        else:
            with pytest.raises(NotFoundError):
                await api.feedback(reader, insight.id, 1)


async def test_guessing_ids_spends_the_question_allowance(world) -> None:
    services, by_feed = world
    api = services.api
    limit = services.settings.delivery.question_limit_per_hour
    misses = 2  # under the tighter miss limit (core/miss_limit.py), so only the allowance counts
    for _ in range(limit - misses):
        await api.ask(by_feed["cat"].id, "why?", user_key="telegram:2", reader="telegram:2")
    for n in range(misses):
        with pytest.raises(NotFoundError):
            await api.ask(f"guess{n:02d}", "anything?", user_key="telegram:2", reader="telegram:2")
    with pytest.raises(RateLimitedError):
        await api.ask(by_feed["cat"].id, "why?", user_key="telegram:2", reader="telegram:2")


async def test_the_operator_reads_everything_and_a_chat_must_say_who_it_is(world) -> None:
    services, by_feed = world
    item = await services.api.insight_item(by_feed["priv"].id, reader=OPERATOR)
    assert item.insight.id == by_feed["priv"].id
    # No default reader: a call that forgets to say who asks cannot skip the check.
    with pytest.raises(TypeError):
        await services.api.insight_item(by_feed["priv"].id)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        await services.api.ask(by_feed["priv"].id, "why?", user_key="telegram:2")  # type: ignore[call-arg]


@pytest.mark.parametrize(("feed_ids", "feed", "allowed"), [
    (("pub", "priv"), PUBLIC, True),      # a public feed it follows
    (("pub", "priv"), PRIVATE, False),    # followed, but a private feed's transcript is never searched
    ((), PUBLIC, False),                  # followed by others only
    (None, CATALOGUE, True),              # the catalogue chat searches the operator's live feeds
    (None, PUBLIC, False),                # ...not a user's feed
    (None, dataclasses.replace(CATALOGUE, status=FeedStatus.GONE), False),
    (None, dataclasses.replace(CATALOGUE, private=True), False),
    (("pub",), None, False),              # a feed since deleted
])
def test_transcript_search_reaches_only_public_feeds_the_chat_follows(feed_ids, feed, allowed) -> None:
    reader = Subscriber(id="telegram:1", platform="telegram", chat_id="1", feed_ids=feed_ids)
    assert may_search_transcript(reader, feed) is allowed
