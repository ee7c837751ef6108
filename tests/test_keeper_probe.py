"""The keeper probe: the offline ranker's best candidates re-ranked by meaning, with the real MiniLM."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pytest

from core.adapters.minilm import MiniLMEmbedder, quantise
from core.config import InsightSettings
from core.errors import ConfigError
from core.insights.corpus_stats import BackgroundStats
from core.insights.embedded import EmbeddingExtractor
from core.insights.keeper_probe import KeeperProbe
from core.insights.offline import OfflineExtractor, rank
from core.models import Episode, Segment, Transcript

EPISODE = Episode(id="e1", feed_id="f1", identity="g1", title="Build Notes", published_at=None,
                  duration_s=600.0, audio_url=None, audio_type=None, page_url=None, description="")
TALK = [
    "Welcome back to the show, it is great to have you here with us again today.",
    "So we moved every service behind one cache last year, and it went fine for a while.",
    "Cache invalidation fails quietly, because nobody owns the rule for when data goes stale.",
    "I remember the week we did it, my dog kept barking at the delivery guy all afternoon.",
    "Teams that write down who owns each cache key have far fewer stale reads in production.",
    "We had pizza that Friday and everyone went home early, it was a pretty good day honestly.",
    "Thanks so much for listening, and see you next week.",
]


def transcript() -> Transcript:
    return Transcript(EPISODE.id, tuple(Segment(8.0 * i, 8.0 * i + 7.5, t, "Guest")
                                        for i, t in enumerate(TALK)), "test")


@pytest.fixture(scope="module")
def minilm() -> MiniLMEmbedder:
    return MiniLMEmbedder()


def test_the_shipped_probe_is_for_the_bundled_model_and_well_formed() -> None:
    probe = KeeperProbe.load()
    assert probe.model == MiniLMEmbedder.name
    assert probe.direction.shape == (384,) and np.isfinite(probe.direction).all()
    assert probe.std > 0 and probe.top >= 20 and 0 < probe.weight <= 2


def test_candidates_along_the_direction_move_up_and_scores_stay_probabilities() -> None:
    head = rank(transcript().segments, BackgroundStats())
    direction = np.zeros(384, dtype=np.float32)
    direction[0] = 1.0
    probe = KeeperProbe("test", direction, mean=0.0, std=0.1, weight=1.0, top=len(head))
    last = head[-1]
    vectors = [quantise(np.eye(384)[0] if s is last else np.eye(384)[1]) for s in head]
    reranked = probe.rerank(head, vectors)
    assert reranked[0].candidate == last.candidate  # +10 logits: from last to first
    assert {(s.candidate.first, s.candidate.last) for s in reranked} == \
        {(s.candidate.first, s.candidate.last) for s in head}
    assert all(0.0 < s.score < 1.0 for s in reranked)
    assert [s.score for s in reranked] == sorted((s.score for s in reranked), reverse=True)


class CountingEmbedder:
    """The real model, counting what it is asked to embed."""

    def __init__(self, inner: MiniLMEmbedder) -> None:
        self.inner, self.name, self.texts = inner, inner.name, 0

    def embed(self, texts: Sequence[str]) -> list[bytes]:
        self.texts += len(texts)
        return self.inner.embed(texts)


async def test_offline_insights_carry_the_vectors_the_probe_computed_and_are_not_embedded_twice(
        minilm: MiniLMEmbedder) -> None:
    counting = CountingEmbedder(minilm)
    offline = OfflineExtractor(InsightSettings(), BackgroundStats(), embedder=counting)
    insights = await EmbeddingExtractor(offline, counting).extract(transcript(), EPISODE, "Build Notes")
    assert insights and all(i.vector and i.vector_model == minilm.name for i in insights)
    ranked = len(rank(transcript().segments, BackgroundStats()))
    assert counting.texts == min(ranked, KeeperProbe.load().top)  # the ranker's head, once


async def test_with_the_probe_the_claims_are_kept_and_the_chatter_is_not(minilm: MiniLMEmbedder) -> None:
    insights = OfflineExtractor(InsightSettings(), BackgroundStats(), embedder=minilm).extract_sync(
        transcript(), EPISODE)
    texts = " ".join(i.quote for i in insights)
    assert "Cache invalidation fails quietly" in texts and "write down who owns" in texts
    assert "Welcome back" not in texts and "Thanks so much for listening" not in texts


class BrokenEmbedder:
    name = MiniLMEmbedder.name

    def embed(self, texts: Sequence[str]) -> list[bytes]:
        raise RuntimeError("onnxruntime could not start")


def test_an_embedder_that_fails_ranks_without_the_probe_and_says_so(caplog) -> None:
    plain = OfflineExtractor(InsightSettings(), BackgroundStats()).extract_sync(transcript(), EPISODE)
    with caplog.at_level(logging.ERROR, logger="core.insights.offline"):
        broken = OfflineExtractor(InsightSettings(), BackgroundStats(), embedder=BrokenEmbedder()) \
            .extract_sync(transcript(), EPISODE)
    assert [i.quote for i in broken] == [i.quote for i in plain] and not any(i.vector for i in broken)
    assert "ranked without the keeper probe" in caplog.text


def test_an_embedder_of_another_model_is_refused_at_start() -> None:
    other = BrokenEmbedder()
    other.name = "another-model"
    with pytest.raises(ConfigError, match="refit"):
        OfflineExtractor(InsightSettings(), embedder=other)
