"""A Store that keeps the search index in step: insights and transcripts are indexed as stored.

Every write reaches the inner store first and is durable before the index hears of it; an index
failure is logged and never fails the write. `catch_up` (at start) indexes whatever the index
missed, e.g. after a kill between the two, and forgets what the store no longer holds.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import re
from collections.abc import Callable, Sequence
from typing import Any

from core.library.index import SearchIndex
from core.models import Insight, Transcript
from core.ports import Change, Doc, Store
from core.store.codec import from_doc

log = logging.getLogger(__name__)

INSIGHTS = "insights"
_TRANSCRIBED = ("transcribed", "done")  # or any state with a transcript_source (failed later)
_TRANSCRIPT_BLOB = re.compile(r"^transcript-(?P<episode>[A-Za-z0-9_-]+)\.json$")


class IndexingStore:
    """Wraps a Store; anything else the inner store offers (e.g. `batches`) passes through."""

    def __init__(self, inner: Store, index: SearchIndex) -> None:
        self.inner = inner
        self.index = index

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def start(self) -> None:
        """Open the store, then the index."""
        await self.inner.start()
        await asyncio.to_thread(self.index.open)

    async def close(self) -> None:
        """Close the store and the index."""
        await self.inner.close()
        await asyncio.to_thread(self.index.close)

    async def get(self, table: str, key: str) -> Doc | None:
        return await self.inner.get(table, key)

    async def all(self, table: str) -> list[Doc]:
        return await self.inner.all(table)

    async def put(self, table: str, key: str, doc: Doc) -> None:
        await self.inner.put(table, key, doc)
        if table == INSIGHTS:
            await self._indexed(lambda: self.index.update_insights(_insights([doc])))

    async def delete(self, table: str, key: str) -> None:
        await self.inner.delete(table, key)
        if table == INSIGHTS:
            await self._indexed(lambda: self.index.update_insights((), [key]))

    async def apply(self, changes: Sequence[Change]) -> None:
        await self.inner.apply(changes)
        added = [c.doc for c in changes if c.table == INSIGHTS and c.doc is not None]
        gone = [c.key for c in changes if c.table == INSIGHTS and c.doc is None]
        if added or gone:
            await self._indexed(lambda: self.index.update_insights(_insights(added), gone))

    async def write_blob(self, name: str, data: bytes) -> None:
        await self.inner.write_blob(name, data)
        if match := _TRANSCRIPT_BLOB.match(name):
            await self._index_transcript(match["episode"], data)

    async def read_blob(self, name: str) -> bytes | None:
        return await self.inner.read_blob(name)

    async def delete_blob(self, name: str) -> None:
        await self.inner.delete_blob(name)
        if match := _TRANSCRIPT_BLOB.match(name):
            episode = match["episode"]
            await self._indexed(lambda: self.index.remove_transcript(episode))

    async def _index_transcript(self, episode_id: str, data: bytes) -> None:
        episode = await self.inner.get("episodes", episode_id)
        feed_id = episode.get("feed_id") if episode else None
        if not isinstance(feed_id, str):
            log.warning("search index: transcript of an unknown episode=%s not indexed", episode_id)
            return
        await self._indexed(lambda: self.index.add_transcript(
            from_doc(Transcript, json.loads(data)), feed_id))

    async def _indexed(self, work: Callable[[], object]) -> None:
        try:
            await asyncio.to_thread(work)
        except Exception:  # the write is stored; the next start re-indexes it
            log.exception("search index update failed; it catches up at the next start")

    async def catch_up(self) -> tuple[int, int]:
        """Index stored insights and transcripts the index lacks, forget what the store dropped.

        Returns (insights, episodes) indexed now.
        """
        insight_docs = await self.inner.all(INSIGHTS)
        have = await asyncio.to_thread(self.index.indexed_insights)
        stored = {d.get("id") for d in insight_docs}
        missing = [d for d in insight_docs if d.get("id") not in have]
        dropped = sorted(i for i in have if i not in stored)
        await self._indexed(lambda: self.index.update_insights(_insights(missing), dropped))
        episodes = {d.get("id"): d for d in await self.inner.all("episodes")}
        transcribed = {i for i, d in episodes.items() if isinstance(i, str)
                       and (d.get("transcript_source") or d.get("state") in _TRANSCRIBED)}
        indexed = await asyncio.to_thread(self.index.indexed_episodes)
        for gone in indexed - set(episodes):
            await self._indexed(functools.partial(self.index.remove_transcript, gone))
        added = 0
        for episode_id in sorted(transcribed - indexed):
            data = await self.inner.read_blob(f"transcript-{episode_id}.json")
            if data is not None:
                await self._index_transcript(episode_id, data)
                added += 1
        if missing or added:
            log.info("search index caught up insights=%d episodes=%d", len(missing), added)
        return len(missing), added


def _insights(docs: Sequence[Doc]) -> list[Insight]:
    out = []
    for doc in docs:
        try:
            out.append(from_doc(Insight, doc))
        except (TypeError, ValueError, KeyError):
            log.warning("search index: an insight document cannot be read; skipped")
    return out
