"""A whole delivery round at product size (`python bench/digest.py`).

Builds a TinyDBStore in a temp folder with 10,000 subscribers (eight time zones, 40% with their
own feed lists, some with feedback weights), 200 feeds, 5,000 insights of the last 30 days
(templated texts, ~10% paraphrases of another show's insight) and 30 days of sent history
(300,000 ledger entries). Then, in a fresh process (so peak memory is the round's own), runs
`DeliveryService.tick()` for all 10,000 with chat ports that deliver at once and no send-rate
limit, while a ticker measures how late the event loop wakes it (stalls).

Reference figures from the same run: the old choosing path (rank every candidate with
`choose_digest`) against the new one on 500 subscribers, and a 64-subscriber round with the
journal against the same round with the whole-file flush used before.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.config import DeliverySettings, Settings
from core.delivery.schedule import local_day_of
from core.delivery.service import DeliveryService
from core.digests import DigestBuilder
from core.models import (
    Episode,
    EpisodeState,
    Feed,
    Insight,
    InsightKind,
    SendOutcome,
    Subscriber,
)
from core.ports import Change
from core.ranking import choose_digest
from core.store.codec import to_doc
from core.store.repos import LedgerEntry, LedgerMessage, Repos
from core.store.tinydb_store import TinyDBStore

NOW = datetime(2026, 11, 28, 22, 0, tzinfo=UTC)  # every zone below is past its delivery time
ZONES = [  # (zone, delivery times that are due at NOW; east of Berlin it is already tomorrow)
    ("Pacific/Honolulu", ["07:00", "09:30"]), ("America/Los_Angeles", ["07:00", "08:00", "12:00"]),
    ("America/New_York", ["08:00", "09:00"]), ("America/Sao_Paulo", ["06:30", "18:00"]),
    ("UTC", ["08:00", "21:30"]), ("Europe/Berlin", ["07:00", "08:00"]),
    ("Asia/Kolkata", ["03:00"]), ("Asia/Tokyo", ["06:00", "06:30"]),
]
KINDS = list(InsightKind)
FILLER = ["the", "and", "that", "of", "to", "is", "in", "for", "with", "their", "than", "they"]


def vocabulary(rng: random.Random, size: int = 6000) -> tuple[list[str], list[float]]:
    """Made-up content words with Zipf-like frequencies, as in speech: a few very common."""
    syllables = ["ba", "ko", "ri", "tem", "sul", "na", "vor", "pli", "dru", "gen", "mo", "fa",
                 "zet", "lin", "qua", "ros", "te", "wi", "chan", "del"]
    words = sorted({"".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))
                    for _ in range(size * 2)})[:size]
    rng.shuffle(words)
    return words, [1.0 / (rank + 50) for rank in range(len(words))]


def insight_text(rng: random.Random, words: list[str], weights: list[float], like: str | None) -> str:
    """A 12-25 word sentence; `like` gives a paraphrase keeping most of its content words."""
    if like is not None:
        content = [w for w in like.rstrip(".").split() if w not in FILLER]
        content = [w for w in content if rng.random() < 0.8] + rng.choices(words, weights, k=2)
        rng.shuffle(content)
    else:
        content = rng.choices(words, weights, k=rng.randint(8, 15))
        if rng.random() < 0.3:
            content.insert(rng.randrange(len(content)), f"{rng.randint(2, 99)}")
    out = []
    for word in content:
        out.append(word)
        if rng.random() < 0.5:
            out.append(rng.choice(FILLER))
    return (" ".join(out)).capitalize() + "."


def make_world(rng: random.Random, n_feeds: int, n_insights: int, n_subscribers: int):
    feeds = [Feed(id=f"feed{f:03d}", url=f"https://podcasts.example.org/{f}.xml", title=f"Show {f}",
                  origin="operator" if f < n_feeds * 3 // 4 else "user") for f in range(n_feeds)]
    episodes, insights = [], []
    per_episode = 12
    for e in range(n_insights // per_episode + 1):
        feed = rng.choice(feeds)
        published = NOW - timedelta(hours=rng.uniform(2, 30 * 24))
        episodes.append(Episode(
            id=f"ep{e:05d}", feed_id=feed.id, identity=f"guid{e}", title=f"Episode {e}",
            published_at=published, duration_s=3600, audio_url=f"https://cdn.example.org/{e}.mp3",
            audio_type="audio/mpeg", page_url=f"https://example.org/e/{e}", description="",
            state=EpisodeState.DONE))
    words, weights = vocabulary(rng)
    texts: list[str] = []
    for i in range(n_insights):
        episode = episodes[i // per_episode]
        like = rng.choice(texts) if texts and rng.random() < 0.10 else None  # said on another show
        text = insight_text(rng, words, weights, like)
        texts.append(text)
        start = 60.0 * (i % per_episode) + rng.uniform(0, 40)
        insights.append(Insight(
            id=f"{rng.getrandbits(48):012x}", episode_id=episode.id, feed_id=episode.feed_id,
            text=text, quote=text, start=start, end=start + rng.uniform(8, 30),
            kind=rng.choice(KINDS), score=round(min(0.98, max(0.05, rng.gauss(0.6, 0.18))), 3),
            created_at=episode.published_at + timedelta(hours=1)))
    operator = [f.id for f in feeds if f.origin == "operator"]
    subscribers = []
    for n in range(n_subscribers):
        zone, times = ZONES[n % len(ZONES)]
        follows = None if rng.random() < 0.6 else tuple(rng.sample([f.id for f in feeds], rng.randint(3, 40)))
        shows = ({f: rng.choice([-0.3, -0.1, 0.1, 0.2, 0.4]) for f in rng.sample(operator, rng.randint(1, 5))}
                 if rng.random() < 0.2 else {})
        kinds = ({k.value: rng.choice([-0.2, 0.1, 0.3]) for k in rng.sample(KINDS, 2)}
                 if rng.random() < 0.1 else {})
        platform = "discord" if n < 64 else "telegram"
        subscribers.append(Subscriber(
            id=f"{platform}:{100000 + n}", platform=platform, chat_id=str(100000 + n),
            feed_ids=follows, delivery_time=rng.choice(times), timezone=zone, show_weights=shows,
            kind_weights=kinds, created_at=datetime(2026, 9, 1, tzinfo=UTC)))
    return feeds, episodes, insights, subscribers


def history_docs(rng: random.Random, insights: list[Insight], subscribers: list[Subscriber], days: int):
    """Ledger documents: five insights a day per subscriber, from what was new that week."""
    by_day = []
    for d in range(1, days + 1):
        day_start = NOW - timedelta(days=d)
        window = [i for i in insights if day_start - timedelta(days=7) <= i.created_at <= day_start]
        window.sort(key=lambda i: -i.score)
        by_day.append(window[:400] or insights[:400])  # mostly the good ones get sent
    template = to_doc(LedgerEntry("s", "d", (LedgerMessage("i", "sent", ("1",), "", 1),), NOW, True))
    message_id = 0
    for subscriber in subscribers:
        follows = set(subscriber.feed_ids) if subscriber.feed_ids is not None else None
        today = local_day_of(NOW, subscriber.timezone)
        for d in range(1, days + 1):
            pool = by_day[d - 1]
            if follows is not None:
                pool = [i for i in pool if i.feed_id in follows] or pool
            chosen = rng.sample(pool, min(5, len(pool)))
            day = (today - timedelta(days=d)).isoformat()
            messages = []
            for insight in chosen:
                message_id += 1
                messages.append({**template["messages"][0], "insight_id": insight.id,
                                 "message_ids": [str(message_id)]})
            yield f"{subscriber.id}|{day}", {**template, "subscriber_id": subscriber.id,
                                             "local_date": day, "messages": messages,
                                             "chosen_at": (NOW - timedelta(days=d)).isoformat()}


async def build_store(directory: Path, seed: int, subscribers_n: int, days: int) -> dict:
    rng = random.Random(seed)
    feeds, episodes, insights, subscribers = make_world(rng, 200, 5000, subscribers_n)
    store = TinyDBStore(directory)
    await store.start()
    repos = Repos(store)
    changes = ([repos.feeds.change(f) for f in feeds] + [repos.episodes.change(e) for e in episodes]
               + [repos.insights.change(i) for i in insights]
               + [repos.subscribers.change(replace(s, last_digest_date=None)) for s in subscribers])
    for first in range(0, len(changes), 5000):
        await store.apply(changes[first:first + 5000])
    batch: list[Change] = []
    entries = 0
    for key, doc in history_docs(rng, insights, subscribers, days):
        batch.append(Change("ledger", key, doc))
        entries += 1
        if len(batch) == 5000:
            await store.apply(batch)
            batch = []
    await store.apply(batch)
    await store.close()
    return {"feeds": len(feeds), "insights": len(insights), "subscribers": len(subscribers),
            "ledger": entries}


class InstantPort:
    """A chat port that delivers every message at once."""

    def __init__(self) -> None:
        self.sent = 0

    async def send_digest_item(self, subscriber, item) -> SendOutcome:
        self.sent += 1
        return SendOutcome.delivered(str(self.sent))

    async def send_notice(self, subscriber, text) -> SendOutcome:
        return SendOutcome.delivered("notice")


class FixedClock:
    def now(self) -> datetime:
        return NOW


class StallMeter:
    """A task that sleeps 10 ms again and again and keeps the worst lateness of its wake-ups."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self.worst = 0.0
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + 0.010
            await asyncio.sleep(0.010)
            self.worst = max(self.worst, loop.time() - due)

    async def stop(self) -> float:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        return self.worst


