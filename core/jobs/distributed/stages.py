"""What each actor does: one stage of one feed or episode, the stored state deciding everything.

A message only names a feed or an episode. Each stage takes that one's lock without waiting
(someone else on it: nothing to do), reads the stored state, and runs the pipeline's step only
when the state says it is due, so a redelivered or duplicated message does nothing twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from core.feeds.poller import FeedPoller
from core.jobs.distributed.dispatch import Dispatcher
from core.jobs.distributed.locks import Locks
from core.jobs.pipeline import EpisodePipeline
from core.models import Episode, EpisodeState
from core.ports import Clock
from core.store.repos import Repos

log = logging.getLogger(__name__)

TRANSCRIBE = frozenset({"transcribe"})
EXTRACT = frozenset({"extract"})
TRANSCRIBE_STATES = (EpisodeState.NEW, EpisodeState.AUDIO_DOWNLOADED)


@dataclass(frozen=True)
class StageOutcome:
    """What a message led to: `ran`, `busy` (another worker holds it) or `skipped` (nothing due)."""

    result: str
    state: str = ""


class StageRunner:
    """Runs poll / transcribe / extract for one key, then enqueues the next stage."""

    def __init__(self, repos: Repos, pipeline: EpisodePipeline, poller: FeedPoller, clock: Clock,
                 locks: Locks, dispatch: Dispatcher) -> None:
        self.repos = repos
        self.pipeline = pipeline
        self.poller = poller
        self.clock = clock
        self.locks = locks
        self.dispatch = dispatch

    async def poll_feed(self, feed_id: str) -> StageOutcome:
        """Poll one due feed and queue its new episodes for transcription."""
        async with self.locks.hold(f"castfive:feed:{feed_id}") as held:
            if not held:
                return StageOutcome("busy")
            feed = await self.repos.feeds.get(feed_id)
            now = self.clock.now()
            if feed is None or not feed.poll_is_due(now):
                return StageOutcome("skipped")
            report = await self.poller.poll(feed)
            for episode in report.new_episodes:
                if self.pipeline.backlog_filter(episode, now):
                    await self.dispatch.send("transcribe", episode.id)
            log.info("polled feed=%s new_episodes=%d status=%s", feed_id, len(report.new_episodes),
                     report.error or report.status)
            return StageOutcome("ran", str(report.status))

    async def transcribe(self, episode_id: str) -> StageOutcome:
        """Get the episode's transcript (publisher's or speech-to-text), then queue extraction."""
        return await self._stage(episode_id, TRANSCRIBE, TRANSCRIBE_STATES)

    async def extract(self, episode_id: str) -> StageOutcome:
        """Extract the insights of a transcribed episode."""
        return await self._stage(episode_id, EXTRACT, (EpisodeState.TRANSCRIBED,))

    async def _stage(self, episode_id: str, stages: frozenset[str],
                     due_states: tuple[EpisodeState, ...]) -> StageOutcome:
        async with self.locks.hold(f"castfive:episode:{episode_id}") as held:
            if not held:
                log.info("stage busy episode=%s: another worker has it", episode_id)
                return StageOutcome("busy")
            episode = await self.repos.episodes.get(episode_id)
            feed = await self.repos.feeds.get(episode.feed_id) if episode else None
            if episode is None or feed is None or episode.state not in due_states \
                    or not self.pipeline.backlog_filter(episode, self.clock.now()):
                state = str(episode.state) if episode else "gone"
                log.info("stage skipped episode=%s state=%s: nothing due", episode_id, state)
                if episode is not None and stages == TRANSCRIBE and self._extract_due(episode):
                    # Redelivered after its extract message was lost (Redis away at the time):
                    # queue it again; a duplicate extract is skipped like this one.
                    await self.dispatch.send("extract", episode.id)
                return StageOutcome("skipped", state)
            episode = await self.pipeline.process(episode, feed, stages=stages)
        if self.pipeline.backlog_filter(episode, self.clock.now()):  # a retry later is the sweep's
            if episode.state == EpisodeState.TRANSCRIBED:
                await self.dispatch.send("extract", episode.id)
            elif stages == EXTRACT:  # back to NEW: its transcript was lost
                await self.dispatch.send("transcribe", episode.id)
        return StageOutcome("ran", str(episode.state))

    def _extract_due(self, episode: Episode) -> bool:
        return episode.state == EpisodeState.TRANSCRIBED and self.pipeline.backlog_filter(
            episode, self.clock.now())
