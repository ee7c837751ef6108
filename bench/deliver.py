"""A day's digests to 10,000 Telegram chats and 1,000 Discord channels under the platforms' limits.

`python bench/deliver.py [--telegram N] [--discord M] [--quick]` (quick: 1,000 + 100).

Seeds a real TinyDBStore in a temp folder (20 shows, 320 insights, every subscriber due now; a
tenth of the Telegram chats are groups, the two platforms' subscribers in one shuffled order as
they would sign up), then runs the real DeliveryService ticks, on the configured tick cadence,
through the real TelegramAdapter (python-telegram-bot with AIORateLimiter) and DiscordAdapter
(discord.py) against bench/fakes_limits.py's fakes, served from a child process that enforces
Telegram's 30 msg/s and 20/min per group and Discord's 50 req/s and 5 posts / 5 s per channel.
Prints the messages per second each platform accepted as a share of its limit, digests
delivered, lost (the ledger says sent but the platform never took it, or a due chat got fewer
than its chosen five) and duplicated (one chat got one insight twice), 429s, the time to deliver
everything and peak memory.

Speed is a share of each platform's limit. `--telegram-rate`/`--discord-rate` override the
[delivery] settings; `--burst`, `--ptb-retries`, `--per-platform` and `--concurrency` change the
product's wiring for one run, to measure a proposed change before making it (the table says so).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import random
import resource
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.fakes_limits import Limits  # noqa: E402
from bot.discord_bot import DiscordAdapter  # noqa: E402
from bot.telegram_bot import TelegramAdapter  # noqa: E402
from core.bootstrap import Services, build_services  # noqa: E402
from core.config import DataSettings, DiscordSettings, Secrets, Settings, TelegramSettings  # noqa: E402
from core.delivery.ratelimit import TokenBucket  # noqa: E402
from core.delivery.service import DeliveryService  # noqa: E402
from core.models import Episode, EpisodeState, Feed, Insight, InsightKind, Subscriber  # noqa: E402
from core.ports import Change  # noqa: E402
from core.store.repos import MessageState, Repos, ledger_key  # noqa: E402
from core.store.tinydb_store import TinyDBStore  # noqa: E402

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)  # every digest (08:00 UTC) is due
DAY = NOW.date().isoformat()
DIGEST_SIZE = Settings().insights.digest_size
FAKES = Path(__file__).resolve().parent / "fakes_limits.py"
SYLLABLES = "ka lo mi ne ru sa ti vo ze da fi gu ha je ko lu ma no pi qu re su ta ve wo xi yu zo".split()


class _Stub:
    """Fetcher, transcriber and extractor: never used by delivery, and never the heavy real ones."""

    name = "bench"

    async def start(self) -> None:
        return None


class FakeClock:
    """Calendar time stays at NOW: the bench measures one day's round, never a rollover."""

    def now(self) -> datetime:
        return NOW


# --- seeding ------------------------------------------------------------------------------------


def _sentence(rng: random.Random) -> str:
    words = ["".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))) for _ in range(14)]
    return " ".join(words).capitalize()


def catalogue(rng: random.Random, shows: int = 20, episodes: int = 2, per_episode: int = 8) -> list[Change]:
    """Operator shows, episodes and insights made yesterday, no two alike."""
    repos, made = Repos(None), NOW - timedelta(days=1)  # type: ignore[arg-type]  # tables only build changes
    changes: list[Change] = []
    for s in range(shows):
        feed = Feed(id=f"feed{s:02d}", url=f"https://shows.example.org/{s}.xml", title=f"Show {s}",
                    origin="operator", added_at=made - timedelta(days=30))
        changes.append(repos.feeds.change(feed))
        for e in range(episodes):
            page = f"https://shows.example.org/{s}/{e}"
            episode = Episode(id=f"ep{s:02d}{e}", feed_id=feed.id, identity=f"guid{s}-{e}",
                              title=f"Episode {e}", published_at=made, duration_s=3600,
                              audio_url=f"{page}.mp3", audio_type="audio/mpeg", page_url=page, description="",
                              state=EpisodeState.DONE)
            changes.append(repos.episodes.change(episode))
            for k in range(per_episode):
                text = _sentence(rng)
                changes.append(repos.insights.change(Insight(
                    id=f"i{s:02d}{e}{k}", episode_id=episode.id, feed_id=feed.id, text=text + ".", quote=text,
                    start=60.0 * k, end=60.0 * k + 25, kind=InsightKind.CLAIM,
                    score=round(rng.uniform(0.45, 0.95), 3), created_at=made)))
    return changes


