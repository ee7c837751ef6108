"""Which episodes of a newly added feed are processed, and bringing back-catalogue ones back."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime, timedelta

from core.config import Settings
from core.models import Episode, EpisodeState


def first_poll_queue(
    dates: Sequence[datetime | None], added_at: datetime, settings: Settings
) -> set[int]:
    """Indices (in feed order) of the items a new feed queues; the rest are back catalogue.

    Every item published within `insights.lookback_days` of the subscription is queued, so a
    show that drops a batch of episodes in one day loses none of them; the newest
    `feeds.new_feed_episodes` are queued whatever their date, so a monthly show still gives a new
    follower something to read. `feeds.new_feed_max_episodes` caps the total, newest first.
    """
    window_start = added_at - timedelta(days=settings.insights.lookback_days)

    def newest_first(i: int) -> tuple[bool, float]:
        when = dates[i]  # undated items keep their feed position (feeds list newest first)
        return (when is None, -when.timestamp() if when is not None else float(i))

    order = sorted(range(len(dates)), key=newest_first)
    recent = {i for i in order if (when := dates[i]) is not None and when >= window_start}
    wanted = set(order[: settings.feeds.new_feed_episodes]) | recent
    return set([i for i in order if i in wanted][: settings.feeds.new_feed_max_episodes])


def requeue_candidates(
    episodes: Sequence[Episode], added_at: datetime, settings: Settings
) -> list[Episode]:
    """Back-catalogue episodes of one feed that today's settings would have queued when it was
    added (a setting was raised since), returned in the NEW state.

    Only episodes found by the first poll count: one that surfaced later, dated long before the
    subscription, is back catalogue by date (a host migration that rewrote every guid).
    """
    first_poll = [e for e in episodes if e.discovered_at == added_at]
    wanted = first_poll_queue([e.published_at for e in first_poll], added_at, settings)
    return [dataclasses.replace(first_poll[i], state=EpisodeState.NEW)
            for i in sorted(wanted) if first_poll[i].state == EpisodeState.SKIPPED]


def queue_episode(episode: Episode) -> Episode:
    """A back-catalogue (or failed) episode queued for processing by hand."""
    if episode.state not in (EpisodeState.SKIPPED, EpisodeState.FAILED):
        return episode
    return dataclasses.replace(episode, state=EpisodeState.NEW, attempts=0, last_error="")