class CpuMeters:
    """Loop stalls in CPU time, so a busy machine does not inflate them: the longest step the
    event loop ran (a callback or task step, loop thread CPU) and the longest pass of Python's
    garbage collector (CPU of the thread it ran in; it holds the GIL, so the loop waits)."""

    step = gc_pause = 0.0
    _gc_started = 0.0

    @classmethod
    def install(cls) -> None:
        original = asyncio.events.Handle._run

        def run(handle: asyncio.events.Handle) -> None:
            started = time.thread_time()
            try:
                original(handle)
            finally:
                cls.step = max(cls.step, time.thread_time() - started)

        asyncio.events.Handle._run = run  # type: ignore[method-assign]

        def callback(phase: str, info: dict) -> None:
            if phase == "start":
                cls._gc_started = time.thread_time()
            else:
                cls.gc_pause = max(cls.gc_pause, time.thread_time() - cls._gc_started)

        gc.callbacks.append(callback)


async def timed(coro, meter: StallMeter) -> tuple[object, dict]:
    await asyncio.sleep(0)  # end the current loop step: it holds work done before this
    cpu, wall = time.process_time(), time.perf_counter()
    CpuMeters.step = CpuMeters.gc_pause = 0.0
    meter.start()
    result = await coro
    stall = await meter.stop()
    return result, {"cpu_s": time.process_time() - cpu, "wall_s": time.perf_counter() - wall,
                    "stall_ms": stall * 1000, "step_ms": CpuMeters.step * 1000,
                    "gc_ms": CpuMeters.gc_pause * 1000}


