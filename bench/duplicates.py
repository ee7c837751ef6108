"""Near-duplicate check on paraphrase pairs and distinct claims on the same topic.

Run: python bench/duplicates.py
Prints recall of paraphrases and the false-merge rate of distinct claims for the lexical check
alone, whole-sentence embeddings, and the product's rule (lexical first, then
core/insights/paraphrase.py: whole-sentence cosine, or the mean of it and the cosine of what is left
once shared words are removed), on the pairs' held-out half (even rows); thresholds were chosen on
the other half (odd rows); then on tests/eval/paraphrases_fresh.json (60 + 60 pairs written blind to
the judge and its thresholds, never tuned on).
Pairs: tests/eval/paraphrases.json and paraphrases_fresh.json (written for Castfive, CC0).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.adapters.minilm import MiniLMEmbedder
from core.insights.paraphrase import GRAY, MEAN, SURE, ParaphraseJudge
from core.insights.similarity import cosine
from core.ranking import DUPLICATE_COSINE, similarity

EVAL = Path(__file__).resolve().parent.parent / "tests" / "eval"
PAIRS, FRESH_PAIRS = EVAL / "paraphrases.json", EVAL / "paraphrases_fresh.json"
LEXICAL = 0.5  # the product's word-overlap threshold


def rates(same: list[bool], distinct: list[bool]) -> tuple[float, float]:
    return sum(same) / len(same), sum(distinct) / len(distinct)


Scored = tuple[float, float, bool]  # (word overlap, whole-sentence cosine, the meaning rule)


def rule_rates(rule: Callable[[float, float, bool], bool],
               pairs: tuple[list[Scored], list[Scored]]) -> tuple[float, float]:
    """(recall on the paraphrase pairs, false merges on the distinct pairs) of one rule."""
    return rates([rule(*p) for p in pairs[0]], [rule(*p) for p in pairs[1]])


def main() -> int:
    doc = json.loads(PAIRS.read_text(encoding="utf-8"))
    embedder = MiniLMEmbedder()
    started = time.perf_counter()
    embedder.embed(["warm up"])
    load_s = time.perf_counter() - started

    judge = ParaphraseJudge(embedder)

    def scored(pairs: list[list[str]]) -> list[Scored]:
        """(word overlap, whole-sentence cosine, the product's meaning rule) per pair."""
        texts = [pair[:2] for pair in pairs]  # the fresh file's third item names the topic
        vectors = embedder.embed([t for pair in texts for t in pair])
        return [(similarity(a, b), cosine(vectors[2 * i], vectors[2 * i + 1]),
                 judge.same(a, vectors[2 * i], b, vectors[2 * i + 1]))
                for i, (a, b) in enumerate(texts)]

    cpu = time.process_time()
    same, distinct = scored(doc["same"]), scored(doc["distinct"])
    cpu = time.process_time() - cpu
    tune = (same[1::2], distinct[1::2])
    held = (same[0::2], distinct[0::2])

    def best_threshold() -> float:
        """The lowest cosine whose false merges on the tuning half stay within 0.05."""
        for t in [t / 100 for t in range(40, 96)]:
            _, f = rates([lex >= LEXICAL or c >= t for lex, c, _ in tune[0]],
                         [lex >= LEXICAL or c >= t for lex, c, _ in tune[1]])
            if f <= 0.05:
                return t
        return 1.0

    rules: dict[str, Callable[[float, float, bool], bool]] = {
        "lexical only": lambda lex, c, _: lex >= LEXICAL,
        f"whole-sentence embeddings (cos >= {DUPLICATE_COSINE})": lambda lex, c, _: c >= DUPLICATE_COSINE,
        f"lexical, then whole-sentence cos >= {DUPLICATE_COSINE}":
            lambda lex, c, _: lex >= LEXICAL or c >= DUPLICATE_COSINE,
        f"product: lexical, then cos >= {SURE} or (cos >= {GRAY}, mean with remainders >= {MEAN})":
            lambda lex, c, meaning: lex >= LEXICAL or meaning,
    }
    print(f"{len(doc['same'])} paraphrase pairs, {len(doc['distinct'])} distinct pairs; "
          f"reported on the held-out half ({len(held[0])} + {len(held[1])})")
    print(f"{'rule':86} {'recall':>7} {'false merges':>13}   (tuning half)")
    for name, rule in rules.items():
        r, f = rule_rates(rule, held)
        tr, tf = rule_rates(rule, tune)
        print(f"{name:86} {r:7.2f} {f:13.2f}   ({tr:.2f} / {tf:.2f})")
    print(f"whole-sentence threshold the tuning half would choose: {best_threshold():.2f}")
    fresh_doc = json.loads(FRESH_PAIRS.read_text(encoding="utf-8"))
    fresh = (scored(fresh_doc["same"]), scored(fresh_doc["distinct"]))
    print(f"\nblind set: {len(fresh[0])} paraphrase pairs, {len(fresh[1])} distinct pairs, never tuned on")
    print(f"{'rule':86} {'recall':>7} {'false merges':>13}")
    for name, rule in rules.items():
        r, f = rule_rates(rule, fresh)
        print(f"{name:86} {r:7.2f} {f:13.2f}")
    print(f"model load {load_s:.2f} s; {2 * (len(same) + len(distinct))} sentences embedded in "
          f"{cpu:.2f} s CPU ({2 * (len(same) + len(distinct)) / max(cpu, 1e-9):.0f} per CPU-second)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
