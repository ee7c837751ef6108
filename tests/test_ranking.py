"""Ranking the daily five: skip sent, count an idea once, spread across shows, follow votes."""

from __future__ import annotations

import random

import pytest

from core.models import Insight, InsightKind, Subscriber
from core.ranking import adjusted_score, apply_feedback, choose_digest, similarity

SUBSCRIBER = Subscriber(id="telegram:1", platform="telegram", chat_id="1")

# Distinct ideas on different subjects, so that only the tests' own duplicates look alike.
IDEAS = [
    "Battery storage costs fell faster than solar panel prices this decade.",
    "Octopuses edit their own RNA to adapt to cold water.",
    "Chess engines now teach grandmasters opening ideas humans missed.",
    "Bilingual children switch tasks faster in attention experiments.",
    "Container shipping rates doubled after the canal drought.",
    "Sourdough starters carry bacteria from the baker's hands.",
    "Open source maintainers burn out when funding depends on donations.",
    "Volcanic winters explain the missing harvest records of 536.",
    "Standing desks do little for health without walking breaks.",
    "Small claims courts resolve most cases within three months.",
]

SAME_IDEA = [  # the same idea said twice in other words: must count once
    ("Interest rates will stay higher for longer because inflation in services is sticky.",
     "Services inflation is sticky, so rates are going to stay higher for longer."),
    ("Most startups fail because they run out of money before finding product-market fit.",
     "The main reason startups die is running out of cash before they find product market fit."),
    ("Global EV sales grew 35 percent last year, to about 14 million cars.",
     "Electric vehicle sales rose by 35% in 2023 to roughly 14 million."),
    ("Sleeping less than six hours a night raises the risk of heart disease.",
     "People who sleep under six hours a night have a higher risk of heart disease."),
    ("Remote workers are more productive when they have two fixed office days a week.",
     "Two fixed days in the office each week makes remote workers more productive."),
    ("The James Webb telescope found carbon dioxide in the atmosphere of an exoplanet.",
     "Webb has detected carbon dioxide in an exoplanet's atmosphere for the first time."),
]

DIFFERENT_IDEAS = [  # same subject, different claim: both may be sent
    ("Interest rates will stay higher for longer because inflation is sticky.",
     "Interest rates will fall sharply next year as inflation cools."),
    ("AI models need far more data than exists on the public internet.",
     "AI models will replace most customer support jobs within five years."),
    ("Most startups fail because they run out of money before finding product-market fit.",
     "Startups that hire a sales team before product-market fit waste their runway."),
    ("Sleeping less than six hours a night raises the risk of heart disease.",
     "Regular exercise lowers the risk of heart disease more than any drug."),
    ("Global EV sales grew 35 percent last year, to about 14 million cars.",
     "Battery prices fell 14 percent last year, making EVs cheaper than petrol cars in China."),
    ("Remote workers are more productive when they have two fixed office days a week.",
     "Managers overestimate how productive they themselves are in the office."),
]


def insight(
    id: str, score: float, feed: str = "f1", episode: str | None = None, text: str | None = None,
    kind: InsightKind = InsightKind.CLAIM, start: float | None = None,
) -> Insight:
    n = int("".join(ch for ch in id if ch.isdigit()) or 0)
    begin = start if start is not None else 100.0 * n
    return Insight(
        id=id, episode_id=episode or f"{feed}-ep", feed_id=feed,
        text=text or IDEAS[n % len(IDEAS)], quote="...", start=begin, end=begin + 20, kind=kind,
        score=score,
    )


def ids(insights: list[Insight]) -> list[str]:
    return [i.id for i in insights]


# --- similarity ---------------------------------------------------------------------------


@pytest.mark.parametrize(("a", "b"), SAME_IDEA)
def test_the_same_idea_in_other_words_scores_as_a_near_duplicate(a: str, b: str) -> None:
    assert similarity(a, b) >= 0.5
    assert similarity(a, b) == similarity(b, a)


@pytest.mark.parametrize(("a", "b"), DIFFERENT_IDEAS)
def test_different_claims_on_one_subject_are_not_near_duplicates(a: str, b: str) -> None:
    assert similarity(a, b) < 0.5


