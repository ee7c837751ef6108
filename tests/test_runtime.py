"""`python -m bot`: one process, one loop; clean exits on SIGTERM and Ctrl-C; clear refusals.

The subprocess tests run the real service against the fake Telegram Bot API (tests/e2e).
The in-process tests drive CastfiveScheduler and serve() with the store and clock fakes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot import runtime
from core.bootstrap import build_services
from core.config import DataSettings, DeliverySettings, FeedSettings, Settings
from core.jobs.scheduler import CastfiveScheduler
from core.models import DigestItem, OutcomeKind, SendOutcome, Subscriber
from core.store.repos import LedgerEntry, LedgerMessage, MessageState, Repos
from tests.e2e.content import read_store, seed_store
from tests.e2e.process import wait_until
from tests.fakes.clock import FakeClock
from tests.fakes.memory_store import FakeStore
from tests.fakes.seed import seed

CHATS = list(range(7001, 7031))


# --- refusing to start -------------------------------------------------------------------------


def test_without_a_chat_token_the_service_exits_2_saying_which_variables_to_set(
        tmp_path, monkeypatch, capsys):
    for name in ("TELEGRAM_BOT_TOKEN", "DISCORD_BOT_TOKEN", "CASTFIVE_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    config = tmp_path / "castfive.toml"
    config.write_text(f'[data]\ndir = "{tmp_path / "data"}"\n')
    assert runtime.main(["--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "TELEGRAM_BOT_TOKEN" in err and "DISCORD_BOT_TOKEN" in err and "castfive digest" in err
    assert not (tmp_path / "data").exists()  # refused before touching anything


def test_a_broken_config_exits_2_naming_the_file_and_the_key(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456789:AAH-not-used-at-all-because-config-fails")
    config = tmp_path / "castfive.toml"
    config.write_text("[delivery]\ntick_seconds = 0\n")
    assert runtime.main(["--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert str(config) in err and "delivery.tick_seconds" in err
    assert "AAH-not-used" not in err


async def test_a_token_telegram_rejects_exits_1_without_showing_the_token(telegram, make_bot):
    telegram.fail("getMe", 401, "Unauthorized")
    bot = make_bot({"telegram": {"api_base_url": telegram.base_url}})
    await bot.start()
    assert await asyncio.wait_for(bot.proc.wait(), 30) == 1
    bot._close_files()
    output = bot.all_output()
    assert "cannot run: Telegram rejected the bot token" in output
    assert bot.env["TELEGRAM_BOT_TOKEN"] not in output


# --- stopping cleanly ----------------------------------------------------------------------------


async def test_sigterm_mid_round_exits_0_within_5_s_with_every_sent_message_recorded(
        telegram, make_bot, tmp_path):
    telegram.send_delay_s = 0.3  # each chat's five take 1.5 s: SIGTERM lands mid-round
    await seed_store(tmp_path / "data", CHATS)
    bot = make_bot({"telegram": {"api_base_url": telegram.base_url},
                    "delivery": {"telegram_messages_per_second": 100.0}})
    await bot.start()
    await wait_until(lambda: len(telegram.digest_messages()) >= 20, 30, "20 digest messages", bot)
    code, took = await bot.stop(signal.SIGTERM)
    assert code == 0 and took < 5.0, f"exit {code} after {took:.1f}s"
    assert "stopped" in bot.log_text() and "Traceback" not in bot.log_text()
    delivered = {(d.chat_id, d.insight_id): d.message_id for d in telegram.digest_messages()}
    assert len(delivered) < len(CHATS) * 5, "the round finished before SIGTERM: no test"
    await asyncio.sleep(0.5)
    assert len(telegram.digest_messages()) == len(delivered), "a message left after the process stopped"

    _, ledger, _, store = await read_store(tmp_path / "data")  # opens: the store is whole
    await store.close()
    recorded = {(int(e.subscriber_id.split(":")[1]), m.insight_id): m.message_ids
                for e in ledger for m in e.messages if m.state == MessageState.SENT}
    # Nothing in doubt after a graceful stop: what the platform has, the ledger has, and back.
    assert recorded == {key: (str(mid),) for key, mid in delivered.items()}

    await bot.start()  # the rest of the round, and not one message twice
    await wait_until(lambda: len(telegram.digest_messages()) >= len(CHATS) * 5, 30, "the rest", bot)
    code, _ = await bot.stop(signal.SIGINT)  # Ctrl-C stops as cleanly as SIGTERM
    assert code == 0
    assert all(n == 1 for counts in telegram.per_chat().values() for n in counts.values())


async def test_config_from_castfive_config_and_ctrl_c_while_idle_stops_at_once(telegram, make_bot):
    bot = make_bot({"telegram": {"api_base_url": telegram.base_url}})
    await bot.start(config_via_env=True)
    await bot.wait_log("castfive running", timeout=30)
    code, took = await bot.stop(signal.SIGINT)
    assert code == 0 and took < 3.0
    assert telegram.calls("getMe") and "stopped" in bot.log_text()


async def test_sigterm_during_a_transcription_exits_0_at_once_and_leaves_the_episode_to_resume(
        telegram, make_bot, tmp_path):
    demo = Path(__file__).resolve().parent.parent / "examples" / "demo" / "feed.xml"
    bot = make_bot({"telegram": {"api_base_url": telegram.base_url}, "feeds": {"catalogue": [str(demo)]}})
    await bot.start()
    await bot.wait_log("loaded speech model", timeout=60)  # two demo episodes need speech-to-text
    code, took = await bot.stop(signal.SIGTERM)
    assert code == 0 and took < 5.0, f"exit {code} after {took:.1f}s"  # not after the transcription
    _, _, repos, store = await read_store(tmp_path / "data")
    episodes = await repos.episodes.all()
    await store.close()
    states = sorted(str(e.state) for e in episodes)
    assert states.count("done") <= 2 and "failed" not in states, states  # untouched: resumes next start
    assert all(not e.last_error for e in episodes)


# --- the scheduler's ordered stop, in process ------------------------------------------------


class SlowPort:
    """A chat port whose sends take `delay` seconds; records starts and completions."""

    platform = "telegram"

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.lifecycle: list[str] = []
        self.started: list[tuple[str, str]] = []
        self.finished: list[tuple[str, str]] = []

    async def send_digest_item(self, subscriber: Subscriber, item: DigestItem) -> SendOutcome:
        self.started.append((subscriber.chat_id, item.insight.id))
        await asyncio.sleep(self.delay)
        self.finished.append((subscriber.chat_id, item.insight.id))
        return SendOutcome.delivered(f"m{len(self.finished)}")

    async def send_notice(self, subscriber: Subscriber, text: str) -> SendOutcome:
        return SendOutcome(OutcomeKind.DELIVERED)

    async def start(self) -> None:
        self.lifecycle.append("start")

    async def stop(self) -> None:
        self.lifecycle.append("stop")


def _settings(tmp_path: Path, **delivery: float) -> Settings:
    return Settings(data=DataSettings(dir=str(tmp_path)), delivery=DeliverySettings(**delivery),
                    feeds=FeedSettings(poll_check_seconds=0.2))


async def _services_with(tmp_path: Path, chats: int):
    clock = FakeClock(datetime(2026, 11, 28, 8, 5, tzinfo=UTC))
    store = FakeStore()
    settings = _settings(tmp_path, telegram_messages_per_second=1000.0)
    services = build_services(settings, store=store, clock=clock)
    await seed(Repos(store), created=clock.now())
    for n in range(chats):
        await services.repos.subscribers.put(Subscriber(
            id=f"telegram:{n}", platform="telegram", chat_id=str(n), delivery_time="08:00",
            created_at=datetime(2026, 11, 1, tzinfo=UTC)))
    return services


async def test_stop_lets_sends_in_flight_finish_and_records_them_and_starts_no_new_one(tmp_path):
    services = await _services_with(tmp_path, chats=3)
    scheduler = CastfiveScheduler(services)
    port = SlowPort(delay=0.2)
    services.add_port(scheduler.gated(port))
    job = asyncio.create_task(scheduler._job("tick", scheduler.delivery_tick))
    while len(port.started) < 3:
        await asyncio.sleep(0.01)
    await scheduler.stop(grace_s=2.0)
    await job
    assert port.finished == port.started  # the three in flight were allowed to finish
    assert len(port.started) == 3  # and nothing new left after stop began
    ledger = await services.repos.ledger.all()
    sent = {(e.subscriber_id, m.insight_id)
            for e in ledger for m in e.messages if m.state == MessageState.SENT}
    assert sent == {(f"telegram:{chat}", insight) for chat, insight in port.finished}
    assert all(not e.finished for e in ledger)  # the rest stays queued for the next start


async def test_a_send_that_outlasts_the_grace_is_abandoned_and_stays_queued(tmp_path):
    services = await _services_with(tmp_path, chats=1)
    scheduler = CastfiveScheduler(services)
    port = SlowPort(delay=30.0)
    services.add_port(scheduler.gated(port))
    job = asyncio.create_task(scheduler._job("tick", scheduler.delivery_tick))
    while not port.started:
        await asyncio.sleep(0.01)
    began = asyncio.get_running_loop().time()
    await scheduler.stop(grace_s=0.3)
    await job
    assert asyncio.get_running_loop().time() - began < 2.0
    (entry,) = await services.repos.ledger.all()
    assert [m.state for m in entry.messages] == [MessageState.QUEUED] * len(entry.messages)


class TimedPort:
    """A chat port that notes the clock's time of every send."""

    platform = "telegram"

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.sent: list[tuple[str, str, datetime]] = []  # (chat id, insight id, when)

    async def send_digest_item(self, subscriber: Subscriber, item: DigestItem) -> SendOutcome:
        self.sent.append((subscriber.chat_id, item.insight.id, self.clock.now()))
        return SendOutcome.delivered(str(len(self.sent)))

    async def send_notice(self, subscriber: Subscriber, text: str) -> SendOutcome:
        return SendOutcome(OutcomeKind.DELIVERED)


