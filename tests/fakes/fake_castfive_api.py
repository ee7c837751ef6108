"""FakeCastfiveApi: the CastfiveApi port in memory, recording every call, for adapter tests."""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from xml.sax.saxutils import quoteattr

from defusedxml import DefusedXmlException, ElementTree

from core.access import Reader
from core.cadence import ScheduleChange, apply_schedule
from core.errors import NotFoundError, RateLimitedError, ValidationError
from core.feed_export import OpmlExport
from core.ids import feed_id_for, insight_id_for
from core.models import (
    Answer,
    Citation,
    Digest,
    DigestItem,
    Feed,
    Insight,
    InsightKind,
    Subscriber,
)
from core.ports import AddFeedResult, Clock, ImportResult, MessageRef, SearchResult
from core.timeutil import parse_hhmm, parse_zone
from core.topics import parse_topics
from tests.fakes.clock import FakeClock

CATALOGUE = (
    SearchResult("s1", "Hard Fork", "The New York Times", "https://feeds.example.org/hardfork.xml"),
    SearchResult("s2", "Lex Fridman Podcast", "Lex Fridman", "https://lexfridman.example.org/feed"),
    SearchResult("s3", "Hardcore History", "Dan Carlin", "https://feeds.example.org/dchh.xml"),
)


def make_item(n: int, total: int = 5, *, show: str = "Hard Fork", text: str | None = None,
              quote: str | None = None) -> DigestItem:
    """A realistic digest item number `n` of `total`."""
    episode_id = f"e{n:09d}"
    quote = quote or f"Honestly the number that surprised me most was {n * 17} percent."
    insight = Insight(
        id=insight_id_for(episode_id, 60.0 * n, quote), episode_id=episode_id,
        feed_id=feed_id_for(f"https://feeds.example.org/{n}.xml"),
        text=text or f"Insight {n}: batteries got {n * 17}% cheaper in two years.",
        quote=quote, start=60.0 * n + 12, end=60.0 * n + 30, kind=InsightKind.DATA, score=0.8,
    )
    return DigestItem(insight=insight, show_title=show, episode_title=f"Episode {100 + n}",
                      moment_url=f"https://cdn.example.org/ep{n}.mp3#t={int(insight.start)}",
                      page_url=f"https://example.org/episodes/{n}", position=n, total=total)


