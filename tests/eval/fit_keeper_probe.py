"""Fit core/insights/keeper_probe.json on the blind judge's dev verdicts (tests/eval/judge/).

Run: python -m tests.eval.fit_keeper_probe   (needs ../shared/corpus; writes the probe file, prints
what it fitted on and the leave-one-show-out dev precision with and without it)
The probe is a ridge regression of "the judge kept it" on the MiniLM vectors of the displayed text of
each judged candidate among the ranker's top TOP per dev episode. RIDGE and WEIGHT were chosen by
leave-one-show-out precision on dev (RIDGE 3, 10, 20, 50; WEIGHT 0.3 to 2.0); held-out cases are never
read here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from core.adapters.minilm import MiniLMEmbedder
from core.insights.display_text import clean_text
from core.insights.keeper_probe import PROBE_FILE, KeeperProbe
from core.insights.offline import select
from tests.eval import tune
from tests.eval.dataset import EVAL

VERDICTS = EVAL / "judge" / "dev_verdicts.json"
TOP, RIDGE, WEIGHT = 80, 10.0, 0.8


@dataclass
class Episode:
    """One dev case's top candidates with their vectors and the judge's verdicts."""

    data: tune.CaseData
    top: list[int]  # indexes into data.items, best first
    raw: list[bytes]  # int8 vectors as the Embedder returns them
    vectors: np.ndarray  # the same as unit float rows
    kept: np.ndarray  # 1 kept, 0 weak or filler, nan not judged

    @property
    def show(self) -> str:
        """The show a case is from (Talk Python's episodes count as one show)."""
        name = self.data.case.name
        return "talkpython" if name.startswith("talkpython") else name.rsplit("_", 1)[0]


def episode(data: tune.CaseData, embedder: MiniLMEmbedder, verdicts: list[dict]) -> Episode:
    """Embed a case's top candidates and look up the verdicts on them."""
    top = [int(i) for i in np.argsort(-np.array([it.score for it in data.items]), kind="stable")[:TOP]]
    texts = [clean_text(data.items[i].candidate.text) for i in top]
    raw = embedder.embed(texts)
    mine = [v for v in verdicts if v["case"] == data.case.name]
    kept = np.full(len(top), np.nan)
    for k, i in enumerate(top):
        c = data.items[i].candidate
        for v in mine:
            if abs(v["start"] - c.start) < 0.05 and abs(v["end"] - c.end) < 0.05 \
                    and texts[k].startswith(v["anchor"]):
                kept[k] = 1.0 if v["verdict"] == "keeper" else 0.0
    vectors = np.array([np.frombuffer(v, dtype=np.int8) for v in raw], dtype=np.float32) / 127
    return Episode(data, top, raw, vectors, kept)


def fit(train: list[Episode], weight: float) -> KeeperProbe:
    """Ridge on the judged candidates of `train`, scaled by the spread over all their top ones."""
    x = np.vstack([d.vectors[~np.isnan(d.kept)] for d in train])
    y = np.concatenate([d.kept[~np.isnan(d.kept)] for d in train])
    centred = x - x.mean(0)
    direction = np.linalg.solve(centred.T @ centred + RIDGE * np.eye(x.shape[1]),
                                centred.T @ (y - y.mean()))
    spread = np.vstack([d.vectors for d in train]) @ direction
    return KeeperProbe(MiniLMEmbedder.name, direction.astype(np.float32), float(spread.mean()),
                       float(spread.std()), weight, TOP)


def hits_in_top_five(episodes: list[Episode], probe: KeeperProbe) -> tuple[int, int]:
    """(label hits, picks) in each episode's top five after the probe's re-ranking."""
    hits = picked = 0
    for e in episodes:
        reranked = probe.rerank([e.data.items[i] for i in e.top], e.raw)
        index = {(it.candidate.first, it.candidate.last): i for i, it in enumerate(e.data.items)}
        for s in select(reranked, 5, 0.0):
            picked += 1
            hits += int(e.data.hit[index[(s.candidate.first, s.candidate.last)]])
    return hits, picked


def main() -> None:
    verdicts = json.loads(VERDICTS.read_text(encoding="utf-8"))["verdicts"]
    _, cases = tune.collect()
    dev = [d for d in cases if d.case.split == "dev" and d.case.source == "corpus" and len(d.x)]
    if not dev:
        raise SystemExit("no dev transcripts: put the project's corpus at ../shared/corpus")
    embedder = MiniLMEmbedder()
    episodes = [episode(d, embedder, verdicts) for d in dev]
    matched = sum(int((~np.isnan(e.kept)).sum()) for e in episodes)
    kept = sum(int(np.nansum(e.kept)) for e in episodes)
    print(f"{matched} of {len(verdicts)} verdicts matched to a top-{TOP} dev candidate, {kept} kept")
    for weight in (0.0, WEIGHT):
        hits = picked = 0
        for name in sorted({e.show for e in episodes}):
            train = [e for e in episodes if e.show != name]
            h, p = hits_in_top_five([e for e in episodes if e.show == name], fit(train, weight))
            hits, picked = hits + h, picked + p
        print(f"leave one show out, weight {weight}: dev P@5 {hits / picked:.3f}")
    probe = fit(episodes, WEIGHT)
    PROBE_FILE.write_text(json.dumps({
        "model": probe.model, "mean": round(probe.mean, 6), "std": round(probe.std, 6),
        "weight": probe.weight, "top": probe.top,
        "fitted_on": f"{matched} blind-judge verdicts on dev candidates ({kept} kept), ridge {RIDGE}",
        "direction": [round(float(w), 6) for w in probe.direction],
    }) + "\n", encoding="utf-8")
    print(f"wrote {PROBE_FILE}")


if __name__ == "__main__":
    main()