def test_similarity_is_one_for_the_same_text_and_zero_for_unrelated_text() -> None:
    assert similarity(IDEAS[0], IDEAS[0]) == 1.0
    assert similarity(IDEAS[0], IDEAS[1]) == 0.0
    assert similarity("", "") == 1.0 and similarity("", IDEAS[0]) == 0.0


# --- choosing the five ----------------------------------------------------------------------


def test_top_five_skips_insights_already_sent() -> None:
    cands = [insight(f"i{n}", 0.9 - n * 0.01, feed=f"f{n}") for n in range(7)]
    chosen = choose_digest(cands, subscriber=SUBSCRIBER, sent_recent=[cands[0], cands[2]])
    assert ids(chosen) == ["i1", "i3", "i4", "i5", "i6"]


def test_near_duplicates_across_shows_are_counted_once() -> None:
    a, b = SAME_IDEA[0]
    cands = [
        insight("i1", 0.9, feed="show-a", text=a),
        insight("i2", 0.85, feed="show-b", text=b),
        insight("i3", 0.6, feed="show-c"),
    ]
    assert ids(choose_digest(cands, subscriber=SUBSCRIBER, sent_recent=[])) == ["i1", "i3"]


def test_an_idea_like_one_sent_last_week_is_not_sent_again() -> None:
    a, b = SAME_IDEA[2]
    sent = insight("old1", 0.9, feed="show-a", text=a)
    cands = [insight("i1", 0.95, feed="show-b", text=b), insight("i2", 0.5, feed="show-c")]
    assert ids(choose_digest(cands, subscriber=SUBSCRIBER, sent_recent=[sent])) == ["i2"]


def test_overlapping_moments_of_one_episode_count_once() -> None:
    cands = [
        insight("i1", 0.9, episode="e1", start=100.0, text=IDEAS[1]),
        insight("i2", 0.8, episode="e1", start=105.0, text=IDEAS[2]),  # same stretch of audio
        insight("i3", 0.7, episode="e1", start=500.0, text=IDEAS[3]),
    ]
    assert ids(choose_digest(cands, subscriber=SUBSCRIBER, sent_recent=[])) == ["i1", "i3"]


def test_at_most_two_insights_come_from_one_episode() -> None:
    cands = [insight(f"i{n}", 0.9 - n * 0.01, feed="f1", episode="e1") for n in range(6)]
    cands.append(insight("i9", 0.4, feed="f2", episode="e2"))
    chosen = choose_digest(cands, subscriber=SUBSCRIBER, sent_recent=[])
    assert ids(chosen) == ["i0", "i1", "i9"]
    assert ids(choose_digest(cands, subscriber=SUBSCRIBER, sent_recent=[], max_per_episode=3)) == [
        "i0", "i1", "i2", "i9"]


def test_a_new_show_wins_over_a_second_pick_from_the_same_show_when_scores_are_close() -> None:
    cands = [
        insight("i1", 0.90, feed="big", episode="b1"),
        insight("i2", 0.88, feed="big", episode="b2"),
        insight("i3", 0.86, feed="big", episode="b3"),
        insight("i4", 0.82, feed="small", episode="s1"),
        insight("i5", 0.80, feed="other", episode="o1"),
    ]
    chosen = choose_digest(cands, subscriber=SUBSCRIBER, sent_recent=[], size=3)
    assert ids(chosen) == ["i1", "i4", "i5"]
    assert {i.feed_id for i in chosen} == {"big", "small", "other"}


def test_a_much_better_second_insight_from_one_show_still_beats_a_weak_new_show() -> None:
    cands = [
        insight("i1", 0.95, feed="big", episode="b1"),
        insight("i2", 0.90, feed="big", episode="b2"),
        insight("i3", 0.40, feed="small", episode="s1"),
    ]
    chosen = choose_digest(cands, subscriber=SUBSCRIBER, sent_recent=[], size=2)
    assert ids(chosen) == ["i1", "i2"]


def test_fewer_than_five_are_sent_when_candidates_are_weak() -> None:
    cands = [insight(f"i{n}", s, feed=f"f{n}") for n, s in enumerate([0.8, 0.5, 0.34, 0.2, 0.1])]
    assert ids(choose_digest(cands, subscriber=SUBSCRIBER, sent_recent=[])) == ["i0", "i1"]


