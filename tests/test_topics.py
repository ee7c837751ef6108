"""Topics: checked as typed; they re-order a digest in a measured way and never admit filler."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, date, datetime, timedelta

import pytest

from core.config import InsightSettings, Settings
from core.digests import Catalog, DigestBuilder, SentHistory
from core.errors import ValidationError
from core.models import Episode, Feed, Insight, Subscriber
from core.ranking import adjusted_score, choose_digest
from core.store.repos import Repos
from core.topics import TopicBoost, parse_topics
from tests.fakes.memory_store import FakeStore
from tests.test_digests import WORDS, make_history, make_subscriber, make_world, reference_choose

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
TODAY = date(2026, 11, 28)


# --- what a chat may type ----------------------------------------------------------------------


@pytest.mark.parametrize("typed, topics", [
    ("ai, energy, startups", ("ai", "energy", "startups")),
    ("machine learning; Climate Tech ,", ("machine learning", "Climate Tech")),
    ("ai energy", ("ai", "energy")),  # no commas: each word is a topic
    ("AI, ai, Ai", ("AI",)),  # the same topic once, as first typed
    ("c++, node.js, r&d, c#, rock 'n' roll", ("c++", "node.js", "r&d", "c#", "rock 'n' roll")),
    ("énergie, 気候", ("énergie", "気候")),
])
def test_topics_are_read_as_typed(typed: str, topics: tuple[str, ...]) -> None:
    assert parse_topics(typed) == topics


@pytest.mark.parametrize("typed, says", [
    ("", "Name a few topics"),
    (" , ;", "Name a few topics"),
    (", ".join(f"t{n}" for n in range(11)), "At most 10 topics, not 11"),
    ("x" * 41, "at most 40 characters"),
    ("ai, <script>", "words and numbers"),
    ("ai, http://evil.example/", "words and numbers"),
    ("-dash", "words and numbers"),
    ("a" * 601, "under 600 characters"),
])
def test_bad_topics_are_refused_with_a_reason(typed: str, says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        parse_topics(typed)


# --- a fixed catalogue, ranked with and without topics --------------------------------------------

TEXTS = {  # (show, episode, score, text); scores chosen so energy sits just below the top five
    "a1": ("A", "a", 0.95, "Interest rates decide how many homes get built."),
    "a2": ("A", "a", 0.80, "Solar energy got ninety percent cheaper in ten years."),
    "a3": ("A", "b", 0.62, "Grid energy storage matters more than new panels."),
    "b1": ("B", "c", 0.93, "Sleep loss hurts memory more than caffeine helps it."),
    "b2": ("B", "c", 0.74, "Nuclear energy is the safest per unit of electricity."),
    "b3": ("B", "d", 0.30, "Energy, energy, energy: that is all we talk about."),  # filler
    "c1": ("C", "e", 0.92, "Seed funding rounds got smaller but faster this year."),
    "c2": ("C", "e", 0.85, "Remote teams ship as fast as offices when they write things down."),
    "c3": ("C", "f", 0.72, "Solar energy got ninety percent cheaper in a decade."),  # = a2, reworded
    "d1": ("D", "g", 0.90, "Transit ridership recovered fastest in cities with frequent buses."),
    "d2": ("D", "g", 0.71, "Wind energy curtailment wastes a tenth of the output."),
    "d3": ("D", "g", 0.69, "Offshore energy auctions failed when steel prices jumped."),
    "d4": ("D", "g", 0.68, "Energy bills fall when heat pumps replace gas boilers."),
    "d5": ("D", "h", 0.88, "Drug trials that publish their protocols first are trusted more."),
}
ENERGY = {i for i, (_, _, _, text) in TEXTS.items() if "nergy" in text}


def fixed_catalog() -> Catalog:
    feeds = {s: Feed(id=s, url=f"https://example.org/{s}.xml", title=f"Show {s}", origin="operator")
             for s in "ABCD"}
    episodes, insights = {}, {}
    for insight_id, (show, episode, score, text) in TEXTS.items():
        episodes[episode] = Episode(id=episode, feed_id=show, identity=episode, title=episode,
                                    published_at=None, duration_s=None, audio_url=None,
                                    audio_type=None, page_url=None, description="")
        start = 60.0 * int(insight_id[1])
        insights[insight_id] = Insight(id=insight_id, episode_id=episode, feed_id=show, text=text,
                                       quote=text, start=start, end=start + 20, score=score,
                                       created_at=NOW - timedelta(days=1))
    by_feed: dict[str, list[Insight]] = {}
    for insight in insights.values():
        by_feed.setdefault(insight.feed_id, []).append(insight)
    return Catalog(feeds=feeds, episodes=episodes, insights=insights, by_feed=by_feed)


def pick(subscriber: Subscriber, size: int = 5) -> list[str]:
    builder = DigestBuilder(Repos(FakeStore()), Settings(insights=InsightSettings(digest_size=size)))
    return [i.id for i in builder.choose(fixed_catalog(), subscriber, SentHistory(), NOW, TODAY)]


def chat(**kw) -> Subscriber:
    return Subscriber(id="telegram:1", platform="telegram", chat_id="1", **kw)


def test_with_no_topics_the_digest_is_exactly_the_old_ranking() -> None:
    catalog = fixed_catalog()
    reference = choose_digest(list(catalog.insights.values()), subscriber=chat(), sent_recent=[])
    assert pick(chat()) == [i.id for i in reference] == ["a1", "b1", "c1", "d1", "d5"]
    assert pick(chat(topics=())) == pick(chat())
    assert pick(chat(topics=("knitting", "opera"))) == pick(chat())  # matching nothing: no change


def test_an_energy_topic_brings_energy_into_the_five_in_a_measured_way() -> None:
    plain, energy = pick(chat()), pick(chat(topics=("energy",)))
    # Without the topic the five are the shows' leaders (0.88 to 0.95), none about energy. With
    # it, three energy insights scoring 0.71 to 0.80 (each lifted by TOPIC_BOOST = 0.2) take the
    # places of b1, d1 and d5; c3 stays out as a rewording of a2, and one per show still leads.
    assert plain == ["a1", "b1", "c1", "d1", "d5"] and not ENERGY & set(plain)
    assert energy == ["a2", "b2", "c1", "d2", "a1"]
    assert sorted(TEXTS[i][2] for i in ENERGY & set(energy)) == [0.71, 0.74, 0.80]
    assert set(plain) - set(energy) == {"b1", "d1", "d5"}


def test_a_topic_never_lets_filler_a_near_duplicate_or_a_third_from_one_episode_in() -> None:
    for size in (5, 8, 14):
        picked = pick(chat(topics=("energy",)), size=size)
        assert "b3" not in picked  # filler, however energetic
        assert not {"a2", "c3"} <= set(picked)  # the same claim in two shows: once
        assert len([i for i in picked if TEXTS[i][1] == "g"]) <= 2  # episode g has four
        assert len(picked) == len(set(picked))
    # An insight the chat's votes put below the filler floor stays out, topic or not:
    # b2 (0.74 - 0.5 = 0.24) would have led with the topic; b1 (0.93 - 0.5 = 0.43) still counts.
    down = chat(topics=("energy",), show_weights={"B": -0.5})
    assert "b1" in pick(down, size=14) and not {"b2", "b3"} & set(pick(down, size=14))


def test_a_multi_word_topic_needs_its_words_and_plurals_meet() -> None:
    boost = TopicBoost.of(chat(topics=("heat pumps", "startups")))
    assert boost is not None
    catalog = fixed_catalog()
    assert boost.closeness(catalog.insights["d4"]) == 1.0  # "heat pumps" both present
    assert boost.closeness(catalog.insights["a3"]) == 0.0
    startup = dataclasses.replace(catalog.insights["c1"], text="A startup needs ten customers.")
    assert boost.closeness(startup) == 1.0


CALIBRATION_TOPICS = ["ai", "energy", "startups", "machine learning", "housing", "sleep"]
CALIBRATION_SENTENCES = [
    "Large language models now write a third of the code at some companies.",
    "Solar panels got ninety percent cheaper in a decade, so new grids are built around them.",
    "Battery storage is what makes wind power reliable at night.",
    "Most seed-stage companies fail because they run out of money before finding customers.",
    "Founders should talk to ten customers before writing any code.",
    "Rent in big cities rose faster than wages for twenty years because permits are slow.",
    "Teenagers who sleep less than seven hours score worse on memory tests.",
    "Neural networks trained on more data generalise better, up to a point.",
    "The referee's decision cost them the match in the final minute.",
    "Interest rates above five percent slow down home building.",
]
RELATED = {(0, 0), (0, 7), (1, 1), (1, 2), (2, 3), (2, 4), (3, 0), (3, 7), (4, 5), (4, 9), (5, 6)}


def test_embeddings_lift_related_insights_that_share_no_word_and_only_within_one_model() -> None:
    # The calibration of VECTOR_FLOOR/VECTOR_FULL: MiniLM cosines of these 11 related pairs are
    # 0.18 to 0.47; of the 49 unrelated ones 47 are below 0.15 (the other two 0.19 and 0.27).
    import base64

    from core.adapters.minilm import MiniLMEmbedder

    embedder = MiniLMEmbedder()
    encode = [base64.b64encode(v).decode() for v in embedder.embed(CALIBRATION_TOPICS
                                                                   + CALIBRATION_SENTENCES)]
    topics, sentences = encode[:len(CALIBRATION_TOPICS)], encode[len(CALIBRATION_TOPICS):]
    lifted: dict[bool, list[float]] = {True: [], False: []}
    for t, topic in enumerate(CALIBRATION_TOPICS):
        boost = TopicBoost.of(chat(topics=(topic,), topic_vectors=(topics[t],),
                                   topic_model=embedder.name))
        assert boost is not None
        for n, text in enumerate(CALIBRATION_SENTENCES):
            insight = Insight(id=f"x{n}", episode_id="e", feed_id="f", text=text, quote=text,
                              start=0, end=1, vector=sentences[n], vector_model=embedder.name)
            lifted[(t, n) in RELATED].append(boost.closeness(insight))
    assert sum(c > 0 for c in lifted[True]) >= 10 and max(lifted[True]) == 1.0
    assert sum(c == 0 for c in lifted[False]) >= 47 and max(lifted[False]) < 0.5
    other_model = TopicBoost.of(chat(topics=("ai",), topic_vectors=(topics[0],), topic_model="other"))
    llm = Insight(id="x", episode_id="e", feed_id="f", text=CALIBRATION_SENTENCES[0],
                  quote=CALIBRATION_SENTENCES[0], start=0, end=1, vector=sentences[0],
                  vector_model=embedder.name)
    assert other_model is not None and other_model.closeness(llm) == 0.0  # never across models


# --- the lazy pick with topics equals ranking every candidate -------------------------------------


def jittered(catalog: Catalog, rng: random.Random) -> Catalog:
    """The catalog with scores nudged apart: choose_digest breaks a tie of boosted scores by the
    boosted score, the lazy pick by the raw one, so exact ties would compare two fair orders."""
    insights = {k: dataclasses.replace(i, score=i.score + rng.uniform(0, 1e-4))
                for k, i in catalog.insights.items()}
    by_feed: dict[str, list[Insight]] = {}
    for insight in insights.values():
        by_feed.setdefault(insight.feed_id, []).append(insight)
    return Catalog(feeds=catalog.feeds, episodes=catalog.episodes, insights=insights, by_feed=by_feed)


def reference_with_topics(builder: DigestBuilder, catalog: Catalog, subscriber: Subscriber,
                          history: SentHistory, now: datetime) -> list[Insight]:
    """Filler rules first on the raw score and weights, then the boost, then choose_digest."""
    cfg = builder.settings.insights
    boost = TopicBoost.of(subscriber)
    assert boost is not None
    since = now - timedelta(days=cfg.lookback_days)
    sent = history.sent_ids(subscriber.id)
    eligible = [
        dataclasses.replace(i, score=i.score + boost.most * boost.closeness(i))
        for f in catalog.feeds_of(subscriber) for i in catalog.by_feed.get(f, ())
        if i.id not in sent and (i.created_at is None or i.created_at >= since)
        and i.score >= cfg.min_score and adjusted_score(i, subscriber, f) >= cfg.min_score
    ]
    oldest = (TODAY - timedelta(days=cfg.dedupe_days)).isoformat()
    recent = [catalog.insights[i] for i, d in sent.items() if d >= oldest and i in catalog.insights]
    return choose_digest(eligible, subscriber=subscriber, sent_recent=recent, size=cfg.digest_size,
                         max_per_episode=cfg.max_per_episode_in_digest, min_score=-10.0)


@pytest.mark.parametrize("seed", range(4))
def test_the_lazy_pick_with_topics_is_what_ranking_every_candidate_picks(seed: int) -> None:
    rng = random.Random(seed)
    catalog = jittered(make_world(rng), rng)
    builder = DigestBuilder(Repos(FakeStore()), Settings())
    subscribers = [dataclasses.replace(make_subscriber(rng, n, list(catalog.feeds)),
                                       topics=tuple(rng.sample(WORDS, rng.randint(1, 3))))
                   for n in range(80)]
    history = make_history(rng, catalog, subscribers)
    changed = 0
    for subscriber in subscribers:
        fast = builder.choose(catalog, subscriber, history, NOW, TODAY)
        assert [i.id for i in fast] == [i.id for i in reference_with_topics(
            builder, catalog, subscriber, history, NOW)], subscriber
        plain = reference_choose(builder, catalog, dataclasses.replace(subscriber, topics=()),
                                 history, NOW, TODAY)
        assert {i.id for i in fast} <= {i.id for i in catalog.insights.values()
                                        if i.score >= builder.settings.insights.min_score}
        changed += [i.id for i in fast] != [i.id for i in plain]
    assert changed > 20  # topics do change most digests here: the comparison is not vacuous