def subscribers(rng: random.Random, telegram: int, discord: int, shows: int = 20) -> list[Subscriber]:
    """Telegram chats (a tenth groups) and Discord channels, shuffled; a third follow six shows only."""
    chats = [str(-1_001_000_000_000 - n) if n % 10 == 0 else str(10_000_000 + n) for n in range(telegram)]
    subs = [Subscriber(id=f"telegram:{c}", platform="telegram", chat_id=c) for c in chats]
    subs += [Subscriber(id=f"discord:{c}", platform="discord", chat_id=str(c))
             for c in range(1_200_000_000_000_000_000, 1_200_000_000_000_000_000 + discord)]
    rng.shuffle(subs)
    feeds = [f"feed{s:02d}" for s in range(shows)]
    return [dataclasses.replace(s, created_at=NOW - timedelta(days=30), title=s.chat_id,
                                feed_ids=tuple(sorted(rng.sample(feeds, 6))) if rng.random() < 0.3 else None)
            for s in subs]


# --- the fakes' process -----------------------------------------------------------------------------


class FakePlatforms:
    """bench/fakes_limits.py in a child process: its addresses, then its report."""

    def __init__(self, proc: asyncio.subprocess.Process, hello: dict[str, str]) -> None:
        self.proc, self.hello = proc, hello

    @classmethod
    async def start(cls, limits: Limits) -> FakePlatforms:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(FAKES), "--limits", json.dumps(dataclasses.asdict(limits)),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=1 << 28)
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        if not line:
            raise RuntimeError("the fakes' process exited before serving")
        return cls(proc, json.loads(line))

    async def report(self) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(b"report\n")
        await self.proc.stdin.drain()
        return json.loads(await asyncio.wait_for(self.proc.stdout.readline(), 120))

    async def close(self) -> None:
        if self.proc.returncode is None:
            assert self.proc.stdin is not None
            self.proc.stdin.write(b"quit\n")
            await self.proc.stdin.drain()
            try:
                await asyncio.wait_for(self.proc.wait(), 15)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


# --- measuring ------------------------------------------------------------------------------------------


@dataclass
class PlatformFigures:
    """One platform's side of the round."""

    name: str
    limit: float  # messages per second the platform allows
    subscribers: int = 0
    delivered: int = 0  # digests whose every chosen insight the platform took, ledger finished
    lost: int = 0
    short: int = 0  # digests that chose fewer than five insights
    duplicated: int = 0  # extra copies of an insight in one chat
    messages: int = 0  # messages the platform accepted
    refused: dict[str, int] = field(default_factory=dict)
    refused_late: int = 0  # 429s more than 10 s after the first message: not the opening burst
    span_s: float = 0.0  # first to last accepted message
    busiest_second: int = 0  # most messages accepted in any sliding second

    @property
    def rate(self) -> float:
        return max(0, self.messages - 1) / max(self.span_s, 1.0)  # a burst under a second: per second

    @property
    def share(self) -> float:
        return self.rate / self.limit


@dataclass
class Result:
    """Everything the bench prints."""

    platforms: dict[str, PlatformFigures]
    deliver_s: float
    ticks: int
    settings: dict[str, Any]
    bot_rss_mib: float
    fakes_rss_mib: float

    @property
    def lost(self) -> int:
        return sum(p.lost for p in self.platforms.values())

    @property
    def duplicated(self) -> int:
        return sum(p.duplicated for p in self.platforms.values())

    @property
    def delivered(self) -> int:
        return sum(p.delivered for p in self.platforms.values())


def busiest_second(times: list[float]) -> int:
    """The most timestamps inside any one-second window."""
    best, first = 0, 0
    for last, at in enumerate(times):
        while at - times[first] >= 1.0:
            first += 1
        best = max(best, last - first + 1)
    return best