def test_a_liked_show_does_not_turn_filler_into_a_pick() -> None:
    fan = apply_feedback(SUBSCRIBER, insight("x", 0.9, feed="f1"), +1)
    weak = insight("i1", 0.30, feed="f1")
    assert adjusted_score(weak, fan) >= 0.35
    assert choose_digest([weak], subscriber=fan, sent_recent=[]) == []


def test_empty_input_gives_an_empty_digest() -> None:
    assert choose_digest([], subscriber=SUBSCRIBER, sent_recent=[]) == []
    assert choose_digest([insight("i1", 0.9)], subscriber=SUBSCRIBER, sent_recent=[], size=0) == []


def test_the_choice_is_the_same_whatever_the_input_order() -> None:
    cands = [insight(f"i{n}", 0.5 + (n % 3) * 0.1, feed=f"f{n % 4}", episode=f"e{n}")
             for n in range(12)]
    expected = ids(choose_digest(cands, subscriber=SUBSCRIBER, sent_recent=[]))
    for seed in range(5):
        shuffled = cands[:]
        random.Random(seed).shuffle(shuffled)
        assert ids(choose_digest(shuffled, subscriber=SUBSCRIBER, sent_recent=[])) == expected
    assert len(expected) == 5


def test_feed_of_overrides_which_show_an_insight_counts_for() -> None:
    cands = [insight("i1", 0.9, feed="a", episode="e1"),
             insight("i2", 0.88, feed="b", episode="e2"),
             insight("i3", 0.87, feed="c", episode="e3")]
    feed_of = {"i1": "same", "i2": "same", "i3": "c"}
    chosen = choose_digest(cands, subscriber=SUBSCRIBER, sent_recent=[], feed_of=feed_of, size=2)
    assert ids(chosen) == ["i1", "i3"]


# --- feedback --------------------------------------------------------------------------------


def test_thumbs_up_on_a_show_moves_its_insights_up() -> None:
    cands = [insight("i1", 0.80, feed="a", kind=InsightKind.DATA),
             insight("i2", 0.75, feed="b", kind=InsightKind.ADVICE)]
    assert ids(choose_digest(cands, subscriber=SUBSCRIBER, sent_recent=[])) == ["i1", "i2"]
    liked = apply_feedback(SUBSCRIBER, cands[1], +1)
    assert ids(choose_digest(cands, subscriber=liked, sent_recent=[])) == ["i2", "i1"]


def test_thumbs_down_on_a_show_moves_its_insights_down() -> None:
    cands = [insight("i1", 0.80, feed="a", kind=InsightKind.DATA),
             insight("i2", 0.75, feed="b", kind=InsightKind.ADVICE)]
    disliked = apply_feedback(SUBSCRIBER, cands[0], -1)
    assert disliked.show_weights == {"a": -0.1} and disliked.kind_weights == {"data": -0.1}
    assert ids(choose_digest(cands, subscriber=disliked, sent_recent=[])) == ["i2", "i1"]


def test_a_kind_liked_elsewhere_lifts_that_kind_on_every_show() -> None:
    advice_elsewhere = insight("x", 0.9, feed="z", kind=InsightKind.ADVICE)
    sub = apply_feedback(SUBSCRIBER, advice_elsewhere, +1)
    cands = [insight("i1", 0.80, feed="a", kind=InsightKind.CLAIM),
             insight("i2", 0.75, feed="b", kind=InsightKind.ADVICE)]
    assert ids(choose_digest(cands, subscriber=sub, sent_recent=[])) == ["i2", "i1"]


def test_feedback_weights_are_bounded_and_return_to_neutral() -> None:
    item = insight("i1", 0.8, feed="a", kind=InsightKind.PREDICTION)
    sub = SUBSCRIBER
    for _ in range(9):
        sub = apply_feedback(sub, item, +1)
    assert sub.show_weights == {"a": 0.5} and sub.kind_weights == {"prediction": 0.5}
    for _ in range(5):
        sub = apply_feedback(sub, item, -1)
    assert sub.show_weights == {} and sub.kind_weights == {}
    assert SUBSCRIBER.show_weights == {}  # the original is untouched
    assert apply_feedback(sub, item, 0) == sub
