"""The offline ranker's best candidates re-ranked by meaning: how much each reads like what a blind
reader kept.

The features see cues (numbers, "because", hedges); they cannot tell a self-contained claim from an
anecdote or a fragment with the same cues. A linear probe on the MiniLM sentence vectors of the
displayed text can: fitted on a blind judge's keeper / weak / filler verdicts on dev candidates
(tests/eval/fit_keeper_probe.py writes keeper_probe.json beside this file), it is added to each
candidate's logit, in units of its spread over dev candidates.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.insights.features import log_odds, logistic

if TYPE_CHECKING:
    from core.insights.offline import Scored

PROBE_FILE = Path(__file__).with_name("keeper_probe.json")


@dataclass(frozen=True)
class KeeperProbe:
    """A direction in one embedding model's space, with the spread that scales it."""

    model: str  # the Embedder.name its vectors must come from
    direction: np.ndarray  # float32, one weight per vector dimension
    mean: float  # of direction . vector over the dev candidates it was fitted on
    std: float
    weight: float  # logit units per standard deviation
    top: int  # how many of the ranker's best candidates it re-ranks

    @classmethod
    def load(cls, path: Path = PROBE_FILE) -> KeeperProbe:
        """The probe shipped with the package."""
        doc = json.loads(path.read_text(encoding="utf-8"))
        return cls(doc["model"], np.asarray(doc["direction"], dtype=np.float32), float(doc["mean"]),
                   float(doc["std"]), float(doc["weight"]), int(doc["top"]))

    def rerank(self, head: list[Scored], vectors: list[bytes]) -> list[Scored]:
        """`head` (the ranker's best, best first) with probe-adjusted scores, best first again."""
        if not head:
            return []
        rows = np.frombuffer(b"".join(vectors), dtype=np.int8).reshape(len(vectors), -1)
        units = rows.astype(np.float32) / 127.0
        shifts = self.weight * (units @ self.direction - self.mean) / self.std
        out = [replace(item, score=logistic(log_odds(item.score) + float(shift)))
               for item, shift in zip(head, shifts, strict=True)]
        out.sort(key=lambda s: (-s.score, s.candidate.first, s.candidate.last))
        return out