async def measure(repos: Repos, subs: list[Subscriber], report: dict[str, Any],
                  limits: Limits) -> dict[str, PlatformFigures]:
    """Compare the ledger with what each platform accepted."""
    figures = {"telegram": PlatformFigures("telegram", limits.telegram_per_second),
               "discord": PlatformFigures("discord", limits.discord_global_per_second)}
    received: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for name, fig in figures.items():
        accepted = report[name]["accepted"]
        times = sorted(a[3] for a in accepted)
        fig.messages, fig.refused = len(accepted), report[name]["refused"]
        fig.span_s = times[-1] - times[0] if times else 0.0
        fig.busiest_second = busiest_second(times)
        fig.refused_late = sum(1 for t in report[name]["refused_at"] if times and t > times[0] + 10)
        for chat, insight, message_id, _ in accepted:
            received[(name, chat)].append((insight, message_id))
    for sub in subs:
        fig = figures[sub.platform]
        fig.subscribers += 1
        got = received.get((sub.platform, sub.chat_id), [])
        fig.duplicated += sum(n - 1 for n in Counter(i for i, _ in got).values())
        entry = await repos.ledger.get(ledger_key(sub.id, DAY))
        insights, message_ids = {i for i, _ in got}, {m for _, m in got}
        complete = entry is not None and entry.finished and len(entry.messages) > 0 and all(
            m.state == MessageState.SENT and m.insight_id in insights and set(m.message_ids) <= message_ids
            for m in entry.messages)
        fig.short += entry is not None and len(entry.messages) < DIGEST_SIZE
        if complete:
            fig.delivered += 1
        else:
            fig.lost += 1
    return figures


# --- the round --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Experiment:
    """Departures from the product's wiring, to measure a proposed change (all off by default)."""

    concurrency: int | None = None  # DeliveryService max_concurrent instead of its default
    burst: float | None = None  # the platform token buckets' burst (the service uses burst = rate)
    per_platform: bool = False  # one DeliveryService per platform: each its own concurrency
    ptb_retries: int | None = None  # AIORateLimiter max_retries (TelegramAdapter passes 0)

    def describe(self) -> str:
        parts = [f"token bucket burst={self.burst:g}"] if self.burst is not None else []
        parts += ["one DeliveryService per platform"] if self.per_platform else []
        parts += [f"AIORateLimiter max_retries={self.ptb_retries}"] if self.ptb_retries is not None else []
        return f" | experiment: {', '.join(parts)}" if parts else ""


async def run(telegram: int, discord: int, *, tick_seconds: float | None = None, limits: Limits | None = None,
              delivery: dict[str, Any] | None = None, experiment: Experiment | None = None,
              progress: bool = False, dump: Path | None = None) -> Result:
    """Seed, deliver every due digest through the real adapters, and measure."""
    limits, experiment = limits or Limits(), experiment or Experiment()
    rng = random.Random(7)
    tmp = Path(tempfile.mkdtemp(prefix="castfive-bench-deliver-"))
    fakes = await FakePlatforms.start(limits)
    try:
        hello = fakes.hello
        base = Settings()
        settings = Settings(
            data=DataSettings(dir=str(tmp)), delivery=dataclasses.replace(base.delivery, **(delivery or {})),
            telegram=TelegramSettings(api_base_url=hello["telegram_url"]),
            discord=DiscordSettings(api_base_url=hello["discord_api"], gateway_url=hello["discord_gateway"]),
            secrets=Secrets(telegram_token=hello["telegram_token"], discord_token=hello["discord_token"]))
        store = TinyDBStore(tmp)
        stub: Any = _Stub()
        services = build_services(settings, clock=FakeClock(), store=store, fetcher=stub, transcriber=stub,
                                  extractor=stub)
        await store.start()
        subs = subscribers(rng, telegram, discord)
        changes = catalogue(rng) + services.repos.subscribers.changes(subs)
        for first in range(0, len(changes), 2000):
            await store.apply(changes[first:first + 2000])
        rounds = _deliveries(services, settings, experiment)
        telegram_adapter = TelegramAdapter.from_settings(services.api, settings)
        if experiment.ptb_retries is not None:
            telegram_adapter = TelegramAdapter(
                services.api, settings.secrets.telegram_token, base_url=settings.telegram.api_base_url,
                messages_per_second=settings.delivery.telegram_messages_per_second,
                max_retries=experiment.ptb_retries)
        adapters = [telegram_adapter, DiscordAdapter.from_settings(services.api, settings)]
        result = await _deliver(services, rounds, adapters, settings, subs, fakes, limits, tick_seconds,
                                progress, dump)
        result.settings["experiment"] = experiment.describe()
        await store.close()
        return result
    finally:
        await fakes.close()
        shutil.rmtree(tmp, ignore_errors=True)