async def run_round(directory: Path, journal: bool, platforms: list[str], compare: int) -> dict:
    """The child process: open the store, choose and send every due digest, report figures."""
    settings = Settings(delivery=DeliverySettings(telegram_messages_per_second=1e9,
                                                  discord_messages_per_second=1e9))
    meter = StallMeter()
    CpuMeters.install()
    store = TinyDBStore(directory, journal=journal)
    _, opened = await timed(store.start(), meter)
    repos = Repos(store)
    builder = DigestBuilder(repos, settings)
    ports = {p: InstantPort() for p in platforms}
    delivery = DeliveryService(repos, builder, FixedClock(), settings, ports)
    _, history = await timed(delivery.start(), meter)
    gc.freeze()  # as bot/runtime.py does once the store and history are loaded
    figures = {"open": opened, "history": history}
    if compare:
        figures["compare"] = await compare_choosing(builder, delivery, compare)
    report, figures["round"] = await timed(delivery.tick(), meter)
    figures["due"], figures["digests"] = report.due, report.digests_finished
    figures["sent"] = report.messages_sent
    _, figures["idle_tick"] = await timed(delivery.tick(), meter)  # a minute later: all done
    figures["flushes"], figures["snapshots"] = store.flushes, store.snapshots
    figures["disk_before_close"] = disk_usage(directory)
    figures["maxrss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if compare:  # what a crash now would leave: the next start replays the round's journal
        image = directory.parent / f"{directory.name}-crash"
        shutil.copytree(directory, image)
        recovered = TinyDBStore(image)
        _, figures["recover"] = await timed(recovered.start(), meter)
        figures["replayed"] = recovered.replayed
        await recovered.close()
        shutil.rmtree(image)
    _, figures["close"] = await timed(store.close(), meter)
    return figures


async def compare_choosing(builder: DigestBuilder, delivery: DeliveryService, sample: int) -> dict:
    """New choose against the old path (rank every candidate), on the same subscribers."""
    subscribers = random.Random(1).sample(await builder.load_subscribers(), sample)
    cfg = builder.settings.insights
    catalog = await builder.load_catalog()
    days = [date.fromisoformat(local_day_of(NOW, s.timezone).isoformat()) for s in subscribers]
    started = time.process_time()
    new = [builder.choose(catalog, s, delivery.history, NOW, d)
           for s, d in zip(subscribers, days, strict=True)]
    new_s = time.process_time() - started
    started = time.process_time()
    old = []
    for s, day in zip(subscribers, days, strict=True):
        sent = delivery.history.sent_ids(s.id)
        since = NOW - timedelta(days=cfg.lookback_days)
        candidates = [i for f in catalog.feeds_of(s) for i in catalog.by_feed.get(f, ())
                      if i.id not in sent and (i.created_at is None or i.created_at >= since)]
        oldest = (day - timedelta(days=cfg.dedupe_days)).isoformat()
        recent = [catalog.insights[i] for i, d in sent.items() if d >= oldest and i in catalog.insights]
        old.append(choose_digest(candidates, subscriber=s, sent_recent=recent, size=cfg.digest_size,
                                 max_per_episode=cfg.max_per_episode_in_digest, min_score=cfg.min_score))
    old_s = time.process_time() - started
    same = sum([i.id for i in a] == [i.id for i in b] for a, b in zip(new, old, strict=True))
    return {"sample": sample, "new_ms": new_s / sample * 1000, "old_ms": old_s / sample * 1000,
            "same": same, "picked": sum(map(len, new)) / sample}


def disk_usage(directory: Path) -> dict:
    """MiB by role: snapshot, its last-good copy, journal, the folded journal kept for the .bak."""
    names = {"castfive.json": "snapshot", "castfive.json.bak": ".bak",
             "castfive.journal": "journal", "castfive.journal.1": "journal.1"}
    sizes = dict.fromkeys([*names.values(), "blobs", "other"], 0.0)
    for path in directory.rglob("*"):
        if path.is_file():
            kind = "blobs" if path.parent.name == "blobs" else names.get(path.name, "other")
            sizes[kind] += path.stat().st_size / 2**20
    return sizes


def sizes_text(sizes: dict) -> str:
    return ", ".join(f"{k} {v:.1f} MiB" for k, v in sizes.items() if v or k == "blobs")


def child(directory: Path, *args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", str(directory), *args],
                         capture_output=True, text=True, check=False)
    if out.returncode:
        raise SystemExit(f"round failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.splitlines()[-1])


def line(name: str, f: dict, per: int = 0) -> str:
    each = f" ({f['cpu_s'] / per * 1000:.2f} ms per digest)" if per else ""
    return (f"{name:13s} CPU {f['cpu_s']:6.2f} s{each} | wall {f['wall_s']:6.2f} s | loop late "
            f"by {f['stall_ms']:5.0f} ms at worst; longest step {f['step_ms']:4.0f} ms CPU, "
            f"GC pause {f['gc_ms']:4.0f} ms CPU")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--sample", type=int, default=500, help="subscribers for the choose ratio")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        directory, journal, platforms, compare = args.child
        figures = asyncio.run(run_round(Path(directory), journal == "journal",
                                        platforms.split(","), int(compare)))
        print(json.dumps(figures))
        return
    root = Path(tempfile.mkdtemp(prefix="castfive-bench-digest-"))
    try:
        started = time.perf_counter()
        counts = asyncio.run(build_store(root / "main", 11, args.subscribers, args.days))
        print(f"store: {counts} built in {time.perf_counter() - started:.0f} s; on disk: "
              + sizes_text(disk_usage(root / "main")))
        for mode in ("journal", "whole"):  # the reference round: 64 subscribers, both flushes
            shutil.copytree(root / "main", root / mode)
        small = {mode: child(root / mode, mode, "discord", "0") for mode in ("journal", "whole")}
        r = child(root / "main", "journal", "telegram,discord", str(args.sample))
        n = r["digests"]
        print(f"\nround (DeliveryService.tick, journal): {r['due']:,} due, {n:,} digests sent "
              f"({r['due'] - n} had nothing good enough: their day stays open), {r['sent']:,} "
              f"messages, {r['flushes']:,} group commits, {r['snapshots']} snapshots")
        print(line("open store", r["open"]))
        print(line("load history", r["history"]))
        print(line("round", r["round"], n))
        print(line("next tick", r["idle_tick"]))
        print(line("close (fold)", r["close"]))
        print(line("crash restart", r["recover"]) + f" ({r['replayed']:,} records replayed)")
        print(f"on disk after the round: {sizes_text(r['disk_before_close'])}; peak memory of "
              f"the round (ru_maxrss) {r['maxrss_mib']:.0f} MiB")
        c = r["compare"]
        print(f"\nchoose only, {c['sample']} subscribers: new {c['new_ms']:.3f} ms vs old "
              f"{c['old_ms']:.2f} ms CPU per digest = {c['old_ms'] / c['new_ms']:.0f}x faster; "
              f"identical picks for {c['same']}/{c['sample']} ({c['picked']:.1f} insights each)")
        j, w = small["journal"], small["whole"]
        print(f"64-subscriber round: journal {j['round']['wall_s']:.2f} s wall "
              f"({j['flushes']} commits) vs whole-file flush {w['round']['wall_s']:.2f} s "
              f"({w['flushes']} commits) = {w['round']['wall_s'] / j['round']['wall_s']:.0f}x faster")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
