"""The who x what x which-feed matrix of issue 12, case 1, shared by the Telegram and Discord tests.

Three feeds (a public user feed, a private tokened one, the operator's catalogue), one insight
each, and five readers on the platform under test: a chat that follows the public and the private
feed, one that follows none of them, one the three insights were delivered to, one whose chat id
is that of a fully served chat on the other platform, and one that never subscribed.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from core.bootstrap import Services
from core.delivery.subscriptions import subscriber_id_for
from core.models import Feed, Segment, Transcript, Turn
from core.store.blobs import save_transcript
from core.store.repos import Conversation, LedgerEntry, LedgerMessage, MessageState
from tests.fakes.seed import seed

FEEDS = ("public", "private", "catalogue")
READERS = ("follower", "non-follower", "delivered-to", "other-platform", "unsubscribed")
ACTIONS = ("ask", "show", "vote", "continue", "reply")
UNKNOWN_ID = "zzzzzzz"
QUESTION = "what exactly was said here?"


def may_read(reader: str, feed: str) -> bool:
    """What the rule says: the catalogue for anyone, delivered for that chat, followed if public."""
    return feed == "catalogue" or reader == "delivered-to" or (reader, feed) == ("follower", "public")


def cases() -> list[pytest.param]:  # type: ignore[valid-type]
    """Every (reader, feed, action) with whether it may read, named for the test id."""
    return [pytest.param(r, f, a, may_read(r, f), id=f"{r}-{f}-{a}")
            for r in READERS for f in FEEDS for a in ACTIONS]


async def seed_access(services: Services, platform: str, chats: dict[str, str],
                      other_platform: str) -> dict[str, str]:
    """Feeds, insights, transcripts and the readers' subscriptions; returns feed name -> insight id."""
    repos = services.repos
    insights = await seed(repos, feeds=3, per_feed=1)
    feeds = (
        Feed(id="feed0", url="https://example.org/public.xml", title="Public Show", origin="user"),
        Feed(id="feed1", url="https://example.org/feed/8f3a9c2e1b7d4f6a.rss?token=s3cr3t",
             title="Private Show", origin="user", private=True),
        Feed(id="feed2", url="https://example.org/cat.xml", title="Catalogue Show", origin="operator"),
    )
    by_name = {}
    for name, feed, insight in zip(FEEDS, feeds, insights, strict=True):
        await repos.feeds.put(feed)
        by_name[name] = insight.id
        transcript = Transcript(insight.episode_id, (Segment(insight.start, insight.end, insight.quote),),
                                source="test")
        await save_transcript(services.store, transcript)
    api = services.api
    follower = await api.subscribe(platform, chats["follower"])
    await repos.subscribers.put(dataclasses.replace(follower, feed_ids=("feed0", "feed1")))
    for reader in ("non-follower", "delivered-to", "other-platform"):
        sub = await api.subscribe(platform, chats[reader])
        await repos.subscribers.put(dataclasses.replace(sub, feed_ids=()))
    await _deliver(services, subscriber_id_for(platform, chats["delivered-to"]), by_name)
    # The same chat id on the other platform follows everything and got everything: no help here.
    twin = await api.subscribe(other_platform, chats["other-platform"])
    await repos.subscribers.put(dataclasses.replace(twin, feed_ids=("feed0", "feed1")))
    await _deliver(services, twin.id, by_name)
    return by_name


async def _deliver(services: Services, subscriber_id: str, by_name: dict[str, str]) -> None:
    entry = LedgerEntry(
        subscriber_id=subscriber_id, local_date="2026-11-27",
        messages=tuple(LedgerMessage(i, MessageState.SENT) for i in by_name.values()),
        chosen_at=datetime(2026, 11, 27, 8, tzinfo=UTC), finished=True,
    )
    await services.repos.ledger.put(entry)
    services.delivery.history.record(entry)


async def seed_conversation(services: Services, conversation_id: str, insight_id: str) -> None:
    """A conversation with one turn already, as if the chat had asked before."""
    await services.repos.conversations.put(Conversation(
        conversation_id, insight_id, (Turn("What was the first point?", "It was this."),),
        datetime(2026, 11, 27, 9, tzinfo=UTC)))


def same_refusal(refused: str, insight_id: str, unknown: str) -> bool:
    """Word for word what an unknown id gets, apart from the id itself."""
    return refused.replace(insight_id, "ID") == unknown.replace(UNKNOWN_ID, "ID")