Rounds = list[tuple[DeliveryService, tuple[str, ...]]]  # each service and the platforms it sends to


def _deliveries(services: Services, settings: Settings, experiment: Experiment) -> Rounds:
    """The product's one DeliveryService, or the experiment's."""
    if dataclasses.replace(experiment, ptb_retries=None) == Experiment():
        return [(services.delivery, ("telegram", "discord"))]
    groups: list[tuple[str, ...]] = [("telegram",), ("discord",)] if experiment.per_platform \
        else [("telegram", "discord")]
    concurrency = experiment.concurrency or _concurrency(services.delivery)
    made: Rounds = [(DeliveryService(services.repos, services.builder, services.clock, settings, {},
                                     max_concurrent=concurrency), g) for g in groups]
    if experiment.burst is not None:
        rates = {"telegram": settings.delivery.telegram_messages_per_second,
                 "discord": settings.delivery.discord_messages_per_second}
        for service, _ in made:
            service._buckets = {name: TokenBucket(rate, experiment.burst) for name, rate in rates.items()}
    return made


async def _deliver(services: Services, rounds: Rounds, adapters: list[Any], settings: Settings,
                   subs: list[Subscriber], fakes: FakePlatforms, limits: Limits, tick_seconds: float | None,
                   progress: bool, dump: Path | None) -> Result:
    for adapter in adapters:
        await adapter.start()
        for service, platforms in rounds:
            if adapter.platform in platforms:
                service.ports[adapter.platform] = adapter
    interval = tick_seconds or settings.delivery.tick_seconds
    started = time.monotonic()
    ticks = 0
    try:
        while True:  # the scheduler's cadence: a tick every `interval` s, none while one runs
            reports = await asyncio.gather(*(service.tick() for service, _ in rounds))
            ticks += 1
            due, finished = sum(r.due for r in reports), sum(r.digests_finished for r in reports)
            if progress:
                print(f"tick {ticks} at {time.monotonic() - started:7.1f} s: due {due}, finished {finished}, "
                      f"sent {sum(r.messages_sent for r in reports)}", flush=True)
            if due == finished or ticks >= 30:
                break
            await asyncio.sleep(interval - (time.monotonic() - started) % interval)
        deliver_s = time.monotonic() - started
    finally:
        for adapter in adapters:
            await adapter.stop()
    taken = await fakes.report()
    if dump is not None:  # every accepted message and 429 with its time (one monotonic clock)
        dump.write_text(json.dumps({"started": started, **taken}))
    figures = await measure(services.repos, subs, taken, limits)
    await fakes.close()
    used = settings.delivery
    return Result(
        platforms=figures, deliver_s=deliver_s, ticks=ticks,
        settings={"telegram_messages_per_second": used.telegram_messages_per_second,
                  "discord_messages_per_second": used.discord_messages_per_second,
                  "max_concurrent": _concurrency(rounds[0][0]), "tick_seconds": interval},
        bot_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        fakes_rss_mib=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)


def _concurrency(delivery: DeliveryService) -> int:
    """How many digests the service sends at once (private to it: read for the report only)."""
    return int(delivery._workers)


# --- output -----------------------------------------------------------------------------------


