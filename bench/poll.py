"""Polling cost: feed parsing on the corpus, then 1,000 ~50-item feeds polled cold and warm.

Run: python bench/poll.py [--feeds 1000] [--items 50] [--concurrency 16]
1. Parse CPU per feed of every feed in ../shared/corpus/feeds (when present) and of one
   synthetic feed: the feedparser reader (the reference, today's fallback) against the fast
   RSS reader, in the same run. Target: >= 5x less CPU.
2. The same 1,000 feeds polled cold (fetch + parse + store) with each reader, then warm (304,
   nothing parsed) with each: cold gets faster, warm stays as it was.
The feed server runs in a child process, so the CPU time reported is the poller's own.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import multiprocessing
import resource
import sys
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiohttp import web

import core.feeds.parse as parse_module
from core.adapters.http import SafeFetcher
from core.config import HttpSettings, Settings
from core.feeds.parse import parse_feed
from core.feeds.poller import FeedPoller
from core.ids import feed_id_for
from core.models import Feed
from core.store.tables import Table
from tests.fakes.clock import FakeClock
from tests.fakes.memory_store import FakeStore

NOW = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "feeds"
FAST_READER = parse_module.read_rss
WORDS = ("market energy policy climate model data research interview history science city "
         "health water school startup music design language privacy network future").split()


def make_feed(n: int, items: int) -> bytes:
    """A realistic feed: iTunes tags, HTML show notes, tokenised enclosures, a transcript."""
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" '
        'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:podcast="https://podcastindex.org/namespace/1.0"><channel>'
        f"<title>Show {n}: {WORDS[n % len(WORDS)].title()} Weekly</title>"
        f"<link>https://show{n}.example/</link><language>en</language>"
        f"<description>A weekly show about {WORDS[n % 7]} and {WORDS[n % 11]}.</description>"
        f'<itunes:image href="https://show{n}.example/cover.jpg"/>'
    ]
    for i in range(items):
        when = NOW - timedelta(days=7 * i + n % 7)
        topic = " ".join(WORDS[(n + i + k) % len(WORDS)] for k in range(6))
        notes = "".join(
            f"<p>{(k + 1) * 4:02d}:00 {topic.title()} part {k + 1}: we talk about {topic} "
            f"with a guest from <a href='https://guest{k}.example/'>a lab</a>.</p>"
            for k in range(4)
        )
        parts.append(
            f"<item><title>Episode {items - i}: {topic.title()}</title>"
            f'<guid isPermaLink="false">show{n}-ep{items - i}</guid>'
            f"<pubDate>{format_datetime(when, usegmt=True)}</pubDate>"
            f"<link>https://show{n}.example/ep/{items - i}</link>"
            f"<description><![CDATA[{notes}]]></description>"
            f"<content:encoded><![CDATA[{notes}{notes}]]></content:encoded>"
            f"<itunes:duration>{(i % 3) + 1}:{i % 60:02d}:00</itunes:duration>"
            f'<enclosure url="https://cdn.example/show{n}/ep{items - i}.mp3?token={n * 7 + i}" '
            f'type="audio/mpeg" length="{50_000_000 + i}"/>'
            f'<podcast:transcript url="https://cdn.example/show{n}/ep{items - i}.vtt" '
            'type="text/vtt"/></item>'
        )
    parts.append("</channel></rss>")
    return "".join(parts).encode()


def serve(feeds: int, items: int, port_out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """The child process: one aiohttp server answering /feed/N.xml with ETag support."""
    bodies = [make_feed(n, items) for n in range(feeds)]
    etags = [f'"{hashlib.sha256(b).hexdigest()[:16]}"' for b in bodies]

    async def handle(request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        if request.headers.get("If-None-Match") == etags[n]:
            return web.Response(status=304, headers={"ETag": etags[n]})
        return web.Response(body=bodies[n], content_type="application/rss+xml",
                            headers={"ETag": etags[n]})

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/feed/{n}.xml", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port_out.put((runner.addresses[0][1], sum(map(len, bodies))))
        await asyncio.Event().wait()

    asyncio.run(main())


async def poll_all(poller: FeedPoller, concurrency: int) -> tuple[float, float, list[str]]:
    wall, cpu = time.perf_counter(), time.process_time()
    reports = await poller.poll_due(limit_concurrency=concurrency)
    return time.perf_counter() - wall, time.process_time() - cpu, [r.status for r in reports]


def use_reader(reader: str) -> None:
    """'reference': every feed goes to feedparser, as before the fast reader; 'fast': RSS 2.0
    is read by the fast reader (the product's path)."""
    parse_module.read_rss = FAST_READER if reader == "fast" else (lambda *args: None)  # type: ignore[assignment]


def parse_cpu(body: bytes, repeats: int = 3) -> float:
    """The least CPU seconds of a few parses of one feed."""
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        parse_feed(body)
        best = min(best, time.process_time() - started)
    return best


def bench_parse(items: int) -> None:
    """Cold parse CPU per feed: the reference reader and the fast one, feed by feed."""
    bodies = {p.name: p.read_bytes() for p in sorted(CORPUS.glob("*.xml"))} if CORPUS.is_dir() else {}
    bodies[f"synthetic ({items} items, bench feed)"] = make_feed(0, items)
    if len(bodies) == 1:
        print(f"(no corpus at {CORPUS}: the synthetic feed only)")
    totals = {"reference": 0.0, "fast": 0.0}
    print(f"{'feed':52} {'KiB':>6} {'feedparser ms':>14} {'fast ms':>8} {'ratio':>6}")
    for name, body in bodies.items():
        cpu = {}
        for reader in ("reference", "fast"):
            use_reader(reader)
            cpu[reader] = parse_cpu(body)
        if not name.startswith("synthetic"):
            for reader in totals:
                totals[reader] += cpu[reader]
        print(f"{name[:52]:52} {len(body) / 1024:6.0f} {cpu['reference'] * 1000:14.2f} "
              f"{cpu['fast'] * 1000:8.2f} {cpu['reference'] / cpu['fast']:5.1f}x")
    if totals["fast"]:
        n = len(bodies) - 1
        print(f"corpus, {n} feeds: feedparser {totals['reference']:.3f} s CPU "
              f"({n / totals['reference']:.1f} feeds/s), fast {totals['fast']:.3f} s "
              f"({n / totals['fast']:.1f} feeds/s): parse CPU {totals['reference'] / totals['fast']:.1f}x "
              "less (target >= 5x)")


async def run(feeds: int, concurrency: int, port: int, reader: str) -> dict[str, float]:
    """One cold and one warm poll of every feed with the given reader, from an empty store."""
    use_reader(reader)
    settings = Settings(http=HttpSettings(allow_private_addresses=True, max_concurrent_fetches=64,
                                          total_timeout_s=120))
    clock = FakeClock(NOW)
    store = FakeStore()
    fetcher = SafeFetcher(settings.http)
    await fetcher.start()
    poller = FeedPoller(fetcher, store, clock, settings)
    table = Table(store, "feeds", Feed)
    for n in range(feeds):
        url = f"http://127.0.0.1:{port}/feed/{n}.xml"
        await table.put(Feed(id=feed_id_for(url), url=url, added_at=NOW))
    try:
        cold_s, cold_cpu, cold = await poll_all(poller, concurrency)
        rss_cold = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        clock.advance(hours=2)
        warm_s, warm_cpu, warm = await poll_all(poller, concurrency)
    finally:
        await fetcher.close()
    episodes = len(store.tables.get("episodes", {}))
    print(f"{reader:9} cold: {len(cold)} feeds in {cold_s:6.2f} s = {len(cold) / cold_s:7.1f} feeds/s, "
          f"CPU {cold_cpu / len(cold) * 1000:6.2f} ms/feed ({cold.count('updated')} parsed, "
          f"{episodes} episodes stored)")
    print(f"{reader:9} warm: {len(warm)} feeds in {warm_s:6.2f} s = {len(warm) / warm_s:7.1f} feeds/s, "
          f"CPU {warm_cpu / len(warm) * 1000:6.2f} ms/feed ({warm.count('not_modified')} answered 304); "
          f"warm/cold {cold_s / warm_s:.1f}x; peak RSS {rss_cold:.0f} MB")
    return {"cold_s": cold_s, "cold_cpu": cold_cpu, "warm_s": warm_s, "warm_cpu": warm_cpu}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    bench_parse(args.items)
    ports: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    server = multiprocessing.Process(target=serve, args=(args.feeds, args.items, ports),
                                     daemon=True)
    server.start()
    try:
        port, total_bytes = ports.get(timeout=300)
        print(f"\npolling {args.feeds} feeds x {args.items} items, "
              f"{total_bytes / args.feeds / 1024:.0f} KiB per feed, concurrency {args.concurrency}")
        ref = asyncio.run(run(args.feeds, args.concurrency, port, "reference"))
        fast = asyncio.run(run(args.feeds, args.concurrency, port, "fast"))
    finally:
        server.terminate()
        server.join()
    print(f"cold poll: {ref['cold_s'] / fast['cold_s']:.1f}x faster ({args.feeds / ref['cold_s']:.1f} -> "
          f"{args.feeds / fast['cold_s']:.1f} feeds/s), CPU {ref['cold_cpu'] / fast['cold_cpu']:.1f}x less; "
          f"warm poll: {args.feeds / ref['warm_s']:.0f} -> {args.feeds / fast['warm_s']:.0f} feeds/s, "
          f"CPU {ref['warm_cpu'] / args.feeds * 1000:.2f} -> "
          f"{fast['warm_cpu'] / args.feeds * 1000:.2f} ms/feed (nothing is parsed on a 304: unchanged)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
