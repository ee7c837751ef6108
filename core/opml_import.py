"""A bounded OPML import: the allowance caps what is fetched, a worker pool and a deadline cap the wait.

An OPML file can list 10,000 feeds; fetching each one in turn took 132 s and most could never
be followed anyway (the per-subscriber limit). So only the remaining allowance is fetched, at
most `concurrency` at a time, and whatever has not finished by the deadline is counted and cut
off, so the reply always comes within the time budget.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field

from core.errors import CastfiveError, DiskFullError, LimitReachedError
from core.ids import feed_id_for
from core.models import Feed
from core.ports import ImportResult

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FollowSteps:
    """How the service follows one feed, split at the network fetch (never under a lock)."""

    fetch: Callable[[str], Awaitable[Feed]]  # fetch, parse and store the feed (or find it known)
    follow: Callable[[Feed], Awaitable[bool]]  # follow it; False: already followed
    abandon: Callable[[str], Awaitable[None]]  # a fetch was cut off: stop polling what it stored


@dataclass(frozen=True)
class ImportLimits:
    """How much one import may do."""

    allowance: int  # feeds the subscriber may still follow
    concurrency: int
    budget_s: float


async def import_feeds(
    entries: Sequence[tuple[str, str]], followed: Collection[str], limits: ImportLimits,
    steps: FollowSteps, monotonic: Callable[[], float] = time.monotonic,
) -> ImportResult:
    """Follow the (title, url) entries not yet followed, within the allowance and the time budget."""
    deadline = monotonic() + limits.budget_s
    fresh = [(n, title, url) for n, (title, url) in enumerate(entries)
             if feed_id_for(url) not in followed]
    already = len(entries) - len(fresh)
    allowance = max(0, limits.allowance)
    to_try, over = fresh[:allowance], max(0, len(fresh) - allowance)
    tally = _Tally()
    pending = iter(to_try)

    async def worker() -> None:
        for n, title, url in pending:
            if tally.disk_full is not None:
                return
            if tally.full:  # a concurrent /add used up the allowance: fetch nothing more
                tally.over += 1
            elif monotonic() >= deadline:
                tally.out_of_time += 1
            else:
                await _import_one(n, title or url, url, deadline - monotonic(), steps, tally)

    await asyncio.gather(*(worker() for _ in range(min(limits.concurrency, len(to_try)))))
    if tally.disk_full is not None:  # every other feed would fail alike: one error, not a list
        raise tally.disk_full
    log.info("opml import entries=%d added=%d already=%d failed=%d over_allowance=%d out_of_time=%d",
             len(entries), len(tally.added), already + tally.already, len(tally.failed),
             over + tally.over, tally.out_of_time)
    return ImportResult(
        added=tuple(feed for _, feed in sorted(tally.added, key=lambda p: p[0])),
        failed=tuple(failure for _, failure in sorted(tally.failed, key=lambda p: p[0])),
        already_followed=already + tally.already, over_allowance=over + tally.over,
        out_of_time=tally.out_of_time,
    )


@dataclass
class _Tally:
    """What the workers found so far, by entry number (one event loop: no lock needed)."""

    added: list[tuple[int, Feed]] = field(default_factory=list)
    failed: list[tuple[int, tuple[str, str]]] = field(default_factory=list)
    already: int = 0
    over: int = 0
    out_of_time: int = 0
    full: bool = False
    disk_full: DiskFullError | None = None


async def _import_one(
    n: int, name: str, url: str, time_left: float, steps: FollowSteps, tally: _Tally
) -> None:
    try:
        feed = await asyncio.wait_for(steps.fetch(url), timeout=time_left)
    except TimeoutError:
        tally.out_of_time += 1
        await steps.abandon(url)  # the fetch may have stored the feed just before it was cut off
        return
    except DiskFullError as exc:
        tally.disk_full = exc
        return
    except CastfiveError as exc:
        tally.failed.append((n, (name, str(exc))))
        return
    except Exception:  # one broken feed is reported, never stops the rest
        log.exception("opml import: feed %d failed unexpectedly", n)
        tally.failed.append((n, (name, "unexpected error (logged)")))
        return
    try:
        newly = await steps.follow(feed)  # quick store work, never cut off half-way
    except LimitReachedError:
        tally.over += 1
        tally.full = True
        return
    except DiskFullError as exc:
        tally.disk_full = exc
        return
    if newly:
        tally.added.append((n, feed))
    else:
        tally.already += 1
