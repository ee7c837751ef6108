"""Choose each subscriber's daily five from a snapshot of recent insights and sent history."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from core.codec import from_doc
from core.config import Settings
from core.models import Digest, DigestItem, Episode, Feed, FeedStatus, Insight, Subscriber
from core.ranking import choose_digest
from core.repos import LedgerEntry, Repos


@dataclass
class SentHistory:
    """In-memory index of the ledger: which insights each subscriber got, and when."""

    by_subscriber: dict[str, dict[str, str]] = field(default_factory=lambda: defaultdict(dict))

    def record(self, entry: LedgerEntry) -> None:
        """Note every insight of a chosen digest as sent on its local date."""
        sent = self.by_subscriber[entry.subscriber_id]
        for message in entry.messages:
            sent[message.insight_id] = entry.local_date

    def sent_ids(self, subscriber_id: str) -> dict[str, str]:
        """Insight id -> local date sent, for one subscriber."""
        return self.by_subscriber.get(subscriber_id, {})

    def move(self, old_id: str, new_id: str) -> None:
        """Carry history over when a subscriber's id changes (group migration)."""
        if old_id in self.by_subscriber:
            self.by_subscriber[new_id].update(self.by_subscriber.pop(old_id))


@dataclass
class Catalog:
    """What ranking needs, loaded once per delivery round rather than once per subscriber."""

    feeds: dict[str, Feed]
    episodes: dict[str, Episode]
    insights: dict[str, Insight]
    by_feed: dict[str, list[Insight]]

    def catalogue_feed_ids(self) -> tuple[str, ...]:
        """The operator's feeds: what a subscriber follows by default."""
        return tuple(
            f.id for f in self.feeds.values() if f.origin == "operator" and f.status != FeedStatus.GONE
        )

    def feeds_of(self, subscriber: Subscriber) -> tuple[str, ...]:
        """The feeds a subscriber follows."""
        return subscriber.feed_ids if subscriber.feed_ids is not None else self.catalogue_feed_ids()


class DigestBuilder:
    """Picks digests; all CPU work is synchronous and small per subscriber."""

    def __init__(self, repos: Repos, settings: Settings) -> None:
        self.repos = repos
        self.settings = settings

    async def load_catalog(self) -> Catalog:
        """Snapshot feeds, episodes and insights, converting documents off the event loop."""
        store = self.repos.store
        feed_docs, episode_docs, insight_docs = await asyncio.gather(
            store.all("feeds"), store.all("episodes"), store.all("insights")
        )
        return await asyncio.to_thread(_build_catalog, feed_docs, episode_docs, insight_docs)

    async def load_history(self) -> SentHistory:
        """Rebuild the sent-history index from the ledger, off the event loop."""
        docs = await self.repos.store.all("ledger")

        def build() -> SentHistory:
            history = SentHistory()
            for doc in docs:
                history.record(from_doc(LedgerEntry, doc))
            return history

        return await asyncio.to_thread(build)

    def choose(
        self, catalog: Catalog, subscriber: Subscriber, history: SentHistory, now: datetime, local_day: date
    ) -> list[Insight]:
        """The subscriber's best insights for `local_day`: unsent, recent, diverse, never filler."""
        cfg = self.settings.insights
        since = now - timedelta(days=cfg.lookback_days)
        sent = history.sent_ids(subscriber.id)
        candidates = [
            insight
            for feed_id in catalog.feeds_of(subscriber)
            for insight in catalog.by_feed.get(feed_id, ())
            if insight.id not in sent and (insight.created_at is None or insight.created_at >= since)
        ]
        oldest = (local_day - timedelta(days=cfg.dedupe_days)).isoformat()
        recent = [catalog.insights[i] for i, d in sent.items() if d >= oldest and i in catalog.insights]
        return choose_digest(
            candidates,
            subscriber=subscriber,
            sent_recent=recent,
            size=cfg.digest_size,
            max_per_episode=cfg.max_per_episode_in_digest,
            min_score=cfg.min_score,
        )

    def digest(
        self, catalog: Catalog, subscriber_id: str, local_date: str, insight_ids: Iterable[str]
    ) -> Digest:
        """Render-ready digest for the given insights, in order."""
        insights = [catalog.insights[i] for i in insight_ids if i in catalog.insights]
        items = tuple(
            item_for(insight, catalog, position, len(insights))
            for position, insight in enumerate(insights, start=1)
        )
        return Digest(subscriber_id=subscriber_id, local_date=local_date, items=items)


def item_for(insight: Insight, catalog: Catalog, position: int = 1, total: int = 1) -> DigestItem:
    """One insight with its show, episode and links to the moment it was said."""
    episode = catalog.episodes.get(insight.episode_id)
    feed = catalog.feeds.get(insight.feed_id)
    return DigestItem(
        insight=insight,
        show_title=feed.title if feed else "",
        episode_title=episode.title if episode else "",
        moment_url=moment_url(episode.audio_url if episode else None, insight.start),
        page_url=episode.page_url if episode else None,
        position=position,
        total=total,
    )


def moment_url(audio_url: str | None, start: float) -> str | None:
    """The audio URL with a `#t=SECONDS` media fragment."""
    if not audio_url:
        return None
    return f"{audio_url.split('#', 1)[0]}#t={max(0, int(start))}"


def _build_catalog(feed_docs: list, episode_docs: list, insight_docs: list) -> Catalog:
    feeds = {d["id"]: from_doc(Feed, d) for d in feed_docs}
    episodes = {d["id"]: from_doc(Episode, d) for d in episode_docs}
    insights = {d["id"]: from_doc(Insight, d) for d in insight_docs}
    by_feed: dict[str, list[Insight]] = defaultdict(list)
    for insight in insights.values():
        by_feed[insight.feed_id].append(insight)
    return Catalog(feeds=feeds, episodes=episodes, insights=insights, by_feed=dict(by_feed))
