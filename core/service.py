"""The one service API both chat adapters call: subscriptions, feeds, digests, questions."""

from __future__ import annotations

import dataclasses
import logging
import time
from datetime import datetime, timedelta

from core.access import OPERATOR, Reader, may_read
from core.cadence import ScheduleChange
from core.catalogue import catalogue_feed_ids
from core.chat_cooldown import ChatCooldown
from core.config import Settings
from core.delivery.ratelimit import UserRateLimiter
from core.delivery.schedule import local_day_of, next_delivery
from core.delivery.service import DeliveryService
from core.delivery.subscriptions import deactivate, migrate, require_subscriber, subscriber_id_for
from core.digests import Catalog, DigestBuilder, item_for
from core.errors import (
    LimitReachedError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ValidationError,
)
from core.feed_export import OpmlExport, export_feeds
from core.feeds.opml import parse_opml
from core.feeds.poller import FeedPoller
from core.feeds.search import search_podcasts
from core.ids import feed_id_for
from core.library.service import LibraryService
from core.miss_limit import MissLimiter
from core.models import Answer, Digest, DigestItem, Feed, FeedStatus, Insight, Subscriber, Turn
from core.opml_import import FollowSteps, ImportLimits, import_feeds
from core.ports import AddFeedResult, Clock, Embedder, Fetcher, ImportResult, MessageRef
from core.preferences import Preferences
from core.qa import Answerer
from core.ranking import apply_feedback
from core.store.blobs import load_transcript
from core.store.repos import Conversation, MessageLink, MessageState, Repos, SearchChoice, ledger_key
from core.timeutil import parse_hhmm, parse_zone, zone_names

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 500
MAX_TURNS_KEPT = 6
MAX_OPML_BYTES = 1024 * 1024


