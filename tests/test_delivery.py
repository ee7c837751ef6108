"""The delivery ledger: one digest per subscriber and local day, resumable, honest about outcomes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.config import Settings
from core.delivery.service import DeliveryService
from core.digests import DigestBuilder
from core.models import OutcomeKind, SendOutcome, Subscriber
from core.store.repos import MessageState, Repos, ledger_key
from tests.fakes.chat_port import FakeChatPort
from tests.fakes.clock import FakeClock
from tests.fakes.memory_store import FakeStore
from tests.fakes.seed import seed


class Crash(BaseException):
    """Stands in for the process dying mid-send: nothing catches it."""


def make(store: FakeStore, clock: FakeClock, port: FakeChatPort, **delivery) -> DeliveryService:
    settings = Settings()
    repos = Repos(store)
    sleeps: list[float] = []
    elapsed = [0.0]

    async def fake_sleep(seconds: float) -> None:  # time passes only when someone waits
        sleeps.append(seconds)
        elapsed[0] += seconds

    service = DeliveryService(repos, DigestBuilder(repos, settings), clock, settings, {port.platform: port},
                              sleep=fake_sleep, monotonic=lambda: elapsed[0])
    service.sleeps = sleeps  # type: ignore[attr-defined]
    return service


async def subscribe(store: FakeStore, chat_id: str, **kw) -> Subscriber:
    subscriber = Subscriber(id=f"telegram:{chat_id}", platform="telegram", chat_id=chat_id,
                            delivery_time="08:00", timezone="UTC",
                            created_at=datetime(2026, 11, 1, tzinfo=UTC), **kw)
    await Repos(store).subscribers.put(subscriber)
    return subscriber


@pytest.fixture
async def world():
    store, clock, port = FakeStore(), FakeClock(datetime(2026, 11, 28, 8, 1, tzinfo=UTC)), FakeChatPort()
    await seed(Repos(store))
    return store, clock, port


async def test_each_due_subscriber_gets_exactly_one_digest_per_local_day(world):
    store, clock, port = world
    await subscribe(store, "1")
    delivery = make(store, clock, port)
    await delivery.tick()
    clock.advance(minutes=1)
    await delivery.tick()
    assert len(port.sent) == 5
    assert len({insight for _, insight in port.sent}) == 5


async def test_nothing_is_sent_before_the_local_delivery_time(world):
    store, clock, port = world
    await subscribe(store, "1")
    clock.set(datetime(2026, 11, 28, 7, 59, tzinfo=UTC))
    await make(store, clock, port).tick()
    assert port.sent == []


async def test_a_crash_mid_digest_resumes_with_only_the_unconfirmed_messages(world):
    store, clock, port = world
    await subscribe(store, "1")
    original = port.send_digest_item
    calls = 0

    async def crashing(subscriber, item):
        nonlocal calls
        calls += 1
        if calls == 3:
            raise Crash()
        return await original(subscriber, item)

    port.send_digest_item = crashing  # type: ignore[method-assign]
    with pytest.raises(Crash):
        await make(store, clock, port).tick()
    chosen = await Repos(store).ledger.get(ledger_key("telegram:1", "2026-11-28"))
    assert [m.state for m in chosen.messages].count(MessageState.SENT) == 2

    port.send_digest_item = original  # type: ignore[method-assign]
    await make(store, clock, port).tick()  # the restarted process
    after = await Repos(store).ledger.get(ledger_key("telegram:1", "2026-11-28"))
    assert [m.insight_id for m in after.messages] == [m.insight_id for m in chosen.messages]
    assert after.finished and all(m.state == MessageState.SENT for m in after.messages)
    assert sorted(i for _, i in port.sent) == sorted(m.insight_id for m in after.messages)


async def test_insights_sent_yesterday_are_never_sent_again(world):
    store, clock, port = world
    await subscribe(store, "1")
    delivery = make(store, clock, port)
    await delivery.tick()
    first = {i for _, i in port.sent}
    clock.advance(days=1)
    await delivery.tick()
    second = {i for _, i in port.sent} - first
    assert second and not (second & first)
    assert len(port.sent) == len(set(i for _, i in port.sent))


async def test_three_gone_outcomes_in_a_row_deactivate_the_subscriber(world):
    store, clock, port = world
    await subscribe(store, "1")
    port.always["1"] = SendOutcome(OutcomeKind.GONE, reason="Forbidden: bot was blocked by the user")
    report = await make(store, clock, port).tick()
    subscriber = await Repos(store).subscribers.get("telegram:1")
    assert not subscriber.active and subscriber.consecutive_gone == 3
    assert report.deactivated == ["telegram:1"]
    entry = await Repos(store).ledger.get(ledger_key("telegram:1", "2026-11-28"))
    assert entry.finished and all(m.state == MessageState.FAILED for m in entry.messages)


async def test_a_delivered_message_resets_the_gone_streak(world):
    store, clock, port = world
    await subscribe(store, "1")
    port.script("1", SendOutcome(OutcomeKind.GONE, reason="chat not found"))
    await make(store, clock, port).tick()
    subscriber = await Repos(store).subscribers.get("telegram:1")
    assert subscriber.active and subscriber.consecutive_gone == 0
    assert len(port.sent) == 4


async def test_a_migrated_group_moves_the_subscriber_and_gets_the_rest_there(world):
    store, clock, port = world
    await subscribe(store, "-100")
    port.script("-100", SendOutcome(OutcomeKind.MOVED, new_chat_id="-100999"))
    await make(store, clock, port).tick()
    repos = Repos(store)
    assert await repos.subscribers.get("telegram:-100") is None
    moved = await repos.subscribers.get("telegram:-100999")
    assert moved is not None and moved.chat_id == "-100999"
    assert [c for c, _ in port.sent] == ["-100999"] * 5
    assert (await repos.ledger.get(ledger_key("telegram:-100999", "2026-11-28"))).finished


async def test_rate_limited_sends_wait_the_time_the_platform_asks_then_deliver(world):
    store, clock, port = world
    await subscribe(store, "1")
    port.script("1", SendOutcome(OutcomeKind.RATE_LIMITED, retry_after=7))
    delivery = make(store, clock, port)
    await delivery.tick()
    assert 7 in delivery.sleeps  # type: ignore[attr-defined]
    assert len(port.sent) == 5


async def test_a_lasting_transient_failure_keeps_the_rest_queued_for_the_next_tick(world):
    store, clock, port = world
    await subscribe(store, "1")
    port.script("1", *[SendOutcome(OutcomeKind.TRANSIENT, reason="timeout")] * 4)
    delivery = make(store, clock, port)
    await delivery.tick()
    entry = await Repos(store).ledger.get(ledger_key("telegram:1", "2026-11-28"))
    assert not entry.finished and port.sent == []
    clock.advance(minutes=1)
    await delivery.tick()
    assert len(port.sent) == 5


async def test_paused_subscribers_and_platforms_without_an_adapter_get_nothing(world):
    store, clock, port = world
    await subscribe(store, "1", paused=True)
    await Repos(store).subscribers.put(Subscriber(id="discord:9", platform="discord", chat_id="9",
                                                  created_at=datetime(2026, 11, 1, tzinfo=UTC)))
    report = await make(store, clock, port).tick()
    assert port.sent == [] and report.due == 0


async def test_downtime_catch_up_sends_a_digest_missed_earlier_the_same_day(world):
    store, clock, port = world
    await subscribe(store, "1")
    clock.set(datetime(2026, 11, 28, 17, 0, tzinfo=UTC))  # the process was down from 07:00 to 17:00
    await make(store, clock, port).tick()
    assert len(port.sent) == 5


async def test_subscribers_in_several_zones_get_one_digest_per_local_day(world):
    store, clock, port = world
    zones = ["UTC", "Asia/Tokyo", "America/Los_Angeles", "Europe/Berlin", "Australia/Sydney"]
    for n, zone in enumerate(zones):
        await Repos(store).subscribers.put(Subscriber(
            id=f"telegram:{n}", platform="telegram", chat_id=str(n), delivery_time="08:00", timezone=zone,
            created_at=datetime(2026, 11, 1, tzinfo=UTC)))
    delivery = make(store, clock, port)
    clock.set(datetime(2026, 11, 28, 0, 0, tzinfo=UTC))
    for _ in range(21 * 4):  # 00:00-20:45 UTC: every zone reaches 08:00 local exactly once
        await delivery.tick()
        clock.advance(minutes=15)
    entries = await Repos(store).ledger.all()
    days = sorted((e.subscriber_id, e.local_date) for e in entries)
    assert len(days) == len(set(days)), "never two digests for one local day"
    assert {s for s, d in days if d == "2026-11-28"} == {f"telegram:{n}" for n in range(len(zones))}
    assert len(port.sent) == len(set(port.sent)), "no insight sent twice to one chat"
    # Los Angeles was still on 27 Nov at 00:00 UTC: catch-up delivered that day's digest too.
    assert ("telegram:2", "2026-11-27") in days


async def test_nothing_to_send_at_delivery_time_does_not_end_the_day():
    store, clock, port = FakeStore(), FakeClock(datetime(2026, 11, 28, 8, 1, tzinfo=UTC)), FakeChatPort()
    await subscribe(store, "1")
    delivery = make(store, clock, port)
    await delivery.tick()
    assert port.sent == [] and await Repos(store).ledger.all() == []
    await seed(Repos(store))  # the morning's episodes finish processing after 08:00
    clock.advance(minutes=5)
    await delivery.tick()
    assert port.sent == [], "an empty subscriber is looked at again only every 15 minutes"
    clock.advance(minutes=11)
    await delivery.tick()
    assert len(port.sent) == 5