WORDS = ("amber basil cedar delta ember fjord garnet harbor indigo juniper kestrel lagoon meadow nectar "
         "oasis pebble quartz raven sierra tundra umber velvet willow xenon yarrow zephyr anchor beacon "
         "canyon dune estuary falcon glacier heron island jasper kelp lantern mesa nimbus orchid prairie "
         "quill reef saffron thistle upland vista walrus yonder zinnia atlas bramble comet drift echo "
         "fern grove haze ivory jade knoll lichen marsh nova opal pine quarry ridge spruce tide vale wren "
         "birch cove dawn elm flint gale hollow iris jet kite loch moss north otter peak rain slate "
         "thorn urchin vine wave yew zinc acorn bay cliff dell fen glen heath inlet").split()


async def seed_distinct(repos: Repos, *, feeds: int, per_feed: int, created: datetime) -> None:
    """Like seed(), but no two insights share a word: none is a near-duplicate of another."""
    await seed(repos, feeds=feeds, per_feed=per_feed, created=created)
    words = iter(WORDS * 2)
    for n, insight in enumerate(await repos.insights.all()):
        text = " ".join(next(words) for _ in range(6)) + f" number {n} rose sharply"
        await repos.insights.put(dataclasses.replace(insight, text=text + ".", quote=text))