class CastfiveService:
    """Implements core.ports.CastfiveApi over the store, poller, delivery and answerer."""

    def __init__(
        self,
        repos: Repos,
        clock: Clock,
        settings: Settings,
        poller: FeedPoller,
        fetcher: Fetcher,
        delivery: DeliveryService,
        builder: DigestBuilder,
        answerer: Answerer,
        embedder: Embedder | None = None,
        *,
        library: LibraryService,
    ) -> None:
        self.repos = repos
        self.library = library  # search and export: core/library/
        self.clock = clock
        self.settings = settings
        self.poller = poller
        self.fetcher = fetcher
        self.delivery = delivery
        self.builder = builder
        self.answerer = answerer
        self._questions = UserRateLimiter(settings.delivery.question_limit_per_hour, 3600.0)
        self._misses = MissLimiter(clock)  # unknown or foreign ids: a tighter allowance
        self._today_posts = ChatCooldown(clock)  # /today in shared chats, once an hour
        # PTB and discord.py run commands concurrently: every read-modify-write of one subscriber
        # (and every "is this feed still followed" decision, keyed "feed:<id>") holds its lock
        self._locks = delivery.locks  # shared: delivery outcomes write subscribers too
        self._preferences = Preferences(repos, self._locks, embedder)  # cadence and topics

    # --- subscriptions -----------------------------------------------------------------

    async def subscribe(
        self, platform: str, chat_id: str, title: str = "", *, timezone: str | None = None,
        delivery_time: str | None = None,
    ) -> Subscriber:
        """Subscribe a chat with defaults, or reactivate it; idempotent."""
        subscriber_id = subscriber_id_for(platform, chat_id)
        zone = _checked_zone(timezone) if timezone else None
        hhmm = _checked_time(delivery_time) if delivery_time else None
        async with self._locks.hold(subscriber_id):
            return await self._subscribe_locked(subscriber_id, platform, chat_id, title, zone, hhmm)

    async def _subscribe_locked(
        self, subscriber_id: str, platform: str, chat_id: str, title: str, zone: str | None,
        hhmm: str | None,
    ) -> Subscriber:
        existing = await self.repos.subscribers.get(subscriber_id)
        if existing is not None:
            updated = dataclasses.replace(
                existing, active=True, paused=False, consecutive_gone=0, title=title or existing.title,
                timezone=zone or existing.timezone, delivery_time=hhmm or existing.delivery_time,
            )
        else:
            updated = Subscriber(
                id=subscriber_id, platform=platform, chat_id=chat_id, title=title,
                delivery_time=hhmm or self.settings.delivery.default_time,
                timezone=zone or self.settings.delivery.default_timezone,
                created_at=self.clock.now(),
            )
        await self.repos.subscribers.put(updated)
        log.info("subscribed subscriber=%s", subscriber_id)
        return updated

    async def unsubscribe(self, subscriber_id: str) -> None:
        """Stop deliveries to the chat (it can /start again)."""
        async with self._locks.hold(subscriber_id):
            await deactivate(self.repos, subscriber_id, "unsubscribed")

    async def get_subscriber(self, subscriber_id: str) -> Subscriber | None:
        """The subscriber, or None."""
        return await self.repos.subscribers.get(subscriber_id)

    async def set_schedule(self, subscriber_id: str, change: ScheduleChange) -> Subscriber:
        """Change any of time, zone and cadence (daily, weekdays, weekly on a day)."""
        return await self._preferences.set_schedule(subscriber_id, dataclasses.replace(
            change, hhmm=change.hhmm and _checked_time(change.hhmm),
            timezone=change.timezone and _checked_zone(change.timezone)))

    async def set_topics(self, subscriber_id: str, text: str) -> Subscriber:
        """Set the chat's topics ('ai, energy, startups'): the digest leans towards them."""
        return await self._preferences.set_topics(subscriber_id, text)

    async def clear_topics(self, subscriber_id: str) -> Subscriber:
        """Forget the chat's topics."""
        return await self._preferences.clear_topics(subscriber_id)

    async def pause(self, subscriber_id: str) -> Subscriber:
        """Hold deliveries until resumed."""
        return await self._set_paused(subscriber_id, True)

    async def resume(self, subscriber_id: str) -> Subscriber:
        """Deliver again."""
        return await self._set_paused(subscriber_id, False)

    async def _set_paused(self, subscriber_id: str, paused: bool) -> Subscriber:
        async with self._locks.hold(subscriber_id):
            subscriber = await require_subscriber(self.repos, subscriber_id)
            updated = dataclasses.replace(subscriber, paused=paused)
            await self.repos.subscribers.put(updated)
        return updated

    async def next_delivery(self, subscriber_id: str) -> datetime:
        """When the next digest goes out, in the subscriber's zone."""
        subscriber = await require_subscriber(self.repos, subscriber_id)
        now = self.clock.now()
        today = local_day_of(now, subscriber.timezone).isoformat()
        delivered = await self.repos.ledger.get(ledger_key(subscriber_id, today)) is not None
        return next_delivery(subscriber, now, delivered)

    async def recipient_gone(self, subscriber_id: str, reason: str) -> None:
        """The chat removed or blocked the bot: deactivate now."""
        async with self._locks.hold(subscriber_id):
            await deactivate(self.repos, subscriber_id, reason)

    async def migrate(self, subscriber_id: str, new_chat_id: str) -> Subscriber:
        """The chat moved to a new id (Telegram group upgraded to supergroup)."""
        async with self._locks.hold(subscriber_id):
            subscriber = await require_subscriber(self.repos, subscriber_id)
            moved = await migrate(self.repos, subscriber, new_chat_id)
        self.delivery.history.move(subscriber_id, moved.id)
        return moved

    # --- feeds -----------------------------------------------------------------------------

    async def list_feeds(self, subscriber_id: str) -> list[Feed]:
        """The feeds this subscriber follows."""
        subscriber = await require_subscriber(self.repos, subscriber_id)
        ids = await self._feed_ids(subscriber)
        feeds = [await self.repos.feeds.get(i) for i in ids]
        return [f for f in feeds if f is not None]

    async def add_feed(self, subscriber_id: str, url_or_terms: str) -> AddFeedResult:
        """Follow a feed by URL, or search podcasts by words and offer the results."""
        subscriber = await require_subscriber(self.repos, subscriber_id)
        if not self.settings.feeds.users_may_add_feeds:
            raise PermissionDeniedError(
                "This Castfive only follows its operator's shows; adding feeds is off.")
        text = url_or_terms.strip()
        if not text:
            raise ValidationError("Send a feed URL or a few words to search for, e.g. /add hard fork")
        if text.lower().startswith(("http://", "https://")) or "://" in text:
            return AddFeedResult(feed=await self._follow(subscriber.id, text))
        results = await search_podcasts(self.fetcher, self.settings.feeds.search_url, text[:100])
        now = self.clock.now()
        await self.repos.store.apply(
            self.repos.search_choices.changes(SearchChoice(subscriber_id, r, now) for r in results)
        )
        return AddFeedResult(candidates=tuple(results))

    async def add_search_choice(self, subscriber_id: str, choice_id: str) -> Feed:
        """Follow a podcast picked from earlier search results."""
        subscriber = await require_subscriber(self.repos, subscriber_id)
        choice = await self.repos.search_choices.get(f"{subscriber_id}|{choice_id}")
        if choice is None:
            raise NotFoundError("That search result has expired: search again with /add.")
        return await self._follow(subscriber.id, choice.result.feed_url)

    async def _follow(self, subscriber_id: str, url: str) -> Feed:
        # a cheap early answer without fetching; the check that counts is the one under the lock
        self._check_limit(await self._feed_ids(await require_subscriber(self.repos, subscriber_id)))
        feed, _ = await self.poller.add_feed(url, origin="user")  # network: never under the lock
        await self._follow_fetched(subscriber_id, feed)
        return feed

    async def _follow_fetched(self, subscriber_id: str, feed: Feed) -> bool:
        """Follow a stored feed; False when it was already followed."""
        try:
            async with self._locks.hold(subscriber_id):
                subscriber = await require_subscriber(self.repos, subscriber_id)
                ids = await self._feed_ids(subscriber)
                if feed.id in ids:
                    return False
                self._check_limit(ids)
                await self.repos.subscribers.put(
                    dataclasses.replace(subscriber, feed_ids=(*ids, feed.id)))
        finally:  # followed or refused, the feed is polled exactly when somebody follows it
            await self._sync_polling(feed.id, restore=feed)
        log.info("feed followed subscriber=%s feed=%s", subscriber_id, feed.id)
        return True

    def _check_limit(self, ids: tuple[str, ...]) -> None:
        if len(ids) >= self.settings.feeds.max_feeds_per_subscriber:
            raise LimitReachedError(
                f"You follow {len(ids)} shows, the most allowed here; remove one first."
            )

    async def _sync_polling(self, feed_id: str, restore: Feed | None = None) -> None:
        """Poll a user feed while a subscriber follows it; operator feeds are always polled.

        `restore`: the feed as a follow fetched it, stored again if the daily prune forgot it
        in between (a follower must never point at a feed that is not there).
        """
        # serialised per feed and decided from what is stored, so the last decision sees every write
        async with self._locks.hold(f"feed:{feed_id}"):
            feed = await self.repos.feeds.get(feed_id)
            followed: bool | None = None
            if feed is None and restore is not None and (followed := await self._followed(feed_id)):
                feed = restore
                await self.repos.feeds.put(feed)
                log.info("feed stored again: followed while the prune forgot it feed=%s", feed_id)
            if feed is None or feed.origin == "operator" or feed.status == FeedStatus.GONE:
                return
            if feed_id in catalogue_feed_ids(self.settings):  # added by a user before the operator
                return
            await self.poller.set_polled(feed_id, followed if followed is not None
                                         else await self._followed(feed_id))

    async def _followed(self, feed_id: str) -> bool:
        """Whether any subscriber follows the feed (read from the documents: nothing converted)."""
        docs = await self.repos.store.all(self.repos.subscribers.name)
        return any(feed_id in (d.get("feed_ids") or ()) for d in docs)

    async def remove_feed(self, subscriber_id: str, feed_id: str) -> None:
        """Stop following a feed; a user feed nobody follows any more stops being polled."""
        async with self._locks.hold(subscriber_id):
            subscriber = await require_subscriber(self.repos, subscriber_id)
            ids = await self._feed_ids(subscriber)
            if feed_id not in ids:
                raise NotFoundError("You do not follow that show.")
            await self.repos.subscribers.put(
                dataclasses.replace(subscriber, feed_ids=tuple(i for i in ids if i != feed_id))
            )
        await self._sync_polling(feed_id)

    async def import_opml(self, subscriber_id: str, data: bytes) -> ImportResult:
        """Follow the feeds of an OPML file: at most the remaining allowance, within the time budget."""
        subscriber = await require_subscriber(self.repos, subscriber_id)
        if not self.settings.feeds.users_may_add_feeds:
            raise PermissionDeniedError(
                "This Castfive only follows its operator's shows; adding feeds is off.")
        if len(data) > MAX_OPML_BYTES:
            raise ValidationError("That OPML file is too large (over 1 MiB).")
        entries = parse_opml(data)
        followed = await self._feed_ids(subscriber)
        cfg = self.settings.feeds
        limits = ImportLimits(cfg.max_feeds_per_subscriber - len(followed), cfg.import_concurrency,
                              cfg.import_time_budget_s)
        steps = FollowSteps(
            fetch=self._fetch_user_feed,
            follow=lambda feed: self._follow_fetched(subscriber_id, feed),
            abandon=lambda url: self._sync_polling(feed_id_for(url)),
        )
        return await import_feeds(entries, followed, limits, steps)

    async def _fetch_user_feed(self, url: str) -> Feed:
        feed, _ = await self.poller.add_feed(url, origin="user")
        return feed

    async def export_opml(self, subscriber_id: str, *, private_chat: bool = False) -> OpmlExport:
        """The subscriber's feeds as OPML; private addresses whole only in a private chat."""
        return export_feeds(await self.list_feeds(subscriber_id), private_chat=private_chat)

    async def _feed_ids(self, subscriber: Subscriber) -> tuple[str, ...]:
        if subscriber.feed_ids is not None:
            return subscriber.feed_ids
        feeds = await self.repos.feeds.all()
        return tuple(f.id for f in feeds if f.origin == "operator")

    # --- digests -------------------------------------------------------------------------------

    async def today(self, subscriber_id: str, *, shared_chat: bool = False) -> Digest:
        """Today's digest now: chosen once per local day and recorded, so the schedule skips it.

        In a shared chat (group, server channel) it is handed out once an hour; sooner, a
        PostedRecentlyError points at the last post (see `note_today_post`)."""
        subscriber = await require_subscriber(self.repos, subscriber_id)
        # claimed before the next await, so of a burst of calls exactly one posts
        with self._today_posts.turn(subscriber_id, shared=shared_chat) as turn:
            local_date = local_day_of(self.clock.now(), subscriber.timezone).isoformat()
            catalog = await self.builder.load_catalog()
            entry = await self.delivery.choose(subscriber, local_date, catalog, on_request=True)
            if entry.on_request and not entry.finished:
                sent = tuple(dataclasses.replace(m, state=MessageState.SENT) for m in entry.messages)
                await self.repos.ledger.put(dataclasses.replace(entry, messages=sent, finished=True))
            digest = self.delivery.digest_of(entry, catalog)
            if not digest.items:
                turn.give_back()  # nothing posted: the next call may look again
                if not await self._feed_ids(subscriber):
                    digest = dataclasses.replace(digest, follows_nothing=True)
        return digest

    async def note_today_post(self, subscriber_id: str, message_id: str) -> None:
        """The first message of a /today post in a shared chat: later calls are pointed at it."""
        self._today_posts.note_post(subscriber_id, message_id)

    async def today_not_posted(self, subscriber_id: str) -> None:
        """The /today post failed before its first message: the chat may ask again at once."""
        self._today_posts.release(subscriber_id)

    async def recent_insights(self, subscriber_id: str, prefix: str = "") -> list[DigestItem]:
        """Insights recently sent to the subscriber, newest first (for autocomplete)."""
        catalog = await self.builder.load_catalog()
        sent = self.delivery.history.sent_ids(subscriber_id)
        ids = sorted(sent, key=lambda i: sent[i], reverse=True)
        return [
            item_for(catalog.insights[i], catalog)
            for i in ids
            if i in catalog.insights and i.startswith(prefix.strip().lower())
        ][:25]

    async def insight_item(self, insight_id: str, *, reader: Reader,
                           user_key: str | None = None) -> DigestItem:
        """One insight, ready to render (`reader`: the asking chat, or OPERATOR at the CLI;
        `user_key`: the person, whose misses count against their miss allowance)."""
        insight = await self._readable(insight_id, reader, user_key)
        # its own feed and episode, not the whole catalogue: every Ask button comes through here
        feed = await self.repos.feeds.get(insight.feed_id)
        episode = await self.repos.episodes.get(insight.episode_id)
        return item_for(insight, Catalog(feeds={feed.id: feed} if feed else {},
                                         episodes={episode.id: episode} if episode else {},
                                         insights={}, by_feed={}))

    async def _readable(self, insight_id: str, reader: Reader, user_key: str | None = None) -> Insight:
        """The insight if `reader` may see it; otherwise exactly what an unknown id gets, and a
        miss for `user_key` (who, past the miss allowance, is refused whatever the id)."""
        if user_key is not None and (wait := self._misses.wait(user_key)) is not None:
            raise _limited(wait, self.clock)
        insight = await self.repos.insights.get(_clean_id(insight_id))
        if insight is not None and reader is not OPERATOR:
            subscriber = await self.repos.subscribers.get(reader)
            feed = await self.repos.feeds.get(insight.feed_id)
            if not may_read(subscriber, insight, feed, self.delivery.history):
                insight = None
        if insight is None:
            log.info("insight lookup refused or unknown reader=%s", reader)
            if user_key is not None:
                self._misses.record(user_key)
            raise NotFoundError(f"No insight with id {insight_id[:12]!r}.")
        return insight

    async def feedback(self, subscriber_id: str, insight_id: str, vote: int, *,
                       user_key: str | None = None) -> None:
        """Thumbs up or down: shifts the weights of that show and that kind of insight."""
        subscriber = await require_subscriber(self.repos, subscriber_id)
        insight = await self._readable(insight_id, subscriber_id, user_key)
        if vote not in (1, -1):
            raise ValidationError("A vote is +1 or -1.")
        async with self._locks.hold(subscriber_id):  # re-read: a concurrent command may have written
            subscriber = await require_subscriber(self.repos, subscriber_id)
            await self.repos.subscribers.put(apply_feedback(subscriber, insight, vote))

    # --- follow-up questions ---------------------------------------------------------------------

    async def ask(
        self, insight_id: str, question: str, *, user_key: str, conversation_id: str | None = None,
        reader: Reader,
    ) -> Answer:
        """Answer a question about an insight from its episode's transcript (`reader`: the
        asking chat, which must be allowed to read it, or OPERATOR at the CLI)."""
        question = " ".join(question.split())
        if not question:
            raise ValidationError(
                "Ask a question after the insight id, e.g. /ask ab12cd3 why does that matter?")
        if len(question) > MAX_QUESTION_CHARS:
            raise ValidationError(f"Please keep questions under {MAX_QUESTION_CHARS} characters.")
        # The allowance is spent before the lookup, so guessing ids costs the same as asking.
        wait = self._misses.wait(user_key) or self._questions.check(user_key, time.monotonic())
        if wait is not None:
            raise _limited(wait, self.clock)
        insight = await self._readable(insight_id, reader, user_key)
        transcript = await load_transcript(self.repos.store, insight.episode_id)
        if transcript is None:
            raise NotFoundError("The transcript of that episode is no longer available.")
        conversation = await self.repos.conversations.get(conversation_id) if conversation_id else None
        history = conversation.turns if conversation else ()
        episode = await self.repos.episodes.get(insight.episode_id)
        feed = await self.repos.feeds.get(insight.feed_id)
        answer = await self.answerer.answer(
            insight, transcript, question, history,
            show_title=feed.title if feed else "", episode_title=episode.title if episode else "",
        )
        if conversation_id:
            turns = (*history, Turn(question, answer.text))[-MAX_TURNS_KEPT:]
            await self.repos.conversations.put(
                Conversation(conversation_id, insight.id, turns, self.clock.now())
            )
        log.info("question answered insight=%s grounded=%s", insight.id, answer.grounded)
        return answer

    async def remember_message(self, subscriber_id: str, message_id: str, ref: MessageRef) -> None:
        """Note what a sent message was about, so replies to it continue that conversation."""
        await self.repos.messages.put(
            MessageLink(subscriber_id, str(message_id), ref.insight_id, ref.conversation_id)
        )

    async def lookup_message(self, subscriber_id: str, message_id: str) -> MessageRef | None:
        """What a message we sent was about, or None."""
        link = await self.repos.messages.get(f"{subscriber_id}|{message_id}")
        return None if link is None else MessageRef(link.insight_id, link.conversation_id)