@dataclass
class FakeCastfiveApi:
    """Every CastfiveApi method over dicts; `calls` records (method, kwargs) in order."""

    clock: Clock = field(default_factory=FakeClock)
    questions_per_hour: int | None = None  # None: no limit
    answer_text: str | None = None  # scripted answer body; default echoes the question
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    subscribers: dict[str, Subscriber] = field(default_factory=dict)
    feeds: dict[str, Feed] = field(default_factory=dict)
    items: dict[str, DigestItem] = field(default_factory=dict)
    messages: dict[tuple[str, str], MessageRef] = field(default_factory=dict)
    votes: list[tuple[str, str, int]] = field(default_factory=list)
    asked: dict[str, list[datetime]] = field(default_factory=dict)
    gone: list[tuple[str, str]] = field(default_factory=list)
    digest: list[DigestItem] = field(default_factory=list)

    def __post_init__(self) -> None:
        for n in range(1, 6):
            self.add_item(make_item(n))

    # --- helpers for tests ----------------------------------------------------------------

    def add_item(self, item: DigestItem) -> DigestItem:
        """Make an insight known and part of today's digest."""
        self.items[item.insight.id] = item
        self.digest.append(item)
        return item

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        """The arguments of every call to `method`, in order."""
        return [args for name, args in self.calls if name == method]

    async def wait_for_calls(self, method: str, count: int = 1, *,
                             timeout: float = 5.0) -> list[dict[str, Any]]:
        """The calls to `method` once there are at least `count` (handlers run concurrently)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(calls := self.calls_to(method)) < count:
            if loop.time() > deadline:
                raise AssertionError(f"{len(calls)} calls to {method} within {timeout}s, not {count}")
            await asyncio.sleep(0.01)
        return calls

    def _record(self, method: str, **kwargs: Any) -> None:
        self.calls.append((method, kwargs))

    def _sub(self, subscriber_id: str) -> Subscriber:
        sub = self.subscribers.get(subscriber_id)
        if sub is None or not sub.active:
            raise NotFoundError("This chat is not subscribed yet. Send /start first.")
        return sub

    def _update(self, sub: Subscriber, **changes: Any) -> Subscriber:
        self.subscribers[sub.id] = new = dataclasses.replace(sub, **changes)
        return new

    def _feed_from_url(self, url: str, title: str = "") -> Feed:
        feed = Feed(id=feed_id_for(url), url=url, title=title or url.split("//", 1)[-1][:40],
                    added_at=self.clock.now())
        self.feeds[feed.id] = feed
        return feed

    def _follow(self, sub: Subscriber, feed: Feed) -> None:
        ids = tuple(sub.feed_ids or ())
        if feed.id not in ids:
            self._update(sub, feed_ids=ids + (feed.id,))

    # --- subscribers ------------------------------------------------------------------------

    async def subscribe(self, platform: str, chat_id: str, title: str = "", *,
                        timezone: str | None = None, delivery_time: str | None = None) -> Subscriber:
        self._record("subscribe", platform=platform, chat_id=chat_id, title=title,
                     timezone=timezone, delivery_time=delivery_time)
        sub_id = f"{platform}:{chat_id}"
        old = self.subscribers.get(sub_id)
        if old is not None:
            return self._update(old, active=True, title=title or old.title)
        sub = Subscriber(id=sub_id, platform=platform, chat_id=chat_id, title=title,
                         delivery_time=delivery_time or "08:00", timezone=timezone or "UTC",
                         created_at=self.clock.now())
        self.subscribers[sub_id] = sub
        return sub

    async def unsubscribe(self, subscriber_id: str) -> None:
        self._record("unsubscribe", subscriber_id=subscriber_id)
        self._update(self._sub(subscriber_id), active=False)

    async def get_subscriber(self, subscriber_id: str) -> Subscriber | None:
        self._record("get_subscriber", subscriber_id=subscriber_id)
        return self.subscribers.get(subscriber_id)

    async def set_schedule(self, subscriber_id: str, change: ScheduleChange) -> Subscriber:
        self._record("set_schedule", subscriber_id=subscriber_id, change=change)
        sub = self._sub(subscriber_id)
        try:
            hhmm = change.hhmm and f"{parse_hhmm(change.hhmm):%H:%M}"
            zone = change.timezone and parse_zone(change.timezone).key
        except ValueError as exc:
            raise ValidationError(f"The time {exc}.") from None
        return self._update(apply_schedule(sub, dataclasses.replace(change, hhmm=hhmm, timezone=zone)))

    async def set_topics(self, subscriber_id: str, text: str) -> Subscriber:
        self._record("set_topics", subscriber_id=subscriber_id, text=text)
        return self._update(self._sub(subscriber_id), topics=parse_topics(text))

    async def clear_topics(self, subscriber_id: str) -> Subscriber:
        self._record("clear_topics", subscriber_id=subscriber_id)
        return self._update(self._sub(subscriber_id), topics=())

    async def pause(self, subscriber_id: str) -> Subscriber:
        self._record("pause", subscriber_id=subscriber_id)
        return self._update(self._sub(subscriber_id), paused=True)

    async def resume(self, subscriber_id: str) -> Subscriber:
        self._record("resume", subscriber_id=subscriber_id)
        return self._update(self._sub(subscriber_id), paused=False)

    async def next_delivery(self, subscriber_id: str) -> datetime:
        self._record("next_delivery", subscriber_id=subscriber_id)
        sub = self._sub(subscriber_id)
        now = self.clock.now().astimezone(parse_zone(sub.timezone))
        at = parse_hhmm(sub.delivery_time)
        when = now.replace(hour=at.hour, minute=at.minute, second=0, microsecond=0)
        return when if when > now else when + timedelta(days=1)

    # --- feeds ----------------------------------------------------------------------------------

    async def list_feeds(self, subscriber_id: str) -> list[Feed]:
        self._record("list_feeds", subscriber_id=subscriber_id)
        return [self.feeds[f] for f in self._sub(subscriber_id).feed_ids or ()]

    async def add_feed(self, subscriber_id: str, url_or_terms: str) -> AddFeedResult:
        self._record("add_feed", subscriber_id=subscriber_id, url_or_terms=url_or_terms)
        sub = self._sub(subscriber_id)
        text = url_or_terms.strip()
        if not text:
            raise ValidationError("Send a feed URL or a few words to search for.")
        if text.lower().startswith(("http://", "https://")):
            feed = self._feed_from_url(text)
            self._follow(sub, feed)
            return AddFeedResult(feed=feed)
        words = text.lower().split()
        hits = tuple(c for c in CATALOGUE if any(w in c.title.lower() for w in words))
        return AddFeedResult(candidates=hits)

    async def add_search_choice(self, subscriber_id: str, choice_id: str) -> Feed:
        self._record("add_search_choice", subscriber_id=subscriber_id, choice_id=choice_id)
        sub = self._sub(subscriber_id)
        choice = next((c for c in CATALOGUE if c.id == choice_id), None)
        if choice is None:
            raise NotFoundError("That search result has expired. Search again with /add.")
        feed = self._feed_from_url(choice.feed_url, choice.title)
        self._follow(sub, feed)
        return feed

    async def remove_feed(self, subscriber_id: str, feed_id: str) -> None:
        self._record("remove_feed", subscriber_id=subscriber_id, feed_id=feed_id)
        sub = self._sub(subscriber_id)
        if feed_id not in (sub.feed_ids or ()):
            raise NotFoundError("This chat does not follow that podcast.")
        self._update(sub, feed_ids=tuple(f for f in sub.feed_ids or () if f != feed_id))

    async def import_opml(self, subscriber_id: str, data: bytes) -> ImportResult:
        self._record("import_opml", subscriber_id=subscriber_id, data=data)
        sub = self._sub(subscriber_id)
        try:
            root = ElementTree.fromstring(data)
        except (ElementTree.ParseError, DefusedXmlException):
            raise ValidationError("That file is not OPML: export it again from your app.") from None
        added: list[Feed] = []
        failed: list[tuple[str, str]] = []
        for outline in root.iter("outline"):
            url, title = outline.get("xmlUrl"), outline.get("text") or outline.get("title") or ""
            if url is None:
                continue
            if not url.startswith(("http://", "https://")):
                failed.append((title or url, "not a web address"))
                continue
            feed = self._feed_from_url(url, title)
            self._follow(sub, feed)
            added.append(feed)
        return ImportResult(added=tuple(added), failed=tuple(failed))

    async def export_opml(self, subscriber_id: str, *, private_chat: bool = False) -> OpmlExport:
        self._record("export_opml", subscriber_id=subscriber_id, private_chat=private_chat)
        feeds = [self.feeds[f] for f in self._sub(subscriber_id).feed_ids or ()]
        outlines = "".join(
            f'<outline type="rss" text={quoteattr(f.title)} xmlUrl={quoteattr(f.url)}/>'
            for f in feeds)
        return OpmlExport((f'<?xml version="1.0" encoding="utf-8"?><opml version="2.0"><head>'
                           f"<title>Castfive</title></head><body>{outlines}</body></opml>").encode())

    # --- digests, questions, feedback --------------------------------------------------------

    async def today(self, subscriber_id: str, *, shared_chat: bool = False) -> Digest:
        self._record("today", subscriber_id=subscriber_id, shared_chat=shared_chat)
        sub = self._sub(subscriber_id)
        local = self.clock.now().astimezone(parse_zone(sub.timezone)).date().isoformat()
        return Digest(subscriber_id=subscriber_id, local_date=local, items=tuple(self.digest),
                      follows_nothing=not self.digest and not sub.feed_ids)

    async def ask(self, insight_id: str, question: str, *, user_key: str,
                  conversation_id: str | None = None, reader: Reader) -> Answer:
        self._record("ask", insight_id=insight_id, question=question, user_key=user_key,
                     conversation_id=conversation_id)
        item = await self.insight_item(insight_id, reader=reader)
        if not question.strip():
            raise ValidationError("Ask a question in words, e.g. “what was the source?”")
        now = self.clock.now()
        recent = [t for t in self.asked.get(user_key, []) if t > now - timedelta(hours=1)]
        if self.questions_per_hour is not None and len(recent) >= self.questions_per_hour:
            raise RateLimitedError("You have asked a lot of questions in the last hour.",
                                   retry_at=recent[0] + timedelta(hours=1))
        self.asked[user_key] = recent + [now]
        ins = item.insight
        text = self.answer_text or f"About “{question}”: they say {ins.text} [{int(ins.start)}s]"
        return Answer(insight_id=insight_id, question=question, text=text,
                      citations=(Citation(ins.start, ins.end, ins.quote),),
                      show_title=item.show_title, episode_title=item.episode_title)

    async def feedback(self, subscriber_id: str, insight_id: str, vote: int, *,
                       user_key: str | None = None) -> None:
        self._record("feedback", subscriber_id=subscriber_id, insight_id=insight_id, vote=vote)
        self._sub(subscriber_id)
        await self.insight_item(insight_id, reader=subscriber_id)
        self.votes.append((subscriber_id, insight_id, vote))

    async def recent_insights(self, subscriber_id: str, prefix: str = "") -> list[DigestItem]:
        self._record("recent_insights", subscriber_id=subscriber_id, prefix=prefix)
        self._sub(subscriber_id)
        return [i for i in self.digest if i.insight.id.startswith(prefix)]

    async def insight_item(self, insight_id: str, *, reader: Reader,
                           user_key: str | None = None) -> DigestItem:
        self._record("insight_item", insight_id=insight_id)
        item = self.items.get(insight_id)
        if item is None:
            raise NotFoundError(f"No insight with id {insight_id[:16]}. Check the id under the insight.")
        return item

    # --- chat bookkeeping -------------------------------------------------------------------------

    async def note_today_post(self, subscriber_id: str, message_id: str) -> None:
        self._record("note_today_post", subscriber_id=subscriber_id, message_id=message_id)

    async def today_not_posted(self, subscriber_id: str) -> None:
        self._record("today_not_posted", subscriber_id=subscriber_id)

    async def remember_message(self, subscriber_id: str, message_id: str, ref: MessageRef) -> None:
        self._record("remember_message", subscriber_id=subscriber_id, message_id=message_id, ref=ref)
        self.messages[(subscriber_id, message_id)] = ref

    async def lookup_message(self, subscriber_id: str, message_id: str) -> MessageRef | None:
        self._record("lookup_message", subscriber_id=subscriber_id, message_id=message_id)
        return self.messages.get((subscriber_id, message_id))

    async def recipient_gone(self, subscriber_id: str, reason: str) -> None:
        self._record("recipient_gone", subscriber_id=subscriber_id, reason=reason)
        self._update(self._sub(subscriber_id), active=False)
        self.gone.append((subscriber_id, reason))

    async def migrate(self, subscriber_id: str, new_chat_id: str) -> Subscriber:
        self._record("migrate", subscriber_id=subscriber_id, new_chat_id=new_chat_id)
        sub = self.subscribers.pop(subscriber_id, None)
        if sub is None:
            raise NotFoundError("This chat is not subscribed yet. Send /start first.")
        new = dataclasses.replace(sub, id=f"{sub.platform}:{new_chat_id}", chat_id=new_chat_id)
        self.subscribers[new.id] = new
        return new
