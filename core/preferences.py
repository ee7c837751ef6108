"""A subscriber's cadence and topics: each change one read-modify-write under the subscriber's lock."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import logging

from core.cadence import ScheduleChange, apply_schedule
from core.delivery.subscriptions import require_subscriber
from core.models import Subscriber
from core.ports import Embedder
from core.store.repos import Repos
from core.subscriber_locks import KeyedLocks
from core.topics import parse_topics

log = logging.getLogger(__name__)


class Preferences:
    """Changes the CastfiveService delegates: when the digest comes, and what it leans towards."""

    def __init__(self, repos: Repos, locks: KeyedLocks, embedder: Embedder | None = None) -> None:
        self.repos = repos
        self.locks = locks
        self.embedder = embedder

    async def set_schedule(self, subscriber_id: str, change: ScheduleChange) -> Subscriber:
        """Apply a checked schedule change (time, zone, cadence, weekday)."""
        async with self.locks.hold(subscriber_id):
            updated = apply_schedule(await require_subscriber(self.repos, subscriber_id), change)
            await self.repos.subscribers.put(updated)
        log.info("schedule set subscriber=%s cadence=%s", subscriber_id, updated.cadence)
        return updated

    async def set_topics(self, subscriber_id: str, text: str) -> Subscriber:
        """Set the chat's topics from 'ai, energy, startups' (checked; at most 10)."""
        topics = parse_topics(text)
        await require_subscriber(self.repos, subscriber_id)  # a stranger costs no embedding
        vectors, model = await self._embed(topics)  # model work: never under the lock
        return await self._write(subscriber_id, topics, vectors, model)

    async def clear_topics(self, subscriber_id: str) -> Subscriber:
        """No topics: the digest is ranked exactly as without them."""
        return await self._write(subscriber_id, (), (), "")

    async def _write(self, subscriber_id: str, topics: tuple[str, ...], vectors: tuple[str, ...],
                     model: str) -> Subscriber:
        async with self.locks.hold(subscriber_id):
            subscriber = await require_subscriber(self.repos, subscriber_id)
            updated = dataclasses.replace(subscriber, topics=topics, topic_vectors=vectors,
                                          topic_model=model)
            await self.repos.subscribers.put(updated)
        log.info("topics set subscriber=%s count=%d embedded=%s", subscriber_id, len(topics),
                 bool(vectors))
        return updated

    async def _embed(self, topics: tuple[str, ...]) -> tuple[tuple[str, ...], str]:
        if self.embedder is None:
            return (), ""
        try:
            vectors = await asyncio.to_thread(self.embedder.embed, list(topics))
        except Exception:  # embeddings only widen the match: the topics' words still count
            log.exception("topic embeddings failed: topics kept as words only")
            return (), ""
        return tuple(base64.b64encode(v).decode("ascii") for v in vectors), self.embedder.name
