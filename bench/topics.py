"""Topics in the digest: how much they move it, that they never admit filler, and what they cost.

    python bench/topics.py            # 5,000 insights over 40 shows, 2,000 subscribers

Every subscriber is ranked twice in the same run, without and with two topics drawn from the
catalogue's words: the figures are the share of the five about a topic, filler and near-duplicate
pairs among the picks, and the CPU per digest with topics as a ratio of the same pick without.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.config import Settings
from core.digests import DigestBuilder, SentHistory
from core.models import Insight, Subscriber
from core.ranking import is_near_duplicate
from core.store.repos import Repos
from core.topics import TopicBoost
from tests.fakes.memory_store import FakeStore
from tests.test_digests import NOW, TODAY, WORDS, make_history, make_subscriber, make_world


def about(insight: Insight, subscriber: Subscriber) -> bool:
    boost = TopicBoost.of(subscriber)
    return boost is not None and boost.closeness(insight) > 0


def cpu_per_digest(builder: DigestBuilder, catalog, subscribers, history) -> tuple[float, list]:
    started = time.process_time()
    picks = [builder.choose(catalog, s, history, NOW, TODAY) for s in subscribers]
    return (time.process_time() - started) / len(subscribers) * 1000, picks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--insights", type=int, default=5000)
    parser.add_argument("--subscribers", type=int, default=2000)
    args = parser.parse_args()
    rng = random.Random(7)
    catalog = make_world(rng, feeds=40, insights=args.insights)
    settings = Settings()
    builder = DigestBuilder(Repos(FakeStore()), settings)
    plain = [make_subscriber(rng, n, list(catalog.feeds)) for n in range(args.subscribers)]
    topical = [dataclasses.replace(s, topics=tuple(rng.sample(WORDS, 2))) for s in plain]
    history: SentHistory = make_history(rng, catalog, plain)
    builder.choose(catalog, plain[0], history, NOW, TODAY)  # indexes built outside the timing
    timings: dict[str, list[float]] = {"plain": [], "topics": []}
    for _ in range(3):  # alternate, keep the fastest of each: the machine's noise hits both alike
        ms, plain_picks = cpu_per_digest(builder, catalog, plain, history)
        timings["plain"].append(ms)
        ms, topic_picks = cpu_per_digest(builder, catalog, topical, history)
        timings["topics"].append(ms)
    floor = settings.insights.min_score
    share = {name: sum(about(i, t) for p, t in zip(picks, topical, strict=True) for i in p)
             / max(1, sum(len(p) for p in picks))
             for name, picks in (("plain", plain_picks), ("topics", topic_picks))}
    filler = sum(i.score < floor for p in topic_picks for i in p)
    dupes = sum(is_near_duplicate(a, b) for p in topic_picks for n, a in enumerate(p) for b in p[n + 1:])
    changed = sum([i.id for i in a] != [i.id for i in b] for a, b in zip(plain_picks, topic_picks,
                                                                        strict=True))
    plain_ms, topic_ms = min(timings["plain"]), min(timings["topics"])
    print(f"catalogue: {len(catalog.insights):,} insights, {len(catalog.feeds)} shows; "
          f"{len(plain):,} subscribers, each ranked without and with 2 topics")
    print(f"picks about a topic: {share['plain']:.2f} without topics -> {share['topics']:.2f} with them; "
          f"{changed:,}/{len(plain):,} digests changed")
    print(f"with topics: filler picked {filler}, near-duplicate pairs {dupes}, "
          f"digest sizes {sum(map(len, plain_picks)):,} -> {sum(map(len, topic_picks)):,}")
    print(f"speed: {topic_ms:.3f} ms CPU per digest with topics vs {plain_ms:.3f} without "
          f"({topic_ms / plain_ms:.2f}x the same pick without topics)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
