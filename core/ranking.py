"""Choose a subscriber's daily five: unsent, not repeated, spread across shows, never filler."""

from __future__ import annotations

import dataclasses
import re
from collections import Counter, deque
from collections.abc import Mapping, Sequence
from functools import lru_cache

from core.insights.embedded import vector_of
from core.insights.paraphrase import SURE, ParaphraseJudge
from core.models import Insight, Subscriber

# Two insights whose embeddings are this close say the same thing (bench/duplicates.py: chosen on
# half of 64 + 64 written pairs as the lowest that merges at most 5% of distinct claims).
DUPLICATE_COSINE = SURE  # whole-sentence cosine alone (without a judge to embed the remainders)
_WHOLE_SENTENCE = ParaphraseJudge(None)  # that rule: a judge with no embedder

# Function words and podcast filler: they make unrelated sentences look alike.
_STOPWORDS = frozenset("""
a about above after again against all almost also am an and any approximately are aren around
as at be because been before being below between both but by can cannot could did didn do does
doesn doing don down during each either else even ever every few for from further get gets
getting go goes going gonna got had has have having he her here hers him his how however i
if in into is isn it its
itself just kind last least less let like ll lot lots may maybe me mean means might more most
much must my nearly need needs next no nor not now of off often on once one only or other our
ours out over own per percent perhaps pretty quite rather re really right roughly said same say
says she should so some something sort still such than that the their theirs them then there
these they thing things think this those though through to too under until up upon us ve very
was wasn way we well were what when where whether which while who whom why will with within
without won would year years yet you your yours
""".split())

_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+")
_SUFFIXES = ("ingly", "edly", "ing", "ed", "est", "er", "ly", "s")  # crude, but the same both sides


@lru_cache(maxsize=65536)  # the same insights are compared for every subscriber of a show
def _terms(text: str) -> tuple[frozenset[str], int]:
    """Stemmed content words of `text` and their total weight (numbers weigh double)."""
    terms = frozenset(
        _stem(token) for token in _TOKEN.findall(text.lower())
        if token not in _STOPWORDS and (len(token) > 1 or token.isdigit())
    )
    return terms, sum(term_weight(t) for t in terms)


def _stem(word: str) -> str:
    if word[0].isdigit():
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    else:
        for suffix in _SUFFIXES:
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                word = word[: -len(suffix)]
                break
    # Drop a final "e" and a doubled last letter so rate/rated/rating and run/running meet.
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    if len(word) > 3 and word[-1] == word[-2]:
        word = word[:-1]
    return word


def term_weight(term: str) -> int:
    """How much a shared stemmed term counts towards a near-duplicate: numbers count double."""
    return 2 if term[0].isdigit() else 1  # a shared figure is strong evidence of the same idea


def similarity(a: str, b: str) -> float:
    """Weighted Dice overlap of stemmed content words, 0..1: 1 for the same idea in other words."""
    terms_a, weight_a = _terms(a)
    terms_b, weight_b = _terms(b)
    if not weight_a or not weight_b:
        return 1.0 if " ".join(a.lower().split()) == " ".join(b.lower().split()) else 0.0
    shared = sum(term_weight(t) for t in terms_a & terms_b)
    return 2 * shared / (weight_a + weight_b)


def _overlaps(a: Fingerprint, b: Fingerprint) -> bool:
    """Overlapping stretches of audio (e.g. one moment found by two extraction windows)."""
    overlap = min(a.end, b.end) - max(a.start, b.start)
    shorter = min(a.end - a.start, b.end - b.start)
    return overlap > 0 and overlap >= 0.5 * max(shorter, 1e-9)


def is_near_duplicate(a: Insight, b: Insight, threshold: float = 0.5) -> bool:
    """True when `a` and `b` say the same thing (similar text, or the same moment)."""
    return Fingerprint.of(a).repeats(Fingerprint.of(b), threshold)


def adjusted_score(insight: Insight, subscriber: Subscriber, feed_id: str | None = None) -> float:
    """The insight's score shifted by the subscriber's weights for its show and its kind."""
    # InsightKind is a StrEnum: it finds its plain-string key without converting.
    return (insight.score + subscriber.show_weights.get(feed_id or insight.feed_id, 0.0)
            + subscriber.kind_weights.get(insight.kind, 0.0))