@pytest.mark.parametrize("start, plans", [
    # spring forward in Berlin (02:00 -> 03:00 on 28 March 2027): 02:30 comes at 03:30 CEST.
    # Tokyo's 07:00 had passed at the start: yesterday's digest is caught up at once.
    (datetime(2027, 3, 27, 0, 0, tzinfo=UTC), {
        "berlin-0230": ("Europe/Berlin", "02:30", [datetime(2027, 3, 27, 1, 30, tzinfo=UTC),
                                                    datetime(2027, 3, 28, 1, 30, tzinfo=UTC)]),
        "tokyo-0700": ("Asia/Tokyo", "07:00", [datetime(2027, 3, 27, 0, 0, tzinfo=UTC),
                                               datetime(2027, 3, 27, 22, 0, tzinfo=UTC),
                                               datetime(2027, 3, 28, 22, 0, tzinfo=UTC)]),
        "la-2200": ("America/Los_Angeles", "22:00", [datetime(2027, 3, 27, 5, 0, tzinfo=UTC),
                                                     datetime(2027, 3, 28, 5, 0, tzinfo=UTC)]),
    }),
    # fall back in New York (01:30 happens twice on 1 November 2026): the first one counts
    (datetime(2026, 10, 31, 0, 0, tzinfo=UTC), {
        "ny-0130": ("America/New_York", "01:30", [datetime(2026, 10, 31, 0, 0, tzinfo=UTC),
                                                  datetime(2026, 10, 31, 5, 30, tzinfo=UTC),
                                                  datetime(2026, 11, 1, 5, 30, tzinfo=UTC)]),
        "kolkata-0815": ("Asia/Kolkata", "08:15", [datetime(2026, 10, 31, 2, 45, tzinfo=UTC),
                                                   datetime(2026, 11, 1, 2, 45, tzinfo=UTC)]),
    }),
], ids=["spring-forward", "fall-back"])
async def test_two_days_of_ticks_send_one_digest_per_local_day_at_local_time(tmp_path, start, plans):
    clock = FakeClock(start)
    store = FakeStore()
    settings = _settings(tmp_path, telegram_messages_per_second=1000.0)
    services = build_services(settings, store=store, clock=clock)
    await seed_distinct(Repos(store), feeds=6, per_feed=4, created=start - timedelta(hours=1))
    created = start - timedelta(days=3)

    def subscriber(chat: str, zone: str = "UTC", hhmm: str = "08:00", **kw: object) -> Subscriber:
        return Subscriber(id=f"telegram:{chat}", platform="telegram", chat_id=chat, delivery_time=hhmm,
                          timezone=zone, **{"created_at": created, **kw})  # type: ignore[arg-type]

    for chat, (zone, hhmm, _) in plans.items():
        await services.repos.subscribers.put(subscriber(chat, zone, hhmm))
    # paused all along, and one subscribed at 09:00 UTC, after its 08:00 UTC time: from tomorrow
    await services.repos.subscribers.put(subscriber("paused", paused=True))
    await services.repos.subscribers.put(subscriber("late", created_at=start + timedelta(hours=9)))
    plans = {**plans, "late": ("UTC", "08:00", [start + timedelta(days=1, hours=8)])}
    port = TimedPort(clock)
    scheduler = CastfiveScheduler(services)
    services.add_port(scheduler.gated(port))
    step = timedelta(minutes=5)
    while clock.now() < start + timedelta(days=2):
        await scheduler.delivery_tick()
        clock.advance(minutes=5)
    for chat, (_, _, dues) in plans.items():
        times = [when for sent_to, _, when in port.sent if sent_to == chat]
        rounds = sorted(set(times))  # a digest goes out within one tick: one instant per digest
        assert len(rounds) == len(dues), f"{chat} was sent to at {rounds}, due {dues}"
        for due, first in zip(dues, rounds, strict=True):
            assert due <= first < due + step, f"{chat}: due {due}, sent {first}"
            assert 1 <= times.count(first) <= 5
        assert times.count(rounds[0]) == 5  # (later days have fewer fresh, distinct insights left)
        assert len({insight for sent_to, insight, _ in port.sent if sent_to == chat}) == len(times)
    assert not [s for s in port.sent if s[0] == "paused"]


