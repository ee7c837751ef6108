"""Stored episodes from parsed ones: creation, safe metadata updates, and the known-episode index."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from dataclasses import dataclass
from datetime import datetime

from core.feeds.identity import Fingerprint, enclosure_key
from core.ids import episode_id_for
from core.models import Episode, EpisodeState, ParsedEpisode
from core.store.tables import Table

_UPDATABLE = ("title", "description", "page_url", "duration_s", "transcripts", "chapters_url",
              "persons", "soundbites")


def new_episode(
    feed_id: str, identity: str, ep: ParsedEpisode, state: EpisodeState, now: datetime
) -> Episode:
    """A stored episode for a newly seen feed item."""
    return Episode(
        id=episode_id_for(feed_id, identity),
        feed_id=feed_id,
        identity=identity,
        title=ep.title,
        published_at=ep.published_at,
        duration_s=ep.duration_s,
        audio_url=ep.audio_url,
        audio_type=ep.audio_type,
        page_url=ep.page_url,
        description=ep.description,
        transcripts=ep.transcripts,
        chapters_url=ep.chapters_url,
        persons=ep.persons,
        soundbites=ep.soundbites,
        chapters=ep.chapters,
        state=state,
        discovered_at=now,
    )


def metadata_hash(ep: Episode | ParsedEpisode) -> str:
    """A digest of the metadata a poll may update; the enclosure counts without its query,
    so rotating tracking tokens do not rewrite every episode on every poll."""
    parts = [repr(getattr(ep, name)) for name in _UPDATABLE]
    parts.append(repr(enclosure_key(ep.audio_url)))
    if ep.chapters:  # only when present, so the hashes stored before chapters existed still match
        parts.append(repr(ep.chapters))
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "replace")).hexdigest()[:16]


def updated_episode(stored: Episode, ep: ParsedEpisode) -> Episode:
    """The stored episode with the feed's newer metadata; state and history stay untouched.

    The audio URL only changes while nothing has been downloaded, so a processed episode keeps
    pointing at the audio its transcript and timestamps came from.
    """
    changes = {name: getattr(ep, name) for name in _UPDATABLE}
    changes["chapters"] = ep.chapters
    if stored.published_at is None:
        changes["published_at"] = ep.published_at
    if stored.state == EpisodeState.NEW and ep.audio_url:
        changes["audio_url"] = ep.audio_url
        changes["audio_type"] = ep.audio_type
    return dataclasses.replace(stored, **changes)


@dataclass(frozen=True)
class Known:
    """What the poller remembers of a stored episode: enough to match and to spot edits."""

    fingerprint: Fingerprint
    meta: str


class KnownEpisodes:
    """Identities of stored episodes per feed, read from the store once, then kept current.

    The store has no query by feed, and reading every episode on every poll would make polling
    quadratic; episodes are only ever created by the poller, so this index stays complete.
    """

    def __init__(self, table: Table[Episode]) -> None:
        self._table = table
        self._by_feed: dict[str, dict[str, Known]] | None = None
        self._lock = asyncio.Lock()

    async def of_feed(self, feed_id: str) -> dict[str, Known]:
        """identity -> Known for one feed (a live dict: `remember` updates it)."""
        if self._by_feed is None:
            async with self._lock:
                if self._by_feed is None:
                    by_feed: dict[str, dict[str, Known]] = {}
                    for episode in await self._table.all():
                        by_feed.setdefault(episode.feed_id, {})[episode.identity] = _known(episode)
                    self._by_feed = by_feed
        return self._by_feed.setdefault(feed_id, {})

    def remember(self, episode: Episode | ParsedEpisode, feed_id: str, identity: str) -> None:
        """Record a stored (or updated) episode."""
        if self._by_feed is not None:
            self._by_feed.setdefault(feed_id, {})[identity] = _known(episode)

    def forget_feed(self, feed_id: str) -> None:
        """Drop a removed feed."""
        if self._by_feed is not None:
            self._by_feed.pop(feed_id, None)


def _known(episode: Episode | ParsedEpisode) -> Known:
    return Known(Fingerprint.of(episode), metadata_hash(episode))
