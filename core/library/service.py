"""LibraryService: what adapters call to search a chat's library and export its insights."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import re
from datetime import UTC, date, datetime
from typing import TypeVar

from core.access import may_read
from core.delivery.service import DeliveryService
from core.delivery.subscriptions import require_subscriber
from core.digests import Catalog, item_for
from core.errors import NotFoundError, ValidationError
from core.ids import short_hash
from core.library.export import FORMATS
from core.library.indexing_store import IndexingStore
from core.library.models import (
    PAGE_SIZE,
    ExportFile,
    LibraryEntry,
    SavedQuery,
    SavedSearches,
    SearchHit,
    SearchPage,
)
from core.library.search import LibrarySearch, Ranked
from core.models import Episode, Feed, FeedStatus, Subscriber
from core.ports import Clock, Embedder
from core.retrieval import terms
from core.store.repos import Repos
from core.store.tables import Table

log = logging.getLogger(__name__)
T = TypeVar("T", Feed, Episode)

MAX_QUERY_CHARS = 200
MAX_QUERY_TERMS = 10  # every term must match: more would only ever find less
SAVED_QUERIES = 20
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SEARCH_ID = re.compile(r"^[a-z0-9]{6}$")


class LibraryService:
    """Search and export over one store, its search index and the delivery history."""

    def __init__(self, repos: Repos, clock: Clock, delivery: DeliveryService, store: IndexingStore,
                 embedder: Embedder | None = None) -> None:
        self.repos = repos
        self.clock = clock
        self.delivery = delivery
        self.store = store
        self.searcher = LibrarySearch(repos, store.index, embedder)
        self.saved = Table(repos.store, "library_searches", SavedSearches, key_of=lambda s: s.subscriber_id)
        self._caught_up: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Bring the index up to date with the store in the background (after the store opens)."""
        self._caught_up = asyncio.create_task(self._catch_up(), name="search-index-catch-up")

    async def _catch_up(self) -> None:
        try:
            await self.store.catch_up()
        except Exception:  # searches still work on what is indexed; the next start tries again
            log.exception("search index catch-up failed")

    def refresh(self) -> None:
        """Catch up again, unless a catch-up is running: other processes (distributed workers)
        store insights and transcripts this process's index never saw being written."""
        if self._caught_up is None or self._caught_up.done():
            self.start()

    async def caught_up(self) -> None:
        """Wait until the start-up catch-up is done (the CLI searches right after starting)."""
        if self._caught_up is not None:
            await self._caught_up

    async def stop(self) -> None:
        """Cancel a catch-up still running (before the store closes)."""
        if self._caught_up is not None and not self._caught_up.done():
            self._caught_up.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._caught_up

    # --- search ---------------------------------------------------------------------------------

    async def search(self, subscriber_id: str, words: str, page: int = 0) -> SearchPage:
        """One page of what the chat may read that holds every word, best first."""
        query = " ".join(words.split())
        if not query:
            raise ValidationError("Search for a few words, e.g. /search battery prices")
        if len(query) > MAX_QUERY_CHARS:
            raise ValidationError(f"Please keep a search under {MAX_QUERY_CHARS} characters.")
        subscriber = await require_subscriber(self.repos, subscriber_id)
        search_id = await self._remember(subscriber_id, query)
        return await self._page(subscriber, query, search_id, page)

    async def page(self, subscriber_id: str, search_id: str, page: int) -> SearchPage:
        """Another page of a search this chat ran (paging buttons name it by its short id)."""
        subscriber = await require_subscriber(self.repos, subscriber_id)
        saved = await self.saved.get(subscriber_id)
        found = next((q for q in (saved.queries if saved else ()) if q.id == search_id), None)
        if found is None or not _SEARCH_ID.match(search_id):
            raise NotFoundError("That search has expired: search again.")
        return await self._page(subscriber, found.query, search_id, page)

    async def preview(self, subscriber_id: str, words: str) -> SearchHit | None:
        """The best hit for words still being typed (autocomplete), without remembering them."""
        query = " ".join(words.split())[:MAX_QUERY_CHARS]
        subscriber = await self.repos.subscribers.get(subscriber_id)
        if subscriber is None or not query:
            return None
        wanted = _wanted(query)
        if not wanted:
            return None
        ranked = await self._ranked(subscriber, wanted, query)
        for candidate in ranked.candidates:  # render one at a time: this runs per keystroke
            hits = await self.searcher.render(subscriber, [candidate], wanted, self.delivery.history)
            if hits:
                return hits[0]
        return None

    async def recent_searches(self, subscriber_id: str, typed: str = "") -> list[str]:
        """The chat's recent queries containing what is typed, newest first."""
        saved = await self.saved.get(subscriber_id)
        wanted = " ".join(typed.lower().split())
        return [q.query for q in (saved.queries if saved else ()) if wanted in q.query.lower()]

    async def _page(self, subscriber: Subscriber, query: str, search_id: str, page: int) -> SearchPage:
        wanted = _wanted(query)
        if not wanted:
            return SearchPage(query, search_id, (), 0, 0, 0,
                              hint="Those words are too common to search for: try a more specific one.")
        result = await self._ranked(subscriber, wanted, query)
        ranked = result.candidates
        pages = -(-len(ranked) // PAGE_SIZE)
        page = min(max(page, 0), max(pages - 1, 0))
        shown = ranked[page * PAGE_SIZE:(page + 1) * PAGE_SIZE]
        hits = await self.searcher.render(subscriber, shown, wanted, self.delivery.history)
        hint = "" if ranked else _fewer_words_hint(query, len(wanted))
        if result.too_common:  # said even with hits: the insights were searched, the transcripts not
            hint = ("Those words are in most of your shows' transcripts, so only the insights sent "
                    "here were searched: add a more specific word.")
        log.info("library search subscriber=%s terms=%d hits=%d", subscriber.id, len(wanted), len(ranked))
        return SearchPage(query, search_id, tuple(hits), page, pages, len(ranked), hint)

    async def _ranked(self, subscriber: Subscriber, wanted: list[str], query: str) -> Ranked:
        followed = await self._followed(subscriber)
        return await self.searcher.rank(subscriber, followed, self.delivery.history, wanted, query)

    async def _followed(self, subscriber: Subscriber) -> list[Feed]:
        if subscriber.feed_ids is None:  # the operator's catalogue
            return [f for f in await self.repos.feeds.all()
                    if f.origin == "operator" and f.status != FeedStatus.GONE]
        # by id: a chat follows a few shows, the store may hold thousands
        found = [await self.repos.feeds.get(i) for i in subscriber.feed_ids]
        return [f for f in found if f is not None]

    async def _remember(self, subscriber_id: str, query: str) -> str:
        search_id = short_hash("search", subscriber_id, query.lower(), length=6)
        saved = await self.saved.get(subscriber_id) or SavedSearches(subscriber_id)
        kept = [q for q in saved.queries if q.id != search_id][:SAVED_QUERIES - 1]
        await self.saved.put(dataclasses.replace(
            saved, queries=(SavedQuery(search_id, query, self.clock.now()), *kept)))
        return search_id

    # --- export ---------------------------------------------------------------------------------

    async def export(self, subscriber_id: str, fmt: str, *, since: str | None = None,
                     max_bytes: int = 50 * 1024 * 1024) -> list[ExportFile]:
        """The chat's insights, newest first, as `markdown` or `readwise` files under `max_bytes`."""
        if fmt not in FORMATS:
            raise ValidationError(f"Export as one of: {', '.join(FORMATS)}.")
        entries = await self.entries(subscriber_id, parse_since(since))
        if not entries:
            when = f" since {since}" if since else ""
            raise NotFoundError(f"No insights were sent here{when}: nothing to export yet.")
        stem = "castfive-insights" + (f"-since-{since}" if since else "")
        return await asyncio.to_thread(FORMATS[fmt], entries, max_bytes, stem)

    async def entries(self, subscriber_id: str, since: date | None = None) -> list[LibraryEntry]:
        """Every insight sent to the chat (on or after `since`) that it may still read, newest first."""
        subscriber = await require_subscriber(self.repos, subscriber_id)
        history = self.delivery.history
        sent = history.sent_ids(subscriber_id)
        floor = since.isoformat() if since else ""
        catalog = Catalog(feeds={}, episodes={}, insights={}, by_feed={})
        entries = []
        for insight_id, day in sent.items():
            if day < floor or (insight := await self.repos.insights.get(insight_id)) is None:
                continue
            feed = await self._cached(catalog.feeds, insight.feed_id, self.repos.feeds)
            if not may_read(subscriber, insight, feed, history):
                continue
            await self._cached(catalog.episodes, insight.episode_id, self.repos.episodes)
            entries.append(LibraryEntry(item_for(insight, catalog), day))
        entries.sort(key=lambda e: (e.item.insight.episode_id, e.item.insight.start))  # then, stably:
        entries.sort(key=lambda e: (e.sent_on, e.item.insight.created_at or _EPOCH), reverse=True)
        return entries

    @staticmethod
    async def _cached(cache: dict[str, T], key: str, table: Table[T]) -> T | None:
        if key not in cache:
            found = await table.get(key)
            if found is None:
                return None
            cache[key] = found
        return cache[key]


def parse_since(text: str | None) -> date | None:
    """'2026-11-01' -> that date; None for none; ValidationError for anything else."""
    if text is None or not text.strip():
        return None
    cleaned = text.strip()
    try:
        if not _DATE.match(cleaned):
            raise ValueError(cleaned)
        return date.fromisoformat(cleaned)
    except ValueError:
        raise ValidationError(
            f"Give the date as YYYY-MM-DD, e.g. 2026-11-01, not {cleaned[:20]!r}.") from None


def _wanted(query: str) -> list[str]:
    """The distinct search terms of a query, at most MAX_QUERY_TERMS."""
    return list(dict.fromkeys(terms(query)))[:MAX_QUERY_TERMS]


def _fewer_words_hint(query: str, count: int) -> str:
    if count > 1:
        return "Nothing here holds all of those words: try fewer words."
    return "Nothing here mentions that yet: try another word, or fewer words."


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