async def test_a_run_still_going_makes_the_next_run_of_that_job_a_quiet_no_op(tmp_path):
    services = await _services_with(tmp_path, chats=0)
    scheduler = CastfiveScheduler(services)
    calls: list[int] = []
    release = asyncio.Event()

    async def slow() -> None:
        calls.append(1)
        await release.wait()

    first = asyncio.create_task(scheduler._job("poll", slow))
    await asyncio.sleep(0.01)
    await scheduler._job("poll", slow)  # returns at once
    assert calls == [1]
    release.set()
    await first
    await scheduler._job("poll", slow)
    assert calls == [1, 1]


async def test_a_failing_poll_is_logged_and_the_next_poll_runs(tmp_path, caplog):
    services = await _services_with(tmp_path, chats=0)
    scheduler = CastfiveScheduler(services)
    attempts = []

    async def broken() -> list:
        attempts.append(1)
        raise RuntimeError("feed table on fire")

    services.poller.poll_due = broken  # type: ignore[method-assign]
    await scheduler.poll_and_process()
    await scheduler.poll_and_process()
    assert len(attempts) == 2
    assert scheduler.status.last_poll_error == "RuntimeError" and scheduler.status.polls == 0
    assert "poll job failed" in caplog.text


async def test_daily_maintenance_prunes_old_ledger_entries_and_their_sent_history(tmp_path):
    services = await _services_with(tmp_path, chats=0)
    now = services.clock.now()
    old = LedgerEntry(subscriber_id="telegram:1", local_date="2026-09-01", chosen_at=now - timedelta(days=88),
                      messages=(LedgerMessage(insight_id="i00", state=MessageState.SENT),), finished=True)
    recent = dataclasses.replace(old, local_date="2026-11-27", chosen_at=now - timedelta(days=1),
                                 messages=(LedgerMessage(insight_id="i01", state=MessageState.SENT),))
    for entry in (old, recent):
        await services.repos.ledger.put(entry)
    await services.delivery.start()  # the sent history, loaded from the ledger
    scheduler = CastfiveScheduler(services)
    await scheduler.maintenance()
    assert [e.local_date for e in await services.repos.ledger.all()] == ["2026-11-27"]
    assert services.delivery.history.sent_ids("telegram:1") == {"i01": "2026-11-27"}
    assert scheduler.status.last_maintenance_at == now


async def test_the_service_ticks_on_its_own_and_stops_when_asked(tmp_path):
    services = await _services_with(tmp_path, chats=2)
    port = SlowPort(delay=0.0)
    stop = asyncio.Event()
    services.settings = dataclasses.replace(services.settings, delivery=DeliverySettings(tick_seconds=0.2))
    serving = asyncio.create_task(runtime.serve(services.settings, stop, services=services, adapters=[port]))
    for _ in range(200):
        if len(port.finished) == 10:
            break
        await asyncio.sleep(0.02)
    stop.set()
    await asyncio.wait_for(serving, 5)
    assert port.lifecycle == ["start", "stop"]
    assert len(port.finished) == 10 and len(set(port.finished)) == 10  # two chats, five each


async def test_a_stop_during_start_up_ends_the_service_at_once(tmp_path):
    services = await _services_with(tmp_path, chats=0)
    stuck = asyncio.Event()

    async def never_opens() -> None:
        await stuck.wait()

    services.store.start = never_opens  # type: ignore[method-assign]
    stop = asyncio.Event()
    serving = asyncio.create_task(runtime.serve(services.settings, stop, services=services))
    await asyncio.sleep(0.1)
    stop.set()
    await asyncio.wait_for(serving, 2)
