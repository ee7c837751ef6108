"""Fit the feature weights of the offline ranker on the dev cases.

Run: python -m tests.eval.tune   -> prints WEIGHTS and BIAS to paste into core/insights/features.py.
Only cases with split "dev" are fitted on; "test" cases stay held out (bench/insights.py reports both).
A weighted logistic regression over every candidate: a candidate is positive when it counts as a
labelled insight; filler-labelled candidates weigh double as negatives. (A coordinate search that
maximised dev precision directly was tried and dropped: it lifted dev P@5 from 0.78 to 0.90 while
held-out P@5 stayed at 0.80 and filler in the held-out top five rose. It fitted the dev labels.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.config import InsightSettings
from core.insights.corpus_stats import BackgroundStats, content_words
from core.insights.features import BIAS, WEIGHTS
from core.insights.offline import Scored, rank, select
from tests.eval.dataset import Case, is_filler, is_insight, load_cases, locate


@dataclass
class CaseData:
    """The candidates of one case with features and labels, in rank order."""

    case: Case
    items: list[Scored]
    x: np.ndarray
    hit: np.ndarray
    filler: np.ndarray


def collect() -> tuple[list[str], list[CaseData]]:
    """Features and labels of every candidate of every available case (background in bench order)."""
    stats = BackgroundStats()
    out, names = [], []
    for case in load_cases()[0]:
        ranked = rank(case.segments, stats)
        stats.add_document(case.name, content_words(" ".join(s.text for s in case.segments)))
        items, rows, hit, fill = [], [], [], []
        for item in ranked:
            span = locate(case, item.candidate.text, item.candidate.start)
            if span is None:
                continue
            names = sorted(item.values)
            items.append(item)
            rows.append([item.values[n] for n in names])
            hit.append(is_insight(case, span))
            fill.append(is_filler(case, span))
        out.append(CaseData(case, items, np.array(rows), np.array(hit), np.array(fill)))
    return names, out


def precision(
    cases: list[CaseData], coef: np.ndarray, bias: float, floor: float = 0.0
) -> tuple[float, float]:
    """(precision of the top five, filler share of the top five) with offline.select's own rules."""
    picked = hits = fill = 0
    for data in cases:
        if not len(data.x):
            continue
        probs = 1 / (1 + np.exp(-(data.x @ coef + bias)))
        rescored = [Scored(it.candidate, it.values, float(p), it.weak)
                    for it, p in zip(data.items, probs, strict=True)]
        rescored.sort(key=lambda s: (-s.score, s.candidate.first, s.candidate.last))
        index = {(it.candidate.first, it.candidate.last): i for i, it in enumerate(data.items)}
        top = [index[(s.candidate.first, s.candidate.last)] for s in select(rescored, 5, floor)]
        picked += len(top)
        hits += int(data.hit[top].sum())
        fill += int(data.filler[top].sum())
    return hits / max(picked, 1), fill / max(picked, 1)


def fit(x: np.ndarray, y: np.ndarray, w: np.ndarray, l2: float = 0.002, steps: int = 6000,
        lr: float = 1.0) -> tuple[np.ndarray, float]:
    """Weighted L2-regularised logistic regression by gradient descent (deterministic)."""
    coef, bias = np.zeros(x.shape[1]), 0.0
    total = w.sum()
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(x @ coef + bias)))
        g = w * (p - y)
        coef -= lr * (x.T @ g / total + l2 * coef)
        bias -= lr * g.sum() / total
    return coef, bias


def main() -> None:
    names, cases = collect()
    dev = [d for d in cases if d.case.split == "dev" and len(d.x)]
    test = [d for d in cases if d.case.split == "test" and len(d.x)]
    x = np.vstack([d.x for d in dev])
    y = np.concatenate([d.hit for d in dev]).astype(float)
    w = np.where((y == 0) & np.concatenate([d.filler for d in dev]), 2.0, 1.0)
    current = np.array([WEIGHTS.get(n, 0.0) for n in names])
    print(f"{len(y)} dev candidates, {int(y.sum())} positive")
    print("current weights   dev P@5 {:.2f} filler {:.2f} | test P@5 {:.2f} filler {:.2f}".format(
        *precision(dev, current, BIAS), *precision(test, current, BIAS)))
    coef, bias = fit(x, y, w)
    print("logistic fit      dev P@5 {:.2f} filler {:.2f} | test P@5 {:.2f} filler {:.2f}".format(
        *precision(dev, coef, bias), *precision(test, coef, bias)))
    floor = InsightSettings().min_score
    print("with the {:.2f} floor dev P@5 {:.2f} filler {:.2f} | test P@5 {:.2f} filler {:.2f}".format(
        floor, *precision(dev, coef, bias, floor), *precision(test, coef, bias, floor)))
    for data in cases:
        probs = 1 / (1 + np.exp(-(data.x @ coef + bias))) if len(data.x) else np.zeros(0)
        print(f"  {data.case.name[:34]:34} {data.case.split:4} "
              f"candidates above floor: {(probs >= floor).sum():4d}")
    p = 1 / (1 + np.exp(-(x @ coef + bias)))
    print(f"dev candidates above the {floor} floor: {(p >= floor).mean():.1%} "
          f"(positives {p[y == 1].mean():.2f} mean score, negatives {p[y == 0].mean():.2f})")
    print("WEIGHTS = {")
    print("    " + ", ".join(f'"{n}": {c:.2f}' for n, c in zip(names, coef, strict=True)))
    print("}")
    print(f"BIAS = {bias:.2f}")


if __name__ == "__main__":
    main()
