"""Are two insights one idea in other words? Their embeddings, whole and without the words they share.

Two claims on one topic share the topic's words, and those words pull their sentence vectors
together (distinct same-topic claims sit at cosine 0.35-0.67 with MiniLM). Embedding what is left
once the shared words are gone compares what each says about the topic. A pair is one idea when the
whole-sentence cosine is high on its own, or when it is fairly high and the mean of it and the
remainders' cosine clears MEAN. Measured on tests/eval/paraphrases.json (bench/duplicates.py):
whole-sentence cosine alone catches 0.34 of paraphrases, the mean 0.78, both with 0.03 false merges.
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from core.insights.similarity import SCALE, cosine
from core.ports import Embedder

log = logging.getLogger(__name__)

SURE = 0.74  # whole-sentence cosine that means one idea by itself
GRAY = 0.55  # below this no paraphrase in the benchmark was caught: the remainders are not embedded
MEAN = 0.54  # threshold on the mean of whole and remainder cosine (chosen on half the pairs)
MOST_CHECKED = 8  # remainder checks per insight, nearest first: bounds the embedding work
_WORD = re.compile(r"[A-Za-z0-9']+")
_STOP = frozenset("""
a about after all also an and any are as at be because been but by can could did do does doing
don for from get got had has have he her his how i if in into is it its just kind like lot me more
most my no not now of on one only or other our out over really so some such than that the their
them then there these they thing things this those to too up very was we were what when which who
will with would you your yeah okay gonna
""".split())


def shared_words(a: str, b: str) -> set[str]:
    """Content words (lowercase, three letters or more) that occur in both texts."""
    return _content(a) & _content(b)


def remainder(text: str, shared: set[str]) -> str:
    """The text without the words it shares with the other one (the text itself if none are left)."""
    kept = [w for w in _WORD.findall(text) if w.lower() not in shared]
    return " ".join(kept) if kept else text


def _content(text: str) -> set[str]:
    return {w for w in (m.lower() for m in _WORD.findall(text)) if len(w) > 2 and w not in _STOP}


class ParaphraseJudge:
    """The pair test, with the remainders' embeddings cached across calls (one per process)."""

    def __init__(self, embedder: Embedder | None, cache_size: int = 20_000) -> None:
        self.embedder = embedder
        self._cache: OrderedDict[tuple[str, str], bool] = OrderedDict()
        self._cache_size = cache_size

    def same(self, a: str, a_vector: bytes, b: str, b_vector: bytes) -> bool:
        """True when the two texts say one thing (vectors of one model, as stored on the insights)."""
        return self.same_at(a, b, cosine(a_vector, b_vector))

    def same_at(self, a: str, b: str, whole: float) -> bool:
        """`same`, given the whole-sentence cosine already computed."""
        if whole >= SURE:
            return True
        if whole < GRAY or self.embedder is None:
            return False
        key = (a, b) if a <= b else (b, a)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = (whole + self._remainder_cosine(a, b)) / 2 >= MEAN
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return found

    def _remainder_cosine(self, a: str, b: str) -> float:
        assert self.embedder is not None
        shared = shared_words(a, b)
        try:
            va, vb = self.embedder.embed([remainder(a, shared), remainder(b, shared)])
        except Exception:  # a broken runtime must not stop a delivery round: fall back to SURE alone
            log.exception("paraphrase check: the embedder failed; whole-sentence cosine only from now on")
            self.embedder = None
            return 0.0
        return cosine(va, vb)


@dataclass(frozen=True)
class _Vectors:
    ids: tuple[str, ...]
    texts: tuple[str, ...]
    matrix: np.ndarray  # one float32 row per insight, scaled so row @ row.T is the cosine


class MeaningIndex:
    """Every insight's nearest neighbours by meaning, over one catalogue, per embedding model."""

    def __init__(self, items: Iterable[tuple[str, str, bytes, str]], judge: ParaphraseJudge) -> None:
        """`items`: (insight id, text, int8 vector, model); insights without a vector are left out."""
        grouped: dict[str, list[tuple[str, str, bytes]]] = {}
        self._model: dict[str, str] = {}
        for insight_id, text, vector, model in items:
            if vector and model:
                grouped.setdefault(model, []).append((insight_id, text, vector))
                self._model[insight_id] = model
        self._by_model = {model: _stack(rows) for model, rows in grouped.items()}
        self._row = {i: (model, n) for model, v in self._by_model.items() for n, i in enumerate(v.ids)}
        self.judge = judge

    def alike(self, insight_id: str) -> set[str]:
        """Insights of the catalogue that say what this one says (never itself)."""
        place = self._row.get(insight_id)
        if place is None:
            return set()
        model, n = place
        vectors = self._by_model[model]
        cosines = vectors.matrix @ vectors.matrix[n]
        cosines[n] = -1.0
        found = {vectors.ids[k] for k in np.flatnonzero(cosines >= SURE)}
        gray = np.flatnonzero((cosines >= GRAY) & (cosines < SURE))
        nearest = gray[np.argsort(-cosines[gray])][:MOST_CHECKED]
        text = vectors.texts[n]
        found.update(vectors.ids[k] for k in nearest
                     if self.judge.same_at(text, vectors.texts[k], float(cosines[k])))
        return found


def _stack(rows: Sequence[tuple[str, str, bytes]]) -> _Vectors:
    matrix = np.stack([np.frombuffer(v, dtype=np.int8) for _, _, v in rows]).astype(np.float32)
    return _Vectors(tuple(r[0] for r in rows), tuple(r[1] for r in rows), matrix / np.sqrt(SCALE))
