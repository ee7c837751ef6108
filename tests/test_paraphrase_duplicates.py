"""Paraphrases across shows count once: embeddings computed at extraction, checked when choosing."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from core.adapters.minilm import MiniLMEmbedder
from core.config import Settings
from core.digests import Catalog, DigestBuilder, SentHistory
from core.insights.embedded import EmbeddingExtractor, vector_of
from core.insights.paraphrase import GRAY, SURE, ParaphraseJudge
from core.insights.similarity import cosine
from core.models import Chapter, Episode, Feed, Insight, Subscriber, Transcript
from core.ranking import choose_digest, similarity
from core.store.repos import LedgerEntry, LedgerMessage, Repos
from tests.fakes.memory_store import FakeStore

SUBSCRIBER = Subscriber(id="telegram:1", platform="telegram", chat_id="1")
# One idea in two shows' words: too few shared words for the lexical check (similarity 0.29).
MENTORING = ("Remote work did not kill mentoring; it made it explicit, because nobody learns by "
             "overhearing anymore.")
PARAPHRASE = ("Mentoring survived the move to remote work, but it now has to be deliberate since "
              "juniors can no longer pick things up by listening in.")
DISTINCT = "Remote work made meetings longer, because every decision now needs a call."
OTHERS = [
    "Battery storage costs fell faster than solar panel prices this decade.",
    "Octopuses edit their own RNA to adapt to cold water.",
    "Chess engines now teach grandmasters opening ideas humans missed.",
    "Container shipping rates doubled after the canal drought.",
]


class ListedExtractor:
    """A FakeExtractor returning fixed insights (the offline ranker is tested elsewhere)."""

    name = "offline"

    def __init__(self, insights: list[Insight]) -> None:
        self.insights = insights

    async def extract(self, transcript: Transcript, episode: Episode, show_title: str,
                      chapters: Sequence[Chapter] = ()) -> list[Insight]:
        return self.insights


EPISODE = Episode(id="e", feed_id="f", identity="e", title="t", published_at=None, duration_s=None,
                  audio_url=None, audio_type=None, page_url=None, description="")


def insight(n: int, text: str, feed: str, score: float = 0.9) -> Insight:
    return Insight(id=f"i{n}", episode_id=f"e-{feed}", feed_id=feed, text=text, quote=text,
                   start=10.0 * n, end=10.0 * n + 5, score=score)


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder()


async def embedded(embedder: MiniLMEmbedder, insights: list[Insight]) -> list[Insight]:
    return await EmbeddingExtractor(ListedExtractor(insights), embedder).extract(
        Transcript("e", (), "test"), EPISODE, "Show")


def test_minilm_returns_each_vector_in_order_and_as_if_embedded_alone(embedder: MiniLMEmbedder) -> None:
    texts = [MENTORING + " " + DISTINCT, "Short.", PARAPHRASE, "", MENTORING * 3]  # batched by length inside
    together = embedder.embed(texts)
    assert together == [embedder.embed([t])[0] for t in texts]


async def test_extraction_stores_one_vector_per_insight_with_its_model(embedder) -> None:
    out = await embedded(embedder, [insight(1, MENTORING, "a"), insight(2, DISTINCT, "a")])
    assert all(i.vector and i.vector_model == "minilm-l6-int8" for i in out)
    assert out[0].vector != out[1].vector


async def test_a_paraphrase_pair_from_two_shows_never_goes_out_in_one_digest(embedder) -> None:
    assert similarity(MENTORING, PARAPHRASE) < 0.5  # the word-overlap check alone lets both in
    pool = await embedded(embedder, [insight(1, MENTORING, "show-a", 0.95),
                                     insight(2, PARAPHRASE, "show-b", 0.94),
                                     *(insight(3 + k, t, f"other-{k}", 0.5) for k, t in enumerate(OTHERS))])
    picked = [i.text for i in choose_digest(pool, subscriber=SUBSCRIBER, sent_recent=[])]
    assert MENTORING in picked and PARAPHRASE not in picked and len(picked) == 5


async def test_a_paraphrase_of_what_was_sent_yesterday_is_not_sent_today(embedder) -> None:
    sent, today = await embedded(embedder, [insight(1, MENTORING, "show-a"),
                                            insight(2, PARAPHRASE, "show-b")])
    assert choose_digest([today], subscriber=SUBSCRIBER, sent_recent=[sent]) == []


async def test_distinct_claims_on_the_same_topic_both_go_out(embedder) -> None:
    pool = await embedded(embedder, [insight(1, MENTORING, "show-a"), insight(2, DISTINCT, "show-b")])
    assert len(choose_digest(pool, subscriber=SUBSCRIBER, sent_recent=[])) == 2


async def test_vectors_of_another_model_are_never_compared(embedder) -> None:
    first, second = await embedded(embedder, [insight(1, MENTORING, "show-a"),
                                              insight(2, PARAPHRASE, "show-b")])
    other = dataclasses.replace(second, vector_model="another-model")
    assert len(choose_digest([first, other], subscriber=SUBSCRIBER, sent_recent=[])) == 2


class BrokenEmbedder:
    name = "broken"

    def embed(self, texts: Sequence[str]) -> list[bytes]:
        raise RuntimeError("onnxruntime could not start")


async def test_an_embedder_that_fails_leaves_the_insights_without_vectors() -> None:
    items = [insight(1, MENTORING, "a")]
    out = await EmbeddingExtractor(ListedExtractor(items), BrokenEmbedder()).extract(
        Transcript("e", (), "test"), EPISODE, "Show")
    assert out == items


# The delivery path (DigestBuilder over a Catalog), not only the reference choose_digest.
STARTUPS = ("Most startups fail because they build something nobody wants, not because they run out "
            "of money.")
STARTUPS_AGAIN = ("Running out of cash is rarely what kills a young company; making a product no "
                  "customer asked for is.")  # whole-sentence cosine 0.57: only the remainders tell
NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


def catalog_of(insights: list[Insight]) -> Catalog:
    feeds = {i.feed_id: Feed(id=i.feed_id, url=f"https://example.org/{i.feed_id}.xml", title=i.feed_id,
                             origin="operator") for i in insights}
    episodes = {i.episode_id: dataclasses.replace(EPISODE, id=i.episode_id, feed_id=i.feed_id)
                for i in insights}
    by_feed: dict[str, list[Insight]] = {}
    for i in insights:
        by_feed.setdefault(i.feed_id, []).append(i)
    return Catalog(feeds=feeds, episodes=episodes, insights={i.id: i for i in insights}, by_feed=by_feed)


def delivered(embedder, insights: list[Insight], history: SentHistory | None = None,
              judge: ParaphraseJudge | None = None) -> list[str]:
    catalog = catalog_of([dataclasses.replace(i, created_at=NOW) for i in insights])
    builder = DigestBuilder(Repos(FakeStore()), Settings(), judge or ParaphraseJudge(embedder))
    catalog.judge = builder.judge
    return [i.text for i in builder.choose(catalog, SUBSCRIBER, history or SentHistory(), NOW, NOW.date())]


async def test_the_delivery_path_never_sends_a_paraphrase_pair_from_two_shows(embedder) -> None:
    pool = await embedded(embedder, [insight(1, MENTORING, "show-a", 0.95),
                                     insight(2, PARAPHRASE, "show-b", 0.94),
                                     *(insight(3 + k, t, f"other-{k}", 0.5) for k, t in enumerate(OTHERS))])
    picked = delivered(embedder, pool)
    assert MENTORING in picked and PARAPHRASE not in picked and len(picked) == 5


async def test_a_paraphrase_the_whole_sentences_miss_is_caught_by_what_is_left_of_them(embedder) -> None:
    first, second = await embedded(embedder, [insight(1, STARTUPS, "show-a", 0.95),
                                              insight(2, STARTUPS_AGAIN, "show-b", 0.94)])
    assert GRAY <= cosine(vector_of(first), vector_of(second)) < SURE
    assert not ParaphraseJudge(None).same(STARTUPS, vector_of(first), STARTUPS_AGAIN, vector_of(second))
    assert delivered(embedder, [first, second]) == [STARTUPS]


async def test_yesterdays_paraphrase_is_not_delivered_today(embedder) -> None:
    sent, today = await embedded(embedder, [insight(1, STARTUPS, "show-a"),
                                            insight(2, STARTUPS_AGAIN, "show-b")])
    history = SentHistory()
    history.record(LedgerEntry(SUBSCRIBER.id, (NOW.date() - timedelta(days=1)).isoformat(),
                               (LedgerMessage(sent.id),), chosen_at=NOW))
    assert delivered(embedder, [sent, today], history) == []


async def test_the_delivery_path_sends_distinct_claims_on_one_topic(embedder) -> None:
    pool = await embedded(embedder, [insight(1, MENTORING, "show-a"), insight(2, DISTINCT, "show-b")])
    assert len(delivered(embedder, pool)) == 2


async def test_an_embedder_failing_while_choosing_leaves_the_whole_sentence_rule(embedder) -> None:
    first, second = await embedded(embedder, [insight(1, STARTUPS, "show-a", 0.95),
                                              insight(2, STARTUPS_AGAIN, "show-b", 0.94)])
    judge = ParaphraseJudge(BrokenEmbedder())
    assert delivered(embedder, [first, second], judge=judge) == [STARTUPS, STARTUPS_AGAIN]
    assert judge.embedder is None  # logged once, then no more tries