def choose_digest(
    candidates: Sequence[Insight],
    *,
    subscriber: Subscriber,
    sent_recent: Sequence[Insight],
    feed_of: Mapping[str, str] | None = None,
    size: int = 5,
    max_per_episode: int = 2,
    min_score: float = 0.35,
    near_duplicate: float = 0.5,
    show_penalty: float = 0.1,
    judge: ParaphraseJudge | None = None,
) -> list[Insight]:
    """The best `size` insights, best first: fewer when there are not enough good ones.

    Greedy pick by adjusted score minus `show_penalty` per insight already picked from the same
    show; skips what was sent, near-duplicates of what was sent or picked, a third from one
    episode, and filler (an insight scoring below `min_score`, before or after the weights).
    """
    if size <= 0:
        return []
    sent_ids = {s.id for s in sent_recent}

    def show(insight: Insight) -> str:
        return feed_of.get(insight.id, insight.feed_id) if feed_of else insight.feed_id

    scored: dict[str, tuple[float, Insight]] = {}
    show_weights, kind_weights = subscriber.show_weights, subscriber.kind_weights
    for c in candidates:
        if c.score < min_score or c.id in sent_ids:
            continue
        adjusted = c.score + show_weights.get(show(c), 0.0) + kind_weights.get(c.kind, 0.0)
        if adjusted < min_score:
            continue
        if c.id not in scored or adjusted > scored[c.id][0]:
            scored[c.id] = (adjusted, c)
    queues: dict[str, deque[tuple[float, Insight]]] = {}
    for adjusted, c in sorted(scored.values(), key=lambda p: (-p[0], -p[1].score, p[1].id)):
        queues.setdefault(show(c), deque()).append((adjusted, c))

    picked: list[Insight] = []
    seen = [Fingerprint.of(s) for s in sent_recent]  # what the subscriber already has
    per_show: Counter[str] = Counter()
    per_episode: Counter[str] = Counter()
    while len(picked) < size and queues:
        # Each show's best left is its queue head; the penalty makes a second pick from
        # a show wait unless it is clearly better than the best of another show.
        feed = min(queues, key=lambda f: (-(queues[f][0][0] - show_penalty * per_show[f]),
                                          -queues[f][0][0], queues[f][0][1].id))
        _, c = queues[feed].popleft()
        if not queues[feed]:
            del queues[feed]
        if per_episode[c.episode_id] >= max_per_episode:
            continue
        mark = Fingerprint.of(c)
        if any(mark.repeats(other, near_duplicate, judge) for other in seen):
            continue
        picked.append(c)
        seen.append(mark)
        per_show[feed] += 1
        per_episode[c.episode_id] += 1
    return picked


@dataclasses.dataclass(frozen=True, slots=True)
class Fingerprint:
    """What near-duplicate checks need of an insight, computed once per digest."""

    episode_id: str
    start: float
    end: float
    terms: frozenset[str]
    weight: int
    text: str
    vector: bytes = b""
    vector_model: str = ""

    @classmethod
    def of(cls, insight: Insight) -> Fingerprint:
        terms, weight = _terms(insight.text)
        return cls(insight.episode_id, insight.start, insight.end, terms, weight, insight.text,
                   vector_of(insight), insight.vector_model)

    def same_meaning(self, other: Fingerprint, judge: ParaphraseJudge | None = None) -> bool:
        """Paraphrases of one idea, by embeddings of one model (never across models)."""
        if not self.vector or self.vector_model != other.vector_model:
            return False
        return (judge or _WHOLE_SENTENCE).same(self.text, self.vector, other.text, other.vector)

    def repeats(self, other: Fingerprint, threshold: float, judge: ParaphraseJudge | None = None) -> bool:
        """Same as `is_near_duplicate`, without recomputing terms for every pair."""
        if self.episode_id == other.episode_id and _overlaps(self, other):
            return True
        shared = self.terms & other.terms
        if not shared:  # the common case: unrelated ideas share no content word
            blank = not self.weight and not other.weight  # only stopwords: compare the texts
            if blank and similarity(self.text, other.text) >= threshold:
                return True
            return self.same_meaning(other, judge)
        total = self.weight + other.weight
        # Word overlap first (fast, and sure when it fires); then meaning, for paraphrases.
        return (2 * sum(term_weight(t) for t in shared) >= threshold * total
                or self.same_meaning(other, judge))


def apply_feedback(
    subscriber: Subscriber, insight: Insight, vote: int, step: float = 0.1, cap: float = 0.5
) -> Subscriber:
    """A copy of `subscriber` with the insight's show and kind weights moved by one vote."""
    direction = (vote > 0) - (vote < 0)
    kind = getattr(insight.kind, "value", insight.kind)
    return dataclasses.replace(
        subscriber,
        show_weights=_shift(subscriber.show_weights, insight.feed_id, direction * step, cap),
        kind_weights=_shift(subscriber.kind_weights, kind, direction * step, cap),
    )


def _shift(weights: Mapping[str, float], key: str, delta: float, cap: float) -> dict[str, float]:
    shifted = dict(weights)
    value = round(max(-cap, min(cap, shifted.get(key, 0.0) + delta)), 6)  # no float drift
    if value:
        shifted[key] = value
    else:
        shifted.pop(key, None)  # back to neutral: keep the stored document small
    return shifted
