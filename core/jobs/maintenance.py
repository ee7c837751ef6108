"""Daily pruning: ledger entries, insights and chat records that nothing needs any more.

Without it the ledger alone grows by one entry per subscriber a day (3.6 million a year at
10,000 subscribers) and every start, snapshot and history load grows with it. The scheduler
calls `prune` once a day; it reads tables in batches off the event loop and deletes in
small atomic batches, so it can run beside deliveries.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from core.config import Settings
from core.digests import SentHistory, document_batches
from core.jobs.idle_feeds import forget_idle_feeds
from core.ports import Change, Clock, Doc
from core.store.codec import from_doc
from core.store.repos import Repos
from core.store.tables import Table
from core.subscriber_locks import KeyedLocks

log = logging.getLogger(__name__)

LEDGER_GRACE_DAYS = 1  # local dates run up to a day ahead of UTC
INSIGHT_MARGIN_DAYS = 2  # beyond max(lookback, dedupe): nothing can pick or compare them then
CONVERSATION_IDLE_DAYS = 30
SEARCH_CHOICE_DAYS = 1
DELETES_PER_BATCH = 1000  # one journal record each: small enough to keep commits short


@dataclass(frozen=True)
class PruneReport:
    """How many records of each table `prune` removed."""

    ledger: int = 0
    insights: int = 0
    messages: int = 0
    conversations: int = 0
    search_choices: int = 0
    idle_feeds: int = 0  # feeds followed by nobody for longer than the dedupe window
    episodes: int = 0  # of those feeds


async def prune(
    repos: Repos, clock: Clock, settings: Settings, history: SentHistory | None = None,
    locks: KeyedLocks | None = None,
) -> PruneReport:
    """Remove what the product no longer needs; pass the delivery history to shrink it too.

    - ledger entries of local dates older than `library_days` (at least `dedupe_days`, +1 day
      for time zones);
    - insights created more than max(lookback_days, dedupe_days) + 2 days ago that no
      remaining ledger entry or live conversation refers to (undated insights stay);
    - message links whose insight is gone (nobody can ask about those messages any more);
    - conversations idle for 30 days, search choices offered more than a day ago (either
      without a time counts as old);
    - idle feeds (followed by nobody) last polled before the dedupe window, with their
      episodes, insights and transcripts, unless a kept record names one of their insights.
    """
    now = clock.now()
    cfg = settings.insights
    # The ledger is also each chat's library (/search, /export insights): kept for library_days,
    # and the insights it names stay with it.
    kept_days = max(cfg.dedupe_days, cfg.library_days)
    oldest_day = (now.date() - timedelta(days=kept_days + LEDGER_GRACE_DAYS)).isoformat()
    insight_cutoff = now - timedelta(days=max(cfg.lookback_days, cfg.dedupe_days) + INSIGHT_MARGIN_DAYS)
    referenced: set[str] = set()  # insights that surviving ledger entries or conversations name

    def ledger_is_stale(doc: Doc) -> bool:
        day, messages = doc.get("local_date"), doc.get("messages")
        if not isinstance(day, str) or not isinstance(messages, list):
            return False  # not a ledger entry we wrote: leave it for a person to look at
        if day < oldest_day:
            return True
        referenced.update(m["insight_id"] for m in messages
                          if isinstance(m, dict) and isinstance(m.get("insight_id"), str))
        return False

    ledger = await _remove(repos, repos.ledger, ledger_is_stale)

    idle_before = now - timedelta(days=CONVERSATION_IDLE_DAYS)

    def conversation_is_idle(doc: Doc) -> bool:
        if _before(doc.get("updated_at"), idle_before, missing=True):
            return True
        if isinstance(doc.get("insight_id"), str):
            referenced.add(doc["insight_id"])
        return False

    conversations = await _remove(repos, repos.conversations, conversation_is_idle)
    idle = await forget_idle_feeds(repos, settings, now - timedelta(days=cfg.dedupe_days), referenced,
                                   locks)
    remaining: set[str] = set()

    def insight_is_stale(doc: Doc) -> bool:
        stale = doc.get("id") not in referenced and _before(doc.get("created_at"), insight_cutoff)
        if not stale:
            remaining.add(doc.get("id"))  # type: ignore[arg-type]
        return stale

    insights = await _remove(repos, repos.insights, insight_is_stale)
    messages = await _remove(repos, repos.messages, lambda d: d.get("insight_id") not in remaining)
    offered_before = now - timedelta(days=SEARCH_CHOICE_DAYS)
    choices = await _remove(repos, repos.search_choices,
                            lambda d: _before(d.get("offered_at"), offered_before, missing=True))
    if history is not None:
        history.forget_before(oldest_day)
    report = PruneReport(ledger, insights + idle.insights, messages, conversations, choices,
                         idle.feeds, idle.episodes)
    log.info("pruned ledger=%d insights=%d messages=%d conversations=%d search_choices=%d "
             "idle_feeds=%d episodes=%d", report.ledger, report.insights, report.messages,
             report.conversations, report.search_choices, report.idle_feeds, report.episodes)
    return report


async def _remove(repos: Repos, table: Table[Any], is_stale: Callable[[Doc], bool]) -> int:
    """Delete every document of `table` that `is_stale` picks; returns how many."""
    keys: list[str] = []

    def pick(docs: list[Doc]) -> None:
        for doc in docs:
            if is_stale(doc):  # only these become dataclasses: their keys come from the table
                try:
                    keys.append(table.key(from_doc(table.cls, doc)))
                except (TypeError, ValueError, KeyError, AttributeError):
                    log.warning("prune: a %s document cannot be read; left alone", table.name)

    async for docs in document_batches(repos.store, table.name):
        await asyncio.to_thread(pick, docs)  # reading 300,000 entries is work for a thread
    for start in range(0, len(keys), DELETES_PER_BATCH):
        await repos.store.apply([Change(table.name, k, None) for k in keys[start:start + DELETES_PER_BATCH]])
    return len(keys)


def _before(stamp: Any, cutoff: datetime, *, missing: bool = False) -> bool:
    """True when the ISO time `stamp` is before `cutoff`; `missing` when it is absent or bad."""
    if not isinstance(stamp, str):
        return missing
    try:
        when = datetime.fromisoformat(stamp)
    except ValueError:
        return missing
    if when.tzinfo is None:
        return missing
    return when < cutoff
