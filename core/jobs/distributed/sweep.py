"""The active scheduler's poll job in distributed mode: queue due feeds and unfinished episodes.

Each feed or episode is queued once per distinct stored state (its next poll, or its state and
attempt); the same state is queued again only after `redispatch_minutes`, in case its message
was lost (a Redis without its append-only file). A duplicate costs a worker one read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from core.jobs.distributed.dispatch import Dispatcher
from core.jobs.pipeline import EpisodePipeline
from core.models import Episode, EpisodeState, Feed
from core.ports import Clock
from core.store.repos import Repos


@dataclass(frozen=True)
class SweepReport:
    """How many messages one sweep sent, and the backlog it saw."""

    feeds_queued: int
    episodes_queued: int
    backlog: int
    episodes: dict[str, int]  # how many in each state


class Sweeper:
    """Finds what is due in the store and sends each piece to its queue."""

    def __init__(self, repos: Repos, pipeline: EpisodePipeline, dispatch: Dispatcher, clock: Clock,
                 redispatch_minutes: float) -> None:
        self.repos = repos
        self.pipeline = pipeline
        self.dispatch = dispatch
        self.clock = clock
        self.redispatch = timedelta(minutes=redispatch_minutes)
        self._sent: dict[str, tuple[str, datetime]] = {}  # key -> (state token, when queued)

    async def sweep(self) -> SweepReport:
        """Queue every due feed's poll and every unfinished episode's next stage."""
        now = self.clock.now()
        feeds_queued = episodes_queued = backlog = 0
        for feed in await self.repos.feeds.all():
            if feed.poll_is_due(now) and await self._send_once("poll", feed.id, _feed_token(feed), now):
                feeds_queued += 1
        counts: dict[str, int] = {}
        for episode in await self.repos.episodes.all():
            counts[str(episode.state)] = counts.get(str(episode.state), 0) + 1
            if not self.pipeline.backlog_filter(episode, now):
                continue
            backlog += 1
            stage = "extract" if episode.state == EpisodeState.TRANSCRIBED else "transcribe"
            if await self._send_once(stage, episode.id, _episode_token(episode), now):
                episodes_queued += 1
        return SweepReport(feeds_queued, episodes_queued, backlog, counts)

    async def _send_once(self, stage: str, key: str, token: str, now: datetime) -> bool:
        before = self._sent.get(f"{stage}:{key}")
        if before is not None and before[0] == token and now - before[1] < self.redispatch:
            return False
        await self.dispatch.send(stage, key)
        self._sent[f"{stage}:{key}"] = (token, now)
        return True


def _feed_token(feed: Feed) -> str:
    return feed.next_poll_at.isoformat() if feed.next_poll_at else "-"


def _episode_token(episode: Episode) -> str:
    due = episode.next_attempt_at.isoformat() if episode.next_attempt_at else "-"
    return f"{episode.state}|{episode.attempts}|{due}"
