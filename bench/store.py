"""Acknowledged writes on a big store: journal vs whole-file flush (`python bench/store.py`).

Builds a TinyDBStore of ledger-sized documents (300,000 by default) in a temp folder, then
measures single `put`s one at a time (ack latency p50/p99/max) and 64 concurrent writers
(group commit throughput), first with the journal, then with the whole-file flush the store
used before the journal (`journal=False`). Speed is reported as a ratio between the two.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.ports import Change
from core.store.tinydb_store import TinyDBStore


def ledger_doc(n: int) -> dict:
    """A document shaped and sized like a delivery ledger entry (five sent messages)."""
    day = f"2026-11-{1 + n % 28:02d}"
    return {
        "subscriber_id": f"telegram:{100000 + n // 30}", "local_date": day,
        "messages": [{"insight_id": f"{random.getrandbits(48):012x}", "state": "sent",
                      "message_ids": [str(900000 + n * 5 + k)], "reason": "", "attempts": 1}
                     for k in range(5)],
        "chosen_at": f"{day}T07:00:00+00:00", "finished": True, "on_request": False,
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def build(directory: Path, docs: int) -> float:
    store = TinyDBStore(directory)
    await store.start()
    started = time.perf_counter()
    batch = 5000
    for first in range(0, docs, batch):
        await store.apply([Change("ledger", f"k{n:07d}", ledger_doc(n))
                           for n in range(first, min(docs, first + batch))])
    await store.close()
    return time.perf_counter() - started


async def measure(directory: Path, journal: bool, singles: int, writers: int) -> dict:
    store = TinyDBStore(directory, journal=journal)
    opened = time.perf_counter()
    await store.start()
    open_s = time.perf_counter() - opened
    latencies = []
    for i in range(singles):  # one writer: every put waits for its own fsync
        doc = ledger_doc(i)
        started = time.perf_counter()
        await store.put("ledger", f"k{i:07d}", doc)
        latencies.append(time.perf_counter() - started)
    flushes_before = store.flushes

    async def writer(w: int) -> None:
        await store.put("ledger", f"k{w:07d}", ledger_doc(w))

    started = time.perf_counter()
    await asyncio.gather(*(writer(w) for w in range(writers)))
    concurrent_s = time.perf_counter() - started
    commits = store.flushes - flushes_before
    closed = time.perf_counter()
    await store.close()
    return {
        "open_s": open_s, "close_s": time.perf_counter() - closed,
        "rate": singles / sum(latencies), "p50": percentile(latencies, 0.5),
        "p99": percentile(latencies, 0.99), "max": max(latencies),
        "concurrent_rate": writers / concurrent_s, "commits": commits, "writers": writers,
    }


def report(name: str, r: dict, singles: int) -> None:
    print(f"{name:11s} open {r['open_s']:6.2f} s | {singles} single puts: {r['rate']:8.1f} acked/s, "
          f"p50 {r['p50'] * 1000:8.2f} ms, p99 {r['p99'] * 1000:8.2f} ms, max {r['max'] * 1000:8.2f} ms")
    print(f"{'':11s} {r['writers']} concurrent puts: {r['concurrent_rate']:8.1f} acked/s in "
          f"{r['commits']} group commits | close {r['close_s']:.2f} s")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=300_000)
    parser.add_argument("--singles", type=int, default=500, help="single puts with the journal")
    parser.add_argument("--whole-singles", type=int, default=5, help="single puts, whole-file")
    args = parser.parse_args()
    random.seed(7)
    root = Path(tempfile.mkdtemp(prefix="castfive-bench-store-"))
    try:
        build_s = await build(root, args.docs)
        size = (root / "castfive.json").stat().st_size
        print(f"store: {args.docs:,} ledger documents, snapshot {size / 2**20:.1f} MiB, "
              f"built in {build_s:.1f} s")
        journal = await measure(root, True, args.singles, 64)
        report("journal", journal, args.singles)
        whole = await measure(root, False, args.whole_singles, 64)
        report("whole-file", whole, args.whole_singles)
        print(f"single-put ack rate: journal {journal['rate'] / whole['rate']:.0f}x the whole-file "
              f"flush; p50 latency {whole['p50'] / journal['p50']:.0f}x lower; concurrent "
              f"{journal['concurrent_rate'] / whole['concurrent_rate']:.1f}x")
        print(f"peak memory (ru_maxrss): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
