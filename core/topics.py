"""A chat's topics: checked as typed, and how much closer to them lifts an insight in the digest.

A topic only re-orders insights that already qualify: the filler floor (`insights.min_score`,
before and after feedback weights) is applied first, and the near-duplicate, per-episode and
per-show rules of the pick run unchanged on the re-ordered stream. No topics: no change at all.
"""

from __future__ import annotations

import base64
import heapq
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from core.errors import ValidationError
from core.insights.embedded import vector_of
from core.insights.similarity import cosine
from core.models import Insight, Subscriber

MAX_TOPICS = 10
MAX_TOPIC_CHARS = 40
MAX_TEXT_CHARS = 600
# The most a topic adds to an insight's score (0..1): about a fifth of the range a good
# insight's score spans, twice one feedback vote (0.1), so it re-orders near neighbours only.
TOPIC_BOOST = 0.2
# MiniLM cosine of a one- or two-word topic and an insight sentence: 0.18 to 0.47 on 11 related
# pairs, below 0.15 on 47 of 49 unrelated ones (tests/test_topics.py). Linear in between.
VECTOR_FLOOR = 0.15
VECTOR_FULL = 0.40
_ALLOWED = re.compile(r"[^\W_](?:[\w .&+#'’-]*[\w+#])?")
_WORD = re.compile(r"[^\W_]+")
_STOP = frozenset("a an and of or the in on for to with about".split())

Head = tuple[float, Insight]  # (adjusted score, insight), as core/digests.py streams them


def parse_topics(text: str) -> tuple[str, ...]:
    """'ai, energy, startups' -> ('ai', 'energy', 'startups'); commas separate, else each word."""
    text = " ".join(text.split())
    if len(text) > MAX_TEXT_CHARS:
        raise ValidationError(f"Please keep your topics under {MAX_TEXT_CHARS} characters in all.")
    parts = re.split(r"[,;]", text) if re.search(r"[,;]", text) else text.split(" ")
    topics: dict[str, str] = {}  # lowercase -> as typed, first spelling wins
    for part in (p.strip() for p in parts):
        if not part:
            continue
        if len(part) > MAX_TOPIC_CHARS:
            raise ValidationError(f"A topic is at most {MAX_TOPIC_CHARS} characters: "
                                  f"{part[:MAX_TOPIC_CHARS]!r}… is longer.")
        if not _ALLOWED.fullmatch(part):
            raise ValidationError(f"A topic is words and numbers (with - ' + . & #), not {part!r}.")
        topics.setdefault(part.lower(), part)
    if not topics:
        raise ValidationError("Name a few topics, e.g. /topics ai, energy, startups")
    if len(topics) > MAX_TOPICS:
        raise ValidationError(f"At most {MAX_TOPICS} topics, not {len(topics)}: keep the ones "
                              "you care about most.")
    return tuple(topics.values())


@dataclass(frozen=True)
class TopicBoost:
    """How close insights are to one subscriber's topics, and the digest order that follows."""

    terms: tuple[frozenset[str], ...]  # each topic's content words, stemmed
    vectors: tuple[bytes, ...] = ()
    model: str = ""
    most: float = TOPIC_BOOST

    @classmethod
    def of(cls, subscriber: Subscriber) -> TopicBoost | None:
        """The subscriber's boost, or None without topics (the ranking is then untouched)."""
        if not subscriber.topics:
            return None
        vectors = tuple(base64.b64decode(v) for v in subscriber.topic_vectors)
        if len(vectors) != len(subscriber.topics):
            vectors = ()  # stored before a topic edit finished embedding: words only
        return cls(tuple(_topic_terms(t) for t in subscriber.topics), vectors, subscriber.topic_model)

    def closeness(self, insight: Insight) -> float:
        """0..1: all of a topic's words in the insight, or an embedding as near as a related one."""
        words = _insight_terms(insight.text, insight.quote)
        best = max((len(t & words) / len(t) for t in self.terms if t), default=0.0)
        if best < 1.0 and self.vectors and insight.vector and insight.vector_model == self.model:
            vector = vector_of(insight)
            near = max(cosine(v, vector) for v in self.vectors)
            best = max(best, min(1.0, max(0.0, (near - VECTOR_FLOOR) / (VECTOR_FULL - VECTOR_FLOOR))))
        return best

    def reorder(self, stream: Iterator[Head]) -> Iterator[Head]:
        """A best-first stream re-ordered by score plus boost, reading ahead only as far as needed.

        An insight still unread scores at most the last one read plus `most`, so the best boosted
        one buffered can be given out as soon as it beats that.
        """
        buffer: list[tuple[float, float, str, Insight]] = []
        for adjusted, insight in stream:
            while buffer and -buffer[0][0] > adjusted + self.most:
                top = heapq.heappop(buffer)
                yield -top[0], top[3]
            boosted = adjusted + self.most * self.closeness(insight)
            heapq.heappush(buffer, (-boosted, -insight.score, insight.id, insight))
        while buffer:
            top = heapq.heappop(buffer)
            yield -top[0], top[3]


def _topic_terms(topic: str) -> frozenset[str]:
    words = [w for w in _WORD.findall(topic.lower()) if w not in _STOP]
    return frozenset(_stem(w) for w in words)


@lru_cache(maxsize=65536)  # a round asks about the same insights for every subscriber with topics
def _insight_terms(text: str, quote: str) -> frozenset[str]:
    return frozenset(_stem(w) for w in _WORD.findall(f"{text} {quote}".lower()))


def _stem(word: str) -> str:
    """Plural and singular meet: startups/startup, batteries/battery, taxes/tax."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("sses", "xes", "ches", "shes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word