def _checked_time(hhmm: str) -> str:
    try:
        return parse_hhmm(hhmm).strftime("%H:%M")
    except ValueError as exc:
        raise ValidationError(f"The time {exc}.") from None


def _checked_zone(name: str) -> str:
    # Only real Area/Location names (plus UTC), matched case-insensitively: the tz database also
    # holds 'posixrules', 'localtime', 'Factory' and legacy aliases that mean nothing to a person.
    # Read afresh each time (about 5 ms): /time is rare, and the other methods of this module are
    # not this helper's to grow module state for.
    canonical = zone_names().get(name.strip().lower())
    if canonical is None:  # the echo is clipped: a long word must not push the reply past a limit
        raise ValidationError(f"The time zone must be a time zone like Europe/Berlin, not {name[:40]!r}.")
    try:
        return parse_zone(canonical).key
    except ValueError as exc:
        raise ValidationError(f"The time zone {exc}.") from None


def _clean_id(insight_id: str) -> str:
    return insight_id.strip().lower()[:16]


def _limited(wait: float, clock: Clock) -> RateLimitedError:
    retry_at = clock.now() + timedelta(seconds=wait)
    return RateLimitedError(f"You have asked a lot this hour; you can ask again in {_minutes(wait)}.",
                            retry_at)


def _minutes(seconds: float) -> str:
    minutes = max(1, round(seconds / 60))
    return "1 minute" if minutes == 1 else f"{minutes} minutes"
