"""Adding feeds and polling them: conditional GETs, new-episode detection, backoff, redirects."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from core.config import Settings
from core.errors import DiskFullError, FeedParseError, FetchError, HttpStatusError, NotFoundError, StoreError
from core.feeds.back_catalogue import first_poll_queue, queue_episode, requeue_candidates
from core.feeds.episodes import KnownEpisodes, metadata_hash, new_episode, updated_episode
from core.feeds.fetching import Fetched, fetch_feed, is_private, status_sentence
from core.feeds.fields import web_scheme
from core.feeds.identity import assign_identities
from core.feeds.local import is_web_url, local_path
from core.feeds.parse import parse_feed
from core.feeds.timing import backoff_delay, poll_interval, retry_after_delay
from core.ids import episode_id_for, feed_id_for
from core.models import Episode, EpisodeState, Feed, FeedStatus, ParsedEpisode, ParsedFeed
from core.netguard import check_url
from core.ports import Change, Clock, Fetcher, Store
from core.store.tables import Table

log = logging.getLogger(__name__)

# PollReport.status values
UPDATED = "updated"  # body parsed (new_episodes may be empty)
NOT_MODIFIED = "not_modified"  # 304: nothing downloaded or parsed
UNCHANGED = "unchanged"  # same bytes as last time: nothing parsed
GONE = "gone"  # 410: never polled again
RATE_LIMITED = "rate_limited"  # 429: next poll after Retry-After
FAILED = "failed"  # network, HTTP or parse failure: backing off
SKIPPED = "skipped"  # not polled: gone or removed meanwhile

# Items dated this long before the subscription are back catalogue when they first show up
# (publishers backdate new episodes by days, rarely by more than a week).
BACK_CATALOGUE_GRACE = timedelta(days=7)


@dataclass(frozen=True)
class PollReport:
    """The outcome of polling one feed."""

    feed: Feed
    new_episodes: list[Episode] = field(default_factory=list)
    status: str = UPDATED
    error: str = ""


class FeedPoller:
    """Adds feeds, polls them, and stores the episodes they list; the only creator of episodes."""

    def __init__(self, fetcher: Fetcher, store: Store, clock: Clock, settings: Settings) -> None:
        self._fetcher = fetcher
        self._clock = clock
        self._settings = settings
        self._feeds: Table[Feed] = Table(store, "feeds", Feed)
        self._episodes: Table[Episode] = Table(store, "episodes", Episode)
        self._store = store
        self._known = KnownEpisodes(self._episodes)
        self._locks: dict[str, asyncio.Lock] = {}
        self._settings_applied = False  # back catalogue re-checked against the settings once

    # --- public API ---------------------------------------------------------------

    async def add_feed(self, url: str, *, origin: str = "user") -> tuple[Feed, list[Episode]]:
        """Fetch, parse and store a feed; its recent episodes are queued (NEW), older ones skipped.

        Returns the feed and the episodes this call stored, newest first; a feed that is
        already known comes back unchanged with an empty list.
        """
        url = web_scheme(url)  # an itpc:// or pcast:// link from a podcast's page is its http:// feed
        fetch_location = self._validated_location(url, origin)
        feed_id = feed_id_for(url)
        async with self._lock_for(feed_id):
            existing = await self._find_existing(feed_id, fetch_location)
            if existing is not None:
                return existing, []
            now = self._clock.now()
            draft = Feed(id=feed_id, url=fetch_location, origin=origin, added_at=now,
                         private=is_private(fetch_location))
            fetched = await fetch_feed(self._fetcher, draft, self._settings.http.feed_max_bytes,
                                       conditional=False, now=now)
            if fetched.status != 200 or fetched.body is None:
                raise HttpStatusError(status_sentence(fetched.status), fetched.status)
            parsed = await asyncio.to_thread(parse_feed, fetched.body, fetched.base_url,
                                             max_items=self._settings.feeds.max_items, label=feed_id)
            feed = self._after_success(draft, fetched, parsed, now)
            episodes = self._first_episodes(feed.id, parsed, now)
            await self._store.apply(
                [self._feeds.change(feed)] + self._episodes.changes(episodes)
            )
            self._known.forget_feed(feed.id)  # a feed the daily prune forgot may linger in the index
            for ep in episodes:
                self._known.remember(ep, feed.id, ep.identity)
            log.info("feed %s added (%s): %d episodes, %d queued", feed.id, origin,
                     len(episodes), sum(e.state == EpisodeState.NEW for e in episodes))
            return feed, episodes

    async def poll(self, feed: Feed) -> PollReport:
        """Poll one feed once: conditional GET, parse only when the body changed, store news."""
        async with self._lock_for(feed.id):
            current = await self._feeds.get(feed.id)
            if current is None or current.status == FeedStatus.GONE:
                return PollReport(current or feed, status=SKIPPED)
            try:
                return await self._poll_locked(current)
            except (FetchError, FeedParseError) as exc:
                return await self._record_failure(current, str(exc))
            except StoreError:
                raise
            except Exception as exc:  # a bug on one feed's content must not make it hammered
                log.exception("feed %s: unexpected error while polling", feed.id)
                return await self._record_failure(
                    current, f"Castfive could not process this feed ({type(exc).__name__}).")

    async def poll_due(self, limit_concurrency: int = 16) -> list[PollReport]:
        """Poll every active feed whose next poll is due, a bounded number at a time."""
        if not self._settings_applied:
            self._settings_applied = True
            await self.requeue_back_catalogue()
        now = self._clock.now()
        due = [f for f in await self._feeds.all() if f.poll_is_due(now)]
        gate = asyncio.Semaphore(max(1, limit_concurrency))

        async def guarded(feed: Feed) -> PollReport:
            async with gate:
                try:
                    return await self.poll(feed)
                except DiskFullError:
                    raise  # every feed would fail alike: one error for the caller, not a hundred
                except Exception as exc:  # one broken feed must never stop the others
                    log.exception("feed %s: poll crashed", feed.id)
                    reason = f"Internal error: {type(exc).__name__}"
                    return PollReport(feed, status=FAILED, error=reason)

        return list(await asyncio.gather(*(guarded(f) for f in due)))

    async def remove_feed(self, feed_id: str) -> None:
        """Stop following a feed: the feed and its episodes are deleted."""
        async with self._lock_for(feed_id):
            feed = await self._feeds.get(feed_id)
            if feed is None:
                raise NotFoundError(f"There is no feed with the id {feed_id!r}.")
            known = await self._known.of_feed(feed_id)
            changes = [Change("feeds", feed_id, None)]
            changes += [Change("episodes", ep_id, None) for ep_id in
                        (self._episode_id(feed_id, identity) for identity in known)]
            await self._store.apply(changes)
            self._known.forget_feed(feed_id)
            log.info("feed %s removed with %d episodes", feed_id, len(known))

    async def set_polled(self, feed_id: str, polled: bool) -> None:
        """Poll a feed again (ACTIVE) or stop polling it (IDLE); a gone feed stays gone."""
        async with self._lock_for(feed_id):  # the same lock as a poll, so no poll writes back ACTIVE
            feed = await self._feeds.get(feed_id)
            if feed is None or feed.status == FeedStatus.GONE:
                return
            status = FeedStatus.ACTIVE if polled else FeedStatus.IDLE
            if feed.status != status:
                await self._feeds.put(dataclasses.replace(feed, status=status))
                log.info("feed %s %s", feed_id,
                         "polled again" if polled else "followed by nobody: not polled")

    async def list_feeds(self) -> list[Feed]:
        """Every stored feed, by title."""
        return sorted(await self._feeds.all(), key=lambda f: (f.title.casefold(), f.id))

    # --- polling ------------------------------------------------------------------

    async def _poll_locked(self, feed: Feed) -> PollReport:
        now = self._clock.now()
        fetched = await fetch_feed(self._fetcher, feed, self._settings.http.feed_max_bytes,
                                   conditional=True, now=now)
        if fetched.status == 304:
            done = self._after_success(feed, fetched, None, now)
            await self._feeds.put(done)
            return PollReport(done, status=NOT_MODIFIED)
        if fetched.status == 410:
            gone = dataclasses.replace(feed, status=FeedStatus.GONE, last_polled_at=now,
                                       next_poll_at=None, last_error=status_sentence(410))
            await self._feeds.put(gone)
            log.warning("feed %s answered 410 Gone: no longer polled", feed.id)
            return PollReport(gone, status=GONE, error=gone.last_error)
        if fetched.status == 429:
            return await self._record_failure(feed, status_sentence(429), fetched.retry_after,
                                              status=RATE_LIMITED)
        if fetched.status != 200 or fetched.body is None:
            return await self._record_failure(feed, status_sentence(fetched.status))
        if fetched.digest == feed.content_hash:
            done = self._after_success(feed, fetched, None, now)
            await self._feeds.put(done)
            return PollReport(done, status=UNCHANGED)
        parsed = await asyncio.to_thread(parse_feed, fetched.body, fetched.base_url,
                                         max_items=self._settings.feeds.max_items, label=feed.id)
        done = self._after_success(feed, fetched, parsed, now)
        fresh, updates = await self._new_and_updated(done, parsed, now)
        stored = fresh + [episode for episode, _ in updates]
        await self._store.apply([self._feeds.change(done)] + self._episodes.changes(stored))
        for ep in fresh:
            self._known.remember(ep, feed.id, ep.identity)
        for episode, source in updates:
            # Remember what the feed says, so a field we chose not to copy (the audio URL of a
            # processed episode) does not trigger the same rewrite on every poll.
            self._known.remember(source, feed.id, episode.identity)
        if fresh or updates:
            log.info("feed %s: %d new, %d updated episodes", feed.id, len(fresh), len(updates))
        return PollReport(done, new_episodes=fresh, status=UPDATED)

    async def _new_and_updated(
        self, feed: Feed, parsed: ParsedFeed, now: datetime
    ) -> tuple[list[Episode], list[tuple[Episode, ParsedEpisode]]]:
        known = await self._known.of_feed(feed.id)
        pairs = assign_identities(parsed.episodes, {k: v.fingerprint for k, v in known.items()})
        cutoff = (feed.added_at or now) - BACK_CATALOGUE_GRACE
        fresh: list[Episode] = []
        updates: list[tuple[Episode, ParsedEpisode]] = []
        for identity, ep in pairs:
            seen = known.get(identity)
            if seen is None:
                # Items dated before the subscription surfacing now (a host migration that
                # changed every guid) are back catalogue: recorded, never queued.
                old = ep.published_at is not None and ep.published_at < cutoff
                state = EpisodeState.SKIPPED if old else EpisodeState.NEW
                fresh.append(new_episode(feed.id, identity, ep, state, now))
            elif seen.meta != metadata_hash(ep):
                stored = await self._episodes.get(self._episode_id(feed.id, identity))
                if stored is not None:
                    updates.append((updated_episode(stored, ep), ep))
        return fresh, updates

    def _first_episodes(self, feed_id: str, parsed: ParsedFeed, now: datetime) -> list[Episode]:
        items = assign_identities(parsed.episodes)
        queued = first_poll_queue([ep.published_at for _, ep in items], now, self._settings)
        return [
            new_episode(feed_id, identity, ep,
                        EpisodeState.NEW if index in queued else EpisodeState.SKIPPED, now)
            for index, (identity, ep) in enumerate(items)
        ]

    async def requeue_back_catalogue(self) -> list[Episode]:
        """Queue skipped episodes that today's settings would have queued when their feed was
        added, so raising `feeds.new_feed_max_episodes` or the lookback brings them back."""
        by_feed: dict[str, list[Episode]] = {}
        for ep in await self._episodes.all():
            by_feed.setdefault(ep.feed_id, []).append(ep)
        requeued: list[Episode] = []
        for feed in await self._feeds.all():
            if feed.added_at is not None and feed.status == FeedStatus.ACTIVE:
                requeued += requeue_candidates(by_feed.get(feed.id, []), feed.added_at,
                                               self._settings)
        if requeued:
            await self._store.apply(self._episodes.changes(requeued))
            log.info("%d back-catalogue episodes queued under the current settings", len(requeued))
        return requeued

    async def queue_episode(self, episode_id: str) -> Episode:
        """Queue one back-catalogue (or failed) episode for processing now."""
        stored = await self._episodes.get(episode_id)
        if stored is None:
            raise NotFoundError(f"There is no episode with the id {episode_id!r}.")
        queued = queue_episode(stored)
        if queued is not stored:
            await self._episodes.put(queued)
            log.info("episode %s queued by hand (was %s)", episode_id, stored.state)
        return queued

    def _after_success(
        self, feed: Feed, fetched: Fetched, parsed: ParsedFeed | None, now: datetime
    ) -> Feed:
        """The feed after a good answer: validators, schedule, failures reset, moves applied."""
        etag, last_modified = fetched.etag, fetched.last_modified
        if fetched.status == 304:  # a 304 need not repeat the validators: keep ours
            etag, last_modified = etag or feed.etag, last_modified or feed.last_modified
        changes: dict[str, object] = {
            "etag": etag,
            "last_modified": last_modified,
            "last_polled_at": now,
            "next_poll_at": now + poll_interval(self._settings.feeds),
            "failures": 0,
            "last_error": "",
        }
        if parsed is not None:
            changes["content_hash"] = fetched.digest
            changes.update(title=parsed.title or feed.title, site_url=parsed.site_url or feed.site_url,
                           image_url=parsed.image_url or feed.image_url)
        new_url = fetched.permanent_url
        if parsed is not None and parsed.new_feed_url and is_web_url(feed.url):
            new_url = self._moved_to(feed, parsed.new_feed_url) or new_url
        if new_url and new_url != feed.url:
            log.info("feed %s moved permanently; following", feed.id)
            changes.update(url=new_url, private=is_private(new_url))
            if new_url != fetched.permanent_url:  # validators belong to the old address
                changes.update(etag=None, last_modified=None)
        return dataclasses.replace(feed, **changes)  # type: ignore[arg-type]

    def _moved_to(self, feed: Feed, new_feed_url: str) -> str | None:
        """itunes:new-feed-url, if it is an http(s) URL we may fetch (the fetcher checks hosts)."""
        try:
            return check_url(new_feed_url)
        except FetchError:
            log.info("feed %s: ignoring an unusable itunes:new-feed-url", feed.id)
            return None

    async def _record_failure(
        self, feed: Feed, reason: str, retry_after: timedelta | None = None,
        status: str = FAILED,
    ) -> PollReport:
        now = self._clock.now()
        failures = feed.failures + 1
        settings = self._settings.feeds
        delay = (retry_after_delay(settings, retry_after) if retry_after is not None
                 else backoff_delay(settings, failures))
        failed = dataclasses.replace(feed, failures=failures, last_error=reason,
                                     last_polled_at=now, next_poll_at=now + delay)
        await self._feeds.put(failed)
        log.warning("feed %s: poll failed (%d in a row, next in %s): %s", feed.id, failures,
                    delay, reason)
        return PollReport(failed, status=status, error=reason)

    # --- helpers ----------------------------------------------------------------------

    @staticmethod
    def _validated_location(url: str, origin: str) -> str:
        """The URL (or, for the operator, the absolute file path) to fetch the feed from."""
        if origin not in ("user", "operator"):
            raise ValueError(f"unknown feed origin {origin!r}")
        if origin == "user" or is_web_url(url):
            return check_url(url)
        return str(local_path(url))

    async def _find_existing(self, feed_id: str, location: str) -> Feed | None:
        existing = await self._feeds.get(feed_id)
        if existing is not None:
            return existing
        return next((f for f in await self._feeds.all() if f.url == location), None)

    def _lock_for(self, feed_id: str) -> asyncio.Lock:
        return self._locks.setdefault(feed_id, asyncio.Lock())

    @staticmethod
    def _episode_id(feed_id: str, identity: str) -> str:
        return episode_id_for(feed_id, identity)

