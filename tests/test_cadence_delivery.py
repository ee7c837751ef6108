"""Nine days of scheduler ticks across Berlin's spring-forward: each cadence on its local days.

The real scheduler, DeliveryService and ranking over a FakeStore; insights arrive every day at
noon UTC, each from its own show (so the best five are simply the five best scores).
"""

from __future__ import annotations

import string
from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.bootstrap import build_services
from core.config import DataSettings, DeliverySettings, InsightSettings, Settings
from core.jobs.scheduler import CastfiveScheduler
from core.models import (
    Cadence,
    DigestItem,
    Episode,
    EpisodeState,
    Feed,
    Insight,
    OutcomeKind,
    SendOutcome,
    Subscriber,
)
from core.store.repos import Repos
from tests.fakes.clock import FakeClock
from tests.fakes.memory_store import FakeStore

START = datetime(2026, 3, 23, 0, 0, tzinfo=UTC)  # a Monday; Berlin springs forward on the 29th
DAYS = 9
PER_DAY = 4


class TimedPort:
    """A chat port that notes who got which insight, and when by the clock."""

    platform = "telegram"

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.sent: list[tuple[str, str, datetime]] = []

    async def send_digest_item(self, subscriber: Subscriber, item: DigestItem) -> SendOutcome:
        self.sent.append((subscriber.chat_id, item.insight.id, self.clock.now()))
        return SendOutcome.delivered(str(len(self.sent)))

    async def send_notice(self, subscriber: Subscriber, text: str) -> SendOutcome:
        return SendOutcome(OutcomeKind.DELIVERED)

    def rounds(self, chat: str) -> dict[datetime, list[str]]:
        found: dict[datetime, list[str]] = {}
        for to, insight, when in self.sent:
            if to == chat:
                found.setdefault(when, []).append(insight)
        return found


def word(n: int) -> str:
    """A distinct letters-only word per n, so no two insights share a term."""
    letters = string.ascii_lowercase
    return "q" + letters[n // 676 % 26] + letters[n // 26 % 26] + letters[n % 26]


async def add_day(repos: Repos, day: int) -> list[Insight]:
    """PER_DAY insights created at noon UTC of START + day, each in its own show."""
    created = START + timedelta(days=day, hours=12)
    added = []
    for k in range(PER_DAY):
        n = (day + 10) * PER_DAY + k
        feed = Feed(id=f"f{n}", url=f"https://example.org/{n}.xml", title=f"Show {n}", origin="operator")
        episode = Episode(id=f"e{n}", feed_id=feed.id, identity=f"g{n}", title=f"Episode {n}",
                          published_at=created, duration_s=600, audio_url=None, audio_type=None,
                          page_url=None, description="", state=EpisodeState.DONE)
        text = " ".join(word(n * 5 + j) for j in range(5)) + "."
        score = 0.4 + ((n * 37) % 60) / 100  # 0.40 .. 0.99, spread over the days
        insight = Insight(id=f"i{n:03d}", episode_id=episode.id, feed_id=feed.id, text=text,
                          quote=text, start=0.0, end=20.0, score=score, created_at=created)
        await repos.feeds.put(feed)
        await repos.episodes.put(episode)
        await repos.insights.put(insight)
        added.append(insight)
    return added


def subscriber(chat: str, zone: str, hhmm: str, cadence: Cadence, weekday: int = 0) -> Subscriber:
    return Subscriber(id=f"telegram:{chat}", platform="telegram", chat_id=chat, delivery_time=hhmm,
                      timezone=zone, cadence=cadence, delivery_weekday=weekday,
                      created_at=START - timedelta(days=30))


async def test_each_cadence_delivers_on_its_local_days_across_a_week_and_a_dst_change(
        tmp_path: Path) -> None:
    clock = FakeClock(START)
    # Daily digests look back two days here, so a weekly one's week is its own window.
    settings = Settings(data=DataSettings(dir=str(tmp_path)), insights=InsightSettings(lookback_days=2),
                        delivery=DeliverySettings(telegram_messages_per_second=1000.0))
    services = build_services(settings, clock=clock, store=FakeStore())
    repos = services.repos
    catalogue = [i for day in range(-8, 0) for i in await add_day(repos, day)]
    for sub in (subscriber("weekly-sun", "Europe/Berlin", "02:30", Cadence.WEEKLY, 6),
                subscriber("weekly-mon", "Asia/Tokyo", "07:00", Cadence.WEEKLY, 0),
                subscriber("weekdays", "Europe/Berlin", "08:00", Cadence.WEEKDAYS),
                subscriber("daily", "UTC", "08:00", Cadence.DAILY)):
        await repos.subscribers.put(sub)
    port = TimedPort(clock)
    scheduler = CastfiveScheduler(services)
    services.add_port(scheduler.gated(port))
    next_day = 0
    while clock.now() < START + timedelta(days=DAYS):
        if clock.now() >= START + timedelta(days=next_day, hours=12):
            catalogue += await add_day(repos, next_day)
            next_day += 1
        await scheduler.delivery_tick()
        clock.advance(minutes=15)

    def due(*instants: str) -> list[datetime]:
        return [datetime.fromisoformat(f"{i}+00:00") for i in instants]

    # Weekdays at 08:00 Berlin: 07:00 UTC before the switch, 06:00 UTC after; no weekend.
    assert list(port.rounds("weekdays")) == due(
        "2026-03-23T07:00", "2026-03-24T07:00", "2026-03-25T07:00", "2026-03-26T07:00",
        "2026-03-27T07:00", "2026-03-30T06:00", "2026-03-31T06:00")
    # Weekly on Sunday at 02:30 Berlin, a time the switch skips: once, at 03:30 CEST.
    sunday = port.rounds("weekly-sun")
    assert list(sunday) == due("2026-03-29T01:30")
    # ...the best five of the week before it (each insight is its own show: by score alone).
    window = [i for i in catalogue if due("2026-03-22T01:30")[0] <= i.created_at <= clock.now()
              and i.created_at < due("2026-03-29T01:30")[0]]
    best = sorted(window, key=lambda i: (-i.score, i.id))[:5]
    assert sunday[due("2026-03-29T01:30")[0]] == [i.id for i in best]
    # Weekly on Monday at 07:00 Tokyo (22:00 UTC Sunday): this Monday's was missed before the
    # start and is caught up at once (still Monday in Tokyo); next week's never repeats one.
    monday = port.rounds("weekly-mon")
    assert list(monday) == due("2026-03-23T00:00", "2026-03-29T22:00")
    first, second = monday.values()
    assert len(first) == len(second) == 5 and not set(first) & set(second)
    # The daily control: every day.
    assert len(port.rounds("daily")) == DAYS
    assert all(len(set(v)) == len(v) for v in (first, second, *sunday.values()))
