"""Running rankers over the evaluation set: the offline extractor and two trivial baselines."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from core.config import InsightSettings
from core.ids import episode_id_for
from core.insights.corpus_stats import BackgroundStats
from core.insights.offline import OfflineExtractor
from core.insights.sentences import split_sentences
from core.models import Episode, Insight, Transcript
from core.ports import Embedder
from tests.eval.dataset import EVAL, Case, TopScore, score_top

Picks = list[tuple[str, float]]  # (quote, start), best first


def episode_for(case: Case) -> Episode:
    """A stand-in episode for an eval case."""
    return Episode(id=episode_id_for("feval", case.name), feed_id="feval", identity=case.name,
                   title=case.name, published_at=None, duration_s=case.hours * 3600, audio_url=None,
                   audio_type=None, page_url=None, description="")


def offline_insights(extractor: OfflineExtractor, case: Case) -> list[Insight]:
    """The offline extractor's insights for a case, best first."""
    transcript = Transcript(episode_for(case).id, case.segments, "eval")
    return extractor.extract_sync(transcript, episode_for(case))


def offline_picks(extractor: OfflineExtractor, case: Case) -> Picks:
    """The offline extractor's insights for a case, as (quote, start)."""
    return [(i.quote, i.start) for i in offline_insights(extractor, case)]


def first_five(case: Case) -> Picks:
    """Baseline: the first five sentences of eight words or more."""
    return [(s.text, s.start) for s in split_sentences(case.segments) if len(s.text.split()) >= 8][:5]


def longest_five(case: Case) -> Picks:
    """Baseline: the five longest sentences."""
    ranked = sorted(split_sentences(case.segments), key=lambda s: (-len(s.text.split()), s.index))
    return [(s.text, s.start) for s in ranked[:5]]


SECOND_READER = EVAL / "second_reader"


def second_reader(case: Case) -> Picks:
    """Reference: the five a second reader chose blind to the labels and the ranker (none: empty)."""
    path = SECOND_READER / f"{case.name}.json"
    if not path.is_file():
        return []
    return [(p["quote"], float(p["start"])) for p in json.loads(path.read_text(encoding="utf-8"))["picks"]]


BASELINES = {"first-5": first_five, "longest-5": longest_five, "reader": second_reader}


@dataclass(frozen=True)
class Run:
    """One ranker on one case: its top-five score and how long it took."""

    case: Case
    top: TopScore
    seconds: float  # CPU
    insights: tuple[Insight, ...] = ()  # the offline extractor's, for digest-level figures


def run_all(cases: list[Case], settings: InsightSettings | None = None,
            embedder: Embedder | None = None) -> dict[str, list[Run]]:
    """Every ranker over every case, in order; each offline extractor keeps one history across cases.

    With an embedder, "offline" is the product's ranker (features, then the keeper probe) and
    "features" the ranker without embeddings (insights.embeddings = false); without, "offline" only.
    """
    extractors = {"offline": OfflineExtractor(settings or InsightSettings(), BackgroundStats(), embedder)}
    if embedder is not None:
        extractors["features"] = OfflineExtractor(settings or InsightSettings(), BackgroundStats())
    out: dict[str, list[Run]] = {**{name: [] for name in extractors}, **{name: [] for name in BASELINES}}
    for case in cases:
        for name, extractor in extractors.items():
            t0 = time.process_time()  # CPU, as the cost target is stated
            insights = offline_insights(extractor, case)
            elapsed = time.process_time() - t0
            picks = [(i.quote, i.start) for i in insights]
            out[name].append(Run(case, score_top(case, picks), elapsed, tuple(insights)))
        for name, baseline in BASELINES.items():
            t0 = time.process_time()
            picks = baseline(case)
            out[name].append(Run(case, score_top(case, picks), time.process_time() - t0))
    return out
