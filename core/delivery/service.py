"""Deliver digests through the chat ports, with a ledger that survives crashes."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from core.config import Settings
from core.delivery.ratelimit import TokenBucket
from core.delivery.schedule import due_date
from core.delivery.subscriptions import migrate, record_gone, record_reachable, subscriber_id_for
from core.digests import Catalog, DigestBuilder, SentHistory
from core.errors import DiskFullError
from core.models import Digest, OutcomeKind, SendOutcome, Subscriber
from core.ports import ChatPort, Clock
from core.store.diskfull import log_disk_full
from core.store.repos import LedgerEntry, LedgerMessage, MessageLink, MessageState, Repos, ledger_key
from core.subscriber_locks import KeyedLocks

log = logging.getLogger(__name__)

MAX_RATE_LIMIT_RETRIES = 5
MAX_TRANSIENT_RETRIES = 3
SEND_BURST = 2.0
EMPTY_RECHECK = timedelta(minutes=15)


@dataclass
class TickReport:
    """What one delivery round did."""

    at: datetime | None = None
    due: int = 0
    digests_finished: int = 0
    messages_sent: int = 0
    messages_failed: int = 0
    deactivated: list[str] = field(default_factory=list)


class DeliveryService:
    """Chooses each due digest once, records it, and sends only what is not yet confirmed."""

    def __init__(
        self,
        repos: Repos,
        builder: DigestBuilder,
        clock: Clock,
        settings: Settings,
        ports: Mapping[str, ChatPort],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        max_concurrent: int = 64,
    ) -> None:
        self.repos = repos
        self.builder = builder
        self.clock = clock
        self.settings = settings
        self.ports = dict(ports)
        self.sleep = sleep
        self.history = SentHistory()
        self._history_loaded = False
        # one lock per subscriber, shared with the service: a send's outcome re-reads and writes
        # the subscriber under it, so a follow made while the send was in flight is kept
        self.locks = KeyedLocks()
        self._choosing = KeyedLocks()  # held across a choice; never while holding `locks`
        self._ranking = asyncio.Lock()
        self._buckets = {
            # burst 2: a platform limit is "N in any second", so a full second's burst on top of
            # the steady rate would break it (bench/deliver.py measured the 429s that followed)
            "telegram": TokenBucket(settings.delivery.telegram_messages_per_second, burst=SEND_BURST,
                                    now=monotonic, sleep=sleep),
            "discord": TokenBucket(settings.delivery.discord_messages_per_second, burst=SEND_BURST,
                                   now=monotonic, sleep=sleep),
        }
        self._workers = max_concurrent  # per platform: Discord never waits in Telegram's queue
        self._tick_lock = asyncio.Lock()
        self._empty_until: dict[str, datetime] = {}  # nothing to send yet: look again later
        self.last_tick: TickReport | None = None

    async def start(self) -> None:
        """Load the sent history from the ledger."""
        self.history = await self.builder.load_history()
        self._history_loaded = True

    async def tick(self) -> TickReport:
        """Deliver every digest that is due now and not yet finished; safe to call every minute."""
        async with self._tick_lock:  # a slow round never overlaps the next one
            if not self._history_loaded:
                await self.start()
            now = self.clock.now()
            report = TickReport(at=now)
            # perf: 10,000 documents become dataclasses in a thread, not on the event loop
            subscribers = await self.builder.load_subscribers()
            due: list[tuple[Subscriber, str]] = []
            for n, subscriber in enumerate(subscribers):
                if n % 256 == 255:
                    await asyncio.sleep(0)  # perf: let other work run during a long scan
                if subscriber.platform not in self.ports:
                    continue
                day = due_date(subscriber, now, catch_up=self.settings.delivery.catch_up_missed)
                if day is None or self._empty_until.get(subscriber.id, now) > now:
                    continue
                # perf: only the flag is needed; building the LedgerEntry costs 0.3 ms a subscriber
                entry = await self.repos.store.get(self.repos.ledger.name, ledger_key(subscriber.id, day))
                if entry is None or not entry.get("finished"):
                    due.append((subscriber, day))
            report.due = len(due)
            if due:
                catalog = await self.builder.load_catalog()
                # perf: a pool of workers rather than one task per due digest; 10,000 waiting
                # tasks cost memory and lengthen every pause of the garbage collector. One pool
                # per platform, so each platform is sent to at its own rate.
                by_platform: dict[str, list[tuple[Subscriber, str]]] = {}
                for subscriber, day in due:
                    by_platform.setdefault(subscriber.platform, []).append((subscriber, day))

                async def drain(items: list[tuple[Subscriber, str]]) -> None:
                    pending = iter(items)

                    async def worker() -> None:
                        for s, d in pending:
                            await self._deliver_guarded(s, d, catalog, report)

                    await asyncio.gather(*(worker() for _ in range(min(len(items), self._workers))))

                await asyncio.gather(*(drain(items) for items in by_platform.values()))
            self.last_tick = report
            if due:
                log.info(
                    "delivery tick due=%d finished=%d sent=%d failed=%d",
                    report.due, report.digests_finished, report.messages_sent, report.messages_failed,
                )
            return report

    async def choose(
        self, subscriber: Subscriber, local_date: str, catalog: Catalog, *, on_request: bool = False
    ) -> LedgerEntry:
        """Today's ledger entry for the subscriber, choosing the insights the first time only."""
        # /today and the tick (or two /today) may ask at once: the second waits and reads the first's
        async with self._choosing.hold(subscriber.id):
            return await self._choose(subscriber, local_date, catalog, on_request)

    async def _choose(
        self, subscriber: Subscriber, local_date: str, catalog: Catalog, on_request: bool
    ) -> LedgerEntry:
        existing = await self.repos.ledger.get(ledger_key(subscriber.id, local_date))
        if existing is not None:
            return existing
        # Ranking is CPU work (and, for a close pair, a sentence-embedding call): off the loop, one
        # choice at a time, since the catalogue's indexes and the paraphrase cache are shared.
        async with self._ranking:
            picked = await asyncio.to_thread(
                self.builder.choose, catalog, subscriber, self.history, self.clock.now(),
                date.fromisoformat(local_date))
        if not picked:
            # Nothing good enough yet (never filler). The day is not recorded as done, so
            # insights extracted later today still go out; until then, look every 15 minutes.
            self._empty_until[subscriber.id] = self.clock.now() + EMPTY_RECHECK
            return LedgerEntry(subscriber.id, local_date, (), self.clock.now(), finished=True,
                               on_request=on_request)
        self._empty_until.pop(subscriber.id, None)
        entry = LedgerEntry(
            subscriber_id=subscriber.id,
            local_date=local_date,
            messages=tuple(LedgerMessage(insight_id=i.id) for i in picked),
            chosen_at=self.clock.now(),
            on_request=on_request,
        )
        async with self.locks.hold(subscriber.id):  # the copy from the tick's start may be stale
            current = await self.repos.subscribers.get(subscriber.id)
            changes = [self.repos.ledger.change(entry)]
            if current is not None:  # never write back a subscriber removed or moved meanwhile
                changes.append(self.repos.subscribers.change(
                    dataclasses.replace(current, last_digest_date=local_date)))
            await self.repos.store.apply(changes)
        self.history.record(entry)
        log.info("digest chosen subscriber=%s date=%s insights=%d", subscriber.id, local_date, len(picked))
        return entry

    def digest_of(self, entry: LedgerEntry, catalog: Catalog) -> Digest:
        """The render-ready digest of a ledger entry."""
        return self.builder.digest(
            catalog, entry.subscriber_id, entry.local_date, [m.insight_id for m in entry.messages]
        )

    async def _deliver_guarded(
        self, subscriber: Subscriber, local_date: str, catalog: Catalog, report: TickReport
    ) -> None:
        try:
            await self.deliver(subscriber, local_date, catalog, report)
        except DiskFullError as exc:  # every subscriber fails alike: one line a minute, not one each
            log_disk_full(log, exc, "delivery")
        except Exception:  # one subscriber's failure never stops the round
            log.exception("delivery failed subscriber=%s date=%s", subscriber.id, local_date)

    async def deliver(
        self, subscriber: Subscriber, local_date: str, catalog: Catalog, report: TickReport | None = None
    ) -> LedgerEntry:
        """Send the not-yet-confirmed messages of the subscriber's digest for `local_date`."""
        report = report or TickReport()
        entry = await self.choose(subscriber, local_date, catalog)
        if not entry.messages:
            return entry  # nothing chosen yet: the day stays open (see choose)
        digest = self.digest_of(entry, catalog)
        items = {item.insight.id: item for item in digest.items}
        port = self.ports[subscriber.platform]
        messages = list(entry.messages)
        for index, message in enumerate(messages):
            if message.state != MessageState.QUEUED:
                continue
            item = items.get(message.insight_id)
            if item is None:  # the insight vanished (pruned): nothing to send, never retried
                messages[index] = dataclasses.replace(message, state=MessageState.FAILED,
                                                      reason="insight gone")
                continue
            outcome = await self._send_with_retries(port, subscriber, item)
            if outcome.kind == OutcomeKind.MOVED and outcome.new_chat_id:
                subscriber = await self._migrate(subscriber, outcome.new_chat_id)
                self.history.move(entry.subscriber_id, subscriber.id)
                entry = dataclasses.replace(entry, subscriber_id=subscriber.id)
                outcome = await self._send_with_retries(port, subscriber, item)
            messages[index], subscriber = await self._record(entry, message, outcome, subscriber, report)
            entry = dataclasses.replace(entry, messages=tuple(messages))
            if not subscriber.active:
                messages = [
                    dataclasses.replace(m, state=MessageState.FAILED, reason="recipient gone")
                    if m.state == MessageState.QUEUED else m
                    for m in messages
                ]
                report.deactivated.append(subscriber.id)
                break
            if outcome.kind in (OutcomeKind.RATE_LIMITED, OutcomeKind.TRANSIENT):
                break  # keep the rest queued: the next tick resumes where this stopped
        finished = all(m.state != MessageState.QUEUED for m in messages)
        entry = dataclasses.replace(entry, messages=tuple(messages), finished=finished)
        await self.repos.ledger.put(entry)
        if finished:
            report.digests_finished += 1
        return entry

    async def _migrate(self, subscriber: Subscriber, new_chat_id: str) -> Subscriber:
        """Move the stored subscriber to its new chat id (the chat may have moved it already)."""
        async with self.locks.hold(subscriber.id):
            current = await self.repos.subscribers.get(subscriber.id)
            if current is not None:
                return await migrate(self.repos, current, new_chat_id)
        moved = await self.repos.subscribers.get(subscriber_id_for(subscriber.platform, new_chat_id))
        return moved or dataclasses.replace(subscriber, active=False)

    async def _send_with_retries(self, port: ChatPort, subscriber: Subscriber, item) -> SendOutcome:
        bucket = self._buckets.get(subscriber.platform)
        transient = limited = 0
        while True:
            if bucket is not None:
                await bucket.acquire()
            try:
                outcome = await port.send_digest_item(subscriber, item)
            except Exception as exc:  # an adapter bug must not lose the digest: treat as transient
                log.exception("adapter raised subscriber=%s", subscriber.id)
                outcome = SendOutcome(OutcomeKind.TRANSIENT, reason=type(exc).__name__)
            if outcome.kind == OutcomeKind.RATE_LIMITED and limited < MAX_RATE_LIMIT_RETRIES:
                limited += 1
                wait = outcome.retry_after or 1.0
                if bucket is not None:
                    bucket.pause(wait)
                await self.sleep(wait)
                continue
            if outcome.kind == OutcomeKind.TRANSIENT and transient < MAX_TRANSIENT_RETRIES:
                transient += 1
                await self.sleep(2.0**transient)
                continue
            return outcome

    async def _record(
        self, entry: LedgerEntry, message: LedgerMessage, outcome: SendOutcome, subscriber: Subscriber,
        report: TickReport,
    ) -> tuple[LedgerMessage, Subscriber]:
        attempts = message.attempts + 1
        if outcome.kind == OutcomeKind.DELIVERED:
            sent = dataclasses.replace(
                message, state=MessageState.SENT, message_ids=outcome.message_ids, attempts=attempts
            )
            links = [
                MessageLink(subscriber.id, mid, message.insight_id, f"{subscriber.id}:{mid}")
                for mid in outcome.message_ids
            ]
            messages = tuple(sent if m.insight_id == message.insight_id else m for m in entry.messages)
            await self.repos.store.apply(
                [self.repos.ledger.change(dataclasses.replace(entry, messages=messages))]
                + self.repos.messages.changes(links)
            )
            report.messages_sent += 1
            return sent, await record_reachable(self.repos, self.locks, subscriber)
        if outcome.kind == OutcomeKind.GONE:
            report.messages_failed += 1
            subscriber = await record_gone(
                self.repos, self.locks, subscriber, outcome.reason,
                self.settings.delivery.gone_after_failures,
            )
            failed = dataclasses.replace(
                message, state=MessageState.FAILED, reason=outcome.reason or "recipient gone",
                attempts=attempts,
            )
            return failed, subscriber
        log.warning(
            "send deferred subscriber=%s outcome=%s reason=%s", subscriber.id, outcome.kind, outcome.reason
        )
        return dataclasses.replace(message, attempts=attempts, reason=outcome.reason), subscriber
