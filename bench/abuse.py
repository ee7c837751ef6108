"""Hostile inputs bounded: a 10,000-feed OPML import, a 100,000-item feed, a 5 MB HTML description.

Run: python bench/abuse.py [--reference <git-rev>] [--latency-ms 20] [--budget-s 20]

Each measurement runs in a fresh child process on a fresh data folder (the real TinyDB store,
the real guarded HTTP client) against feed servers in this process, so the CPU time and the
peak memory (the child's VmHWM, its whole resident set) are Castfive's own. Every case has a
small twin measured in the same run (a 50-feed OPML, a 2,000-item feed, a 5 KB description):
the ratio case / twin is the figure that shows the bound. With --reference, the same children also run on a
`git worktree` of that revision (made under /tmp, removed after): the before figures.
Feed servers answer every feed after --latency-ms, a stand-in for the network.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
MB = 1024 * 1024
CHILD_TIMEOUT_S = 120.0  # an unbounded import at a reference revision is stopped here


# --- the feeds ---------------------------------------------------------------------------------

def tiny_feed(n: int) -> bytes:
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Show {n}</title><item>'
            f"<guid>s{n}-1</guid><title>Episode 1</title><pubDate>{format_datetime(NOW, usegmt=True)}"
            f'</pubDate><enclosure url="https://cdn.test/{n}/1.mp3" type="audio/mpeg" length="1"/>'
            "</item></channel></rss>").encode()


def many_items_feed(items: int, newest: int = 0) -> bytes:
    """`items` compact items, newest first; `newest` extra items on top (a later poll)."""
    parts = ['<?xml version="1.0"?><rss version="2.0"><channel><title>Every episode ever</title>']
    for n in range(items + newest, 0, -1):
        when = format_datetime(NOW - timedelta(hours=items + newest - n), usegmt=True)
        parts.append(f"<item><guid>b{n}</guid><title>Episode {n}</title><pubDate>{when}</pubDate>"
                     f'<enclosure url="https://cdn.test/{n}.mp3" type="audio/mpeg" length="1"/></item>')
    parts.append("</channel></rss>")
    return "".join(parts).encode()


def html_description_feed(size: int) -> bytes:
    """One episode whose description is `size` bytes of HTML show notes."""
    para = ('<p>We talk about <b>energy</b> and <i>policy</i> with <a href="https://guest.test/{n}">'
            "guest {n}</a> &amp; friends.</p>")
    html, n, length = [], 0, 0
    while length < size:
        html.append(para.format(n=n))
        length += len(html[-1])
        n += 1
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Show notes</title><item>'
            f"<guid>d1</guid><title>Episode 1</title><pubDate>{format_datetime(NOW, usegmt=True)}</pubDate>"
            f"<description><![CDATA[{''.join(html)}]]></description>"
            '<enclosure url="https://cdn.test/d1.mp3" type="audio/mpeg" length="1"/>'
            "</item></channel></rss>").encode()


class FeedServer:
    """/opml/N.xml tiny shows; /big/N.xml an N-item feed (one more item from the second fetch on);
    /desc/N.xml an N-byte HTML description. Counts its fetches."""

    def __init__(self, latency_s: float) -> None:
        self.latency_s = latency_s
        self.hits: Counter[str] = Counter()
        self._bodies: dict[str, bytes] = {}

    def prepare(self, items: tuple[int, ...], descriptions: tuple[int, ...]) -> None:
        """Build the big bodies before any measurement, so no child waits on their making."""
        for n in items:
            self._bodies[f"big/{n}/1"] = many_items_feed(n)
            self._bodies[f"big/{n}/2"] = many_items_feed(n, newest=1)
        for n in descriptions:
            self._bodies[f"desc/{n}/1"] = self._bodies[f"desc/{n}/2"] = html_description_feed(n)

    def body(self, kind: str, n: int, fetch: int) -> bytes:
        return tiny_feed(n) if kind == "opml" else self._bodies[f"{kind}/{n}/{min(fetch, 2)}"]

    async def handle(self, request: Any) -> Any:
        from aiohttp import web

        kind, n = request.match_info["kind"], int(request.match_info["n"])
        self.hits[kind] += 1
        self.hits[request.path] += 1
        await asyncio.sleep(self.latency_s)
        return web.Response(body=self.body(kind, n, self.hits[request.path]),
                            content_type="application/rss+xml")


def opml(base: str, feeds: int) -> bytes:
    outlines = "".join(f'<outline type="rss" text="Show {n}" xmlUrl="{base}/opml/{n}.xml"/>'
                       for n in range(feeds))
    return f'<?xml version="1.0"?><opml version="2.0"><body>{outlines}</body></opml>'.encode()


# --- the child: one measurement on one revision -------------------------------------------------

def _section(cls: Any, **wanted: Any) -> Any:
    """A settings section with the wanted values it knows (older revisions lack newer keys)."""
    import dataclasses

    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in wanted.items() if k in names})


class _NoTranscriber:
    name = "none"

    async def start(self) -> None:
        return None

    async def transcribe(self, audio_path: Any, on_progress: Any = None) -> Any:
        raise AssertionError("no speech-to-text in this bench")


def _peak_rss_mb() -> float:
    """This process's peak resident memory: VmHWM starts afresh at exec, where ru_maxrss keeps
    the parent's high-water mark from before the fork."""
    import resource

    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _written() -> int:
    """Bytes this process has passed to write() so far (Linux /proc)."""
    try:
        for line in Path("/proc/self/io").read_text().splitlines():
            if line.startswith("wchar:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


async def child(args: argparse.Namespace) -> dict[str, Any]:
    from core.bootstrap import build_services
    from core.config import DataSettings, FeedSettings, HttpSettings, InsightSettings, Settings

    settings = Settings(
        data=_section(DataSettings, dir=args.data),
        http=_section(HttpSettings, allow_private_addresses=True, feed_max_bytes=64 * MB,
                      total_timeout_s=120.0),
        feeds=_section(FeedSettings, max_feeds_per_subscriber=args.allowance,
                       import_time_budget_s=args.budget_s),
        insights=_section(InsightSettings, embeddings=False),
    )
    services = build_services(settings, transcriber=_NoTranscriber())  # type: ignore[arg-type]
    await services.start()
    sub = await services.api.subscribe("telegram", "1")
    out: dict[str, Any] = {"item_cap": getattr(settings.feeds, "max_items", None),
                           "budget_s": getattr(settings.feeds, "import_time_budget_s", None),
                           "baseline_rss_mb": _peak_rss_mb()}
    written, wall, cpu = _written(), time.perf_counter(), time.process_time()
    if args.case == "opml":
        result = await services.api.import_opml(sub.id, opml(args.base, args.n))
        out.update(added=len(result.added), failed=len(result.failed),
                   over_allowance=getattr(result, "over_allowance", None),
                   out_of_time=getattr(result, "out_of_time", None))
    else:
        kind = "big" if args.case == "feed" else "desc"
        feed = (await services.api.add_feed(sub.id, f"{args.base}/{kind}/{args.n}.xml")).feed
        if args.case == "feed":  # a later poll finds one new item on top
            out["first_wall_s"] = time.perf_counter() - wall
            out["first_cpu_s"] = time.process_time() - cpu
            report = await services.poller.poll(feed)
            out["repoll_status"] = report.status
            out["repoll_wall_s"] = time.perf_counter() - wall - out["first_wall_s"]
            out["repoll_cpu_s"] = time.process_time() - cpu - out["first_cpu_s"]
    out["wall_s"] = time.perf_counter() - wall
    out["cpu_s"] = time.process_time() - cpu
    out["peak_rss_mb"] = _peak_rss_mb()
    episodes = await services.store.all("episodes")  # after the peak was read: counting costs too
    out["episodes_stored"] = len(episodes)
    await services.close()
    out["written_mb"] = (_written() - written) / MB
    out["data_mb"] = sum(p.stat().st_size for p in Path(args.data).rglob("*") if p.is_file()) / MB
    return out


# --- the parent: serve, run the children, print ------------------------------------------------

@dataclass(frozen=True)
class Case:
    name: str
    case: str
    n: int
    allowance: int = 50
    target: str = ""


async def run_child(root: Path, case: Case, base: str, server: FeedServer, budget_s: float) -> dict[str, Any]:
    server.hits.clear()
    data = tempfile.mkdtemp(prefix="castfive-abuse-")
    command = [sys.executable, str(Path(__file__).resolve()), "--child", case.case, "--root", str(root),
               "--base", base, "--data", data, "--n", str(case.n), "--allowance", str(case.allowance),
               "--budget-s", str(budget_s)]
    proc = await asyncio.create_subprocess_exec(*command, cwd=root, stdout=subprocess.PIPE,
                                                stderr=subprocess.PIPE)
    started = time.perf_counter()
    try:
        stdout, stderr = await asyncio.wait_for(proc.communicate(), CHILD_TIMEOUT_S)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        result: dict[str, Any] = {"killed_after_s": time.perf_counter() - started}
    else:
        if proc.returncode != 0:
            result = {"error": stderr.decode(errors="replace").strip().splitlines()[-1:]}
        else:
            result = json.loads(stdout.decode().strip().splitlines()[-1])
    result["fetches"] = server.hits[{"opml": "opml", "feed": "big", "desc": "desc"}[case.case]]
    shutil.rmtree(data, ignore_errors=True)
    return result


def describe(case: Case, r: dict[str, Any]) -> str:
    if "error" in r:
        return f"  {case.name:<44} failed: {r['error']}"
    if "killed_after_s" in r:
        return (f"  {case.name:<44} not done after {r['killed_after_s']:.0f} s (stopped); "
                f"{r['fetches']} fetches by then")
    line = (f"  {case.name:<44} wall {r['wall_s']:7.2f} s  CPU {r['cpu_s']:7.2f} s  "
            f"peak RSS {r['peak_rss_mb']:6.0f} MB (+{r['peak_rss_mb'] - r['baseline_rss_mb']:.0f})  "
            f"data {r['data_mb']:6.1f} MB  write() {r['written_mb']:6.1f} MB")
    if case.case == "opml":
        line += (f"\n  {'':<44} {r['fetches']} fetches, {r['added']} added, {r['failed']} failed, "
                 f"over allowance {r['over_allowance']}, out of time {r['out_of_time']}")
    elif case.case == "feed":
        line += (f"\n  {'':<44} first poll {r['first_wall_s']:.2f} s wall / {r['first_cpu_s']:.2f} s CPU, "
                 f"re-poll with one new item ({r['repoll_status']}) {r['repoll_wall_s']:.2f} s / "
                 f"{r['repoll_cpu_s']:.2f} s CPU; {r['episodes_stored']} episodes stored; "
                 f"item cap {r['item_cap'] or 'none at this revision'}")
    return line


def verdict(case: Case, r: dict[str, Any], latency_s: float, budget_s: float) -> str:
    if "wall_s" not in r:
        return "misses"
    if case.case == "opml":
        bounded = r["fetches"] <= case.allowance and r["wall_s"] <= budget_s + 2 * latency_s + 5
        return "meets" if bounded else "misses"
    if case.case == "feed":  # each poll on its own
        slowest = max(r["first_wall_s"], r["repoll_wall_s"])
        return "meets" if slowest < 5 and r["peak_rss_mb"] < 150 else "misses"
    return "meets" if r["wall_s"] < 1 else "misses"


async def measure(label: str, root: Path, cases: list[tuple[Case, Case]], base: str, server: FeedServer,
                  latency_s: float, budget_s: float) -> None:
    print(f"\n== {label} ==")
    for twin, case in cases:
        small = await run_child(root, twin, base, server, budget_s)
        big = await run_child(root, case, base, server, budget_s)
        print(describe(twin, small))
        print(describe(case, big))
        ratio = (f"{big['wall_s'] / small['wall_s']:.1f}x the wall time of its twin"
                 if "wall_s" in big and "wall_s" in small else "no ratio")
        print(f"  -> target: {case.target}; {verdict(case, big, latency_s, budget_s)} ({ratio})")


def cases(feeds: int, items: int, description: int, budget_s: float) -> list[tuple[Case, Case]]:
    return [
        (Case("OPML: 50 feeds (twin)", "opml", 50),
         Case(f"OPML: {feeds:,} feeds, allowance 50", "opml", feeds,
              target="fetches <= the allowance (50)")),
        (Case("OPML: 50 feeds, allowance raised (twin)", "opml", 50, allowance=feeds),
         Case(f"OPML: {feeds:,} feeds, allowance raised to {feeds:,}", "opml", feeds, allowance=feeds,
              target=f"wall <= the time budget ({budget_s:g} s here)")),
        (Case("feed: 2,000 items, polled twice (twin)", "feed", 2000),
         Case(f"feed: {items:,} items, polled twice", "feed", items,
              target="each poll < 5 s wall, peak RSS < 150 MB")),
        (Case("description: 5 KB of HTML (twin)", "desc", 5_000),
         Case(f"description: {description / MB:.1f} MB of HTML", "desc", description, target="wall < 1 s")),
    ]


async def parent(args: argparse.Namespace) -> None:
    from aiohttp import web

    latency_s, budget_s = args.latency_ms / 1000, args.budget_s
    server = FeedServer(latency_s)
    app = web.Application()
    app.router.add_get("/{kind}/{n}.xml", server.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    plan = cases(args.feeds, args.items, args.description_bytes, budget_s)
    server.prepare((2000, args.items), (5_000, args.description_bytes))
    print(f"feed latency {args.latency_ms} ms; import time budget set to {budget_s:g} s where the "
          f"revision has one (default 60 s); a child still running after {CHILD_TIMEOUT_S:.0f} s is stopped")
    try:
        await measure(f"this checkout ({_rev(ROOT)})", ROOT, plan, base, server, latency_s, budget_s)
        if args.reference:
            worktree = Path(tempfile.mkdtemp(prefix="castfive-ref-"))
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(worktree),
                            args.reference], check=True, capture_output=True)
            try:
                await measure(f"reference {args.reference} ({_rev(worktree)})", worktree, plan, base,
                              server, latency_s, budget_s)
            finally:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(worktree)],
                               check=False, capture_output=True)
    finally:
        await runner.cleanup()


def _rev(root: Path) -> str:
    done = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True, check=False)
    dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True, check=False).stdout.strip()
    return done.stdout.strip() + (" + uncommitted changes" if dirty else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", help="a git revision to measure the same way (before figures)")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--budget-s", type=float, default=20.0, help="feeds.import_time_budget_s")
    parser.add_argument("--feeds", type=int, default=10_000)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--description-bytes", type=int, default=5 * MB)
    parser.add_argument("--child", choices=("opml", "feed", "desc"), help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    parser.add_argument("--base", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--allowance", type=int, default=50, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        sys.path.insert(0, args.root)  # the revision being measured, not this checkout
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        args.case = args.child
        print(json.dumps(asyncio.run(child(args))))
        return 0
    asyncio.run(parent(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