def table(result: Result) -> str:
    """The figures, one row per measure, one column per platform."""
    tg, dc = result.platforms["telegram"], result.platforms["discord"]
    rows = [
        ("subscribers due", f"{tg.subscribers:,}", f"{dc.subscribers:,}"),
        ("digests delivered", f"{tg.delivered:,}", f"{dc.delivered:,}"),
        ("digests lost", f"{tg.lost:,}", f"{dc.lost:,}"),
        (f"digests of fewer than {DIGEST_SIZE}", f"{tg.short:,}", f"{dc.short:,}"),
        ("insights duplicated", f"{tg.duplicated:,}", f"{dc.duplicated:,}"),
        ("messages accepted", f"{tg.messages:,}", f"{dc.messages:,}"),
        ("first to last message", f"{tg.span_s:,.1f} s", f"{dc.span_s:,.1f} s"),
        ("messages per second", f"{tg.rate:.2f}", f"{dc.rate:.2f}"),
        ("share of platform limit", f"{tg.share:.1%} of {tg.limit:g}/s", f"{dc.share:.1%} of {dc.limit:g}/s"),
        ("busiest sliding second", f"{tg.busiest_second}", f"{dc.busiest_second}"),
        ("429s answered", _refused(tg.refused), _refused(dc.refused)),
        ("  of which after the first 10 s", f"{tg.refused_late:,}", f"{dc.refused_late:,}"),
    ]
    width = max(len(r[0]) for r in rows)
    cols = [max(len(r[i]) for r in rows) for i in (1, 2)]
    lines = [f"{'':{width}}  {'Telegram':>{cols[0]}}  {'Discord':>{cols[1]}}"]
    lines += [f"{a:{width}}  {b:>{cols[0]}}  {c:>{cols[1]}}" for a, b, c in rows]
    s = result.settings
    lines += [
        f"time to deliver everything: {result.deliver_s:,.1f} s in {result.ticks} tick(s) "
        f"(tick every {s['tick_seconds']:g} s)",
        f"delivery settings: telegram_messages_per_second={s['telegram_messages_per_second']:g}, "
        f"discord_messages_per_second={s['discord_messages_per_second']:g}, "
        f"max_concurrent={s['max_concurrent']}{s.get('experiment', '')}",
        f"peak memory (ru_maxrss): bot {result.bot_rss_mib:,.0f} MiB, "
        f"fakes' process {result.fakes_rss_mib:,.0f} MiB",
    ]
    return "\n".join(lines)


def _refused(refused: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(refused.items())) or "0"


class _FirstFew(logging.Handler):
    """Print the first few warnings of each logger, count the rest (discord.py warns on every 429)."""

    def __init__(self, keep: int = 5) -> None:
        super().__init__(logging.WARNING)
        self.keep, self.counts = keep, Counter[str]()

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if "voice will NOT be supported" in text or "Can't keep up" in text:
            # optional voice packages; and a loopback gateway acks a heartbeat before discord.py's
            # keep-alive thread notes the send time, which it reports as a whole interval behind
            return
        self.counts[record.name] += 1
        if self.counts[record.name] <= self.keep:  # the message only: tracebacks would flood the table
            print(f"{record.levelname} {record.name}: {text}", file=sys.stderr)

    def summary(self) -> str:
        more = {k: n - self.keep for k, n in self.counts.items() if n > self.keep}
        return ", ".join(f"{k}: {n} more" for k, n in sorted(more.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--telegram", type=int, default=None, help="Telegram chats (default 10,000)")
    parser.add_argument("--discord", type=int, default=None, help="Discord channels (default 1,000)")
    parser.add_argument("--quick", action="store_true", help="1,000 chats and 100 channels")
    parser.add_argument("--telegram-rate", type=float, help="override delivery.telegram_messages_per_second")
    parser.add_argument("--discord-rate", type=float, help="override delivery.discord_messages_per_second")
    parser.add_argument("--concurrency", type=int, help="DeliveryService max_concurrent (default: its own)")
    parser.add_argument("--burst", type=float, help="experiment: DeliveryService's token buckets "
                        "with this burst (the code uses burst = rate)")
    parser.add_argument("--per-platform", action="store_true",
                        help="experiment: one DeliveryService per platform (the code shares one)")
    parser.add_argument("--ptb-retries", type=int,
                        help="experiment: AIORateLimiter max_retries (TelegramAdapter uses 0)")
    parser.add_argument("--tick-seconds", type=float, help="delivery tick cadence (default: the setting)")
    parser.add_argument("--progress", action="store_true", help="a line per tick")
    parser.add_argument("--dump", type=Path, help="write what the fakes took and refused, with times")
    args = parser.parse_args()
    telegram = args.telegram if args.telegram is not None else (1_000 if args.quick else 10_000)
    discord = args.discord if args.discord is not None else (100 if args.quick else 1_000)
    overrides = {k: v for k, v in (("telegram_messages_per_second", args.telegram_rate),
                                   ("discord_messages_per_second", args.discord_rate)) if v is not None}
    handler = _FirstFew()
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    print(f"delivering to {telegram:,} Telegram chats and {discord:,} Discord channels ...", flush=True)
    result = asyncio.run(run(telegram, discord, tick_seconds=args.tick_seconds, delivery=overrides,
                             experiment=Experiment(args.concurrency, args.burst, args.per_platform,
                                                    args.ptb_retries),
                             progress=args.progress, dump=args.dump))
    print(table(result))
    if handler.summary():
        print(f"warnings not shown: {handler.summary()}")


if __name__ == "__main__":
    main()
