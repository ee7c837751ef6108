"""Forget feeds nobody has followed for longer than the dedupe window: the feed, episodes, insights, blobs.

An idle feed (FeedStatus.IDLE: a user feed followed by nobody, not in the catalogue) is kept
for the dedupe window, so a quick re-follow finds its history and nothing sent is shown again.
After that nothing can pick, compare or ask about its insights, so the daily prune removes all
of it; a later follow adds the feed afresh (a first poll: its lookback window, no back catalogue).
An idle feed is not polled, so its last poll is when it stopped being followed (to within a
poll interval: a followed feed is polled at least once a day, backoff included).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime

from core.catalogue import catalogue_feed_ids
from core.config import Settings
from core.digests import document_batches
from core.models import Feed, FeedStatus
from core.ports import Change
from core.store.blobs import chapters_blob, transcript_blob
from core.store.repos import Repos
from core.subscriber_locks import KeyedLocks

log = logging.getLogger(__name__)

DELETES_PER_BATCH = 1000


@dataclass(frozen=True)
class IdlePruneReport:
    """What forgetting idle feeds removed."""

    feeds: int = 0
    episodes: int = 0
    insights: int = 0


async def forget_idle_feeds(
    repos: Repos, settings: Settings, idle_before: datetime, referenced: Collection[str],
    locks: KeyedLocks | None = None,
) -> IdlePruneReport:
    """Remove every feed idle since before `idle_before` whose insights no kept record names.

    `locks` are the service's: a feed record goes only under its "feed:<id>" lock, after a last
    look that nobody followed it meanwhile (a follow re-stores a feed that went before it).
    """
    followed = {i for s in await repos.subscribers.all() for i in (s.feed_ids or ())}
    keep = followed | set(catalogue_feed_ids(settings))
    stale = {f.id for f in await repos.feeds.all() if _idle_since_before(f, idle_before) and f.id not in keep}
    if not stale:
        return IdlePruneReport()
    insights: dict[str, list[str]] = {}
    async for docs in document_batches(repos.store, repos.insights.name):
        for doc in docs:
            if doc.get("feed_id") in stale and isinstance(doc.get("id"), str):
                insights.setdefault(doc["feed_id"], []).append(doc["id"])
    # an insight a kept ledger entry or conversation names keeps its whole feed for now
    stale -= {feed_id for feed_id, ids in insights.items() if any(i in referenced for i in ids)}
    episodes: list[str] = []
    async for docs in document_batches(repos.store, repos.episodes.name):
        episodes += [doc["id"] for doc in docs
                     if doc.get("feed_id") in stale and isinstance(doc.get("id"), str)]
    gone_insights = [i for feed_id in stale for i in insights.get(feed_id, ())]
    # insights, then episodes and their blobs, the feed last: a crash half-way leaves it idle
    # and the next prune finishes the job
    await _delete(repos, repos.insights.name, gone_insights)
    await _delete(repos, repos.episodes.name, episodes)
    for episode_id in episodes:
        await repos.store.delete_blob(transcript_blob(episode_id))
        await repos.store.delete_blob(chapters_blob(episode_id))
    forgotten = await _forget_feeds(repos, sorted(stale), locks or KeyedLocks())
    if forgotten:
        log.info("forgot idle feeds=%d episodes=%d insights=%d", forgotten, len(episodes),
                 len(gone_insights))
    return IdlePruneReport(forgotten, len(episodes), len(gone_insights))


async def _forget_feeds(repos: Repos, feed_ids: list[str], locks: KeyedLocks) -> int:
    """Delete the feed records still idle and unfollowed, each under its lock; how many went."""
    async with AsyncExitStack() as held:
        for feed_id in feed_ids:  # sorted, and others hold one feed lock at a time: no deadlock
            await held.enter_async_context(locks.hold(f"feed:{feed_id}"))
        followed = {i for s in await repos.subscribers.all() for i in (s.feed_ids or ())}
        gone = []
        for feed_id in feed_ids:
            feed = await repos.feeds.get(feed_id)
            if feed is not None and feed.status == FeedStatus.IDLE and feed_id not in followed:
                gone.append(feed_id)
        await _delete(repos, repos.feeds.name, gone)
    return len(gone)


def _idle_since_before(feed: Feed, cutoff: datetime) -> bool:
    if feed.status != FeedStatus.IDLE or feed.origin == "operator":
        return False
    since = feed.last_polled_at or feed.added_at
    return since is not None and since < cutoff


async def _delete(repos: Repos, table: str, keys: list[str]) -> None:
    for start in range(0, len(keys), DELETES_PER_BATCH):
        await repos.store.apply([Change(table, k, None) for k in keys[start:start + DELETES_PER_BATCH]])
