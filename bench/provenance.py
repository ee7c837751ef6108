"""Quote alignment on a one-hour transcript: index build, time per quote, accuracy, and the speed
ratio against a naive reference (difflib over every word window) run in the same process.

Run: python bench/provenance.py [--quotes 200]
The transcript is tests/data/buzzcast_full-episode.json twice back to back (~10.5k words, ~56 min);
quotes are real passages, upper-cased, stripped of punctuation and given one misheard word.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from difflib import SequenceMatcher
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.insights.provenance import QuoteAligner, normalise_words
from tests.test_provenance import load_buzzcast, one_hour


def naive_align(quote: str, words: list[str]) -> tuple[int, float]:
    """Reference: slide a quote-sized window over every position and keep the best ratio."""
    query = " ".join(normalise_words(quote))
    size = len(query.split())
    best = (0, 0.0)
    for start in range(0, max(1, len(words) - size + 1)):
        ratio = SequenceMatcher(None, query, " ".join(words[start : start + size]),
                                autojunk=False).ratio()
        if ratio > best[1]:
            best = (start, ratio)
    return best


def garble(text: str, rng: random.Random) -> str:
    """Upper case, no punctuation, one word misheard: what a model's quote might look like."""
    words = re.sub(r"[^\w\s']", "", text).upper().split()
    i = rng.randrange(len(words))
    words[i] = words[i][:-1] + "X" if len(words[i]) > 3 else words[i]
    return " ".join(words)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quotes", type=int, default=200)
    parser.add_argument("--reference-quotes", type=int, default=3)
    args = parser.parse_args()
    segments = one_hour(load_buzzcast())
    raw = [w for s in segments for w in s.text.split()]
    rng = random.Random(5)
    picks = []
    for _ in range(args.quotes):
        start = rng.randrange(len(raw) - 40)
        picks.append(" ".join(raw[start : start + rng.randint(10, 35)]))
    quotes = [garble(p, rng) for p in picks]
    began = time.perf_counter()
    aligner = QuoteAligner(segments)
    build = time.perf_counter() - began
    began = time.perf_counter()
    found = [aligner.align(q) for q in quotes]
    per_quote = (time.perf_counter() - began) / len(quotes)
    exact = sum(1 for f, p in zip(found, picks, strict=True) if f is not None and f.text == p)
    invented = [" ".join(rng.sample(raw, 20)) for _ in range(50)]
    false_hits = sum(aligner.align(q) is not None for q in invented)
    words = [w for s in segments for w in normalise_words(s.text)]
    began = time.perf_counter()
    for quote in quotes[: args.reference_quotes]:
        naive_align(quote, words)
    naive = (time.perf_counter() - began) / args.reference_quotes
    print(f"transcript: {len(raw)} words, {len(segments)} segments, "
          f"{segments[-1].end / 60:.0f} min")
    print(f"index build: {build * 1000:.1f} ms")
    print(f"align: {per_quote * 1000:.2f} ms/quote over {len(quotes)} garbled quotes; "
          f"exact transcript text recovered for {exact}/{len(quotes)}")
    print(f"invented quotes (random word salad) accepted: {false_hits}/{len(invented)}")
    print(f"naive reference: {naive * 1000:.0f} ms/quote -> speed-up x{naive / per_quote:.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
