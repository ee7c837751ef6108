"""The offline extractive ranker: what a subscriber reads every morning when no LLM is configured."""

from __future__ import annotations

import math
import re
from itertools import pairwise

import pytest

from core.adapters.minilm import MiniLMEmbedder
from core.config import InsightSettings
from core.ids import insight_id_for
from core.insights.corpus_stats import BackgroundStats
from core.insights.display_text import clean_text
from core.insights.filler import filler_reasons, is_question
from core.insights.offline import OfflineExtractor, guess_kind, rank
from core.models import Chapter, Episode, InsightKind, Segment, Transcript
from tests.eval.dataset import Case, is_filler, load_cases, locate
from tests.eval.harness import episode_for, offline_picks

EPISODE = Episode(id="etest00001", feed_id="ftest01", identity="x", title="T", published_at=None,
                  duration_s=None, audio_url=None, audio_type=None, page_url=None, description="")


def transcript(lines: list[str], speaker: str | None = "Guest", seconds: float = 6.0) -> Transcript:
    segments = tuple(Segment(i * seconds, i * seconds + seconds - 0.5, line, speaker)
                     for i, line in enumerate(lines))
    return Transcript(EPISODE.id, segments, "test")


def extract(t: Transcript, settings: InsightSettings | None = None, chapters: tuple[Chapter, ...] = ()):
    return OfflineExtractor(settings or InsightSettings()).extract_sync(t, EPISODE, chapters)


TALK = [
    "Hey everybody, welcome back to The Money Hour, I'm Maya.",
    "This episode is brought to you by Ledgerly, go to ledgerly.com/money and use code MONEY for 30% off.",
    "So how did you get started in finance, and what got you interested?",
    ("A one percent annual fee eats roughly a quarter of your final balance over thirty years, "
     "because you pay it on your gains as well as your savings."),
    "Did you know that 90% of day traders lose money within their first two years?",
    "Past performance barely predicts future performance, but fees predict it almost perfectly.",
    ("When companies switch retirement plans from opt-in to opt-out, participation jumps from about "
     "half of new employees to around ninety percent."),
    "Ha, that's brutal.",
    "Thanks so much for listening, and please rate and review us wherever you get your podcasts.",
]


@pytest.fixture(scope="module")
def eval_cases() -> list[Case]:
    cases, _ = load_cases()
    assert len([c for c in cases if c.source == "written"]) >= 6
    return cases


@pytest.fixture(scope="module", params=["features", "probe"])
def ranker(request: pytest.FixtureRequest) -> str:
    """The ranker without embeddings, and the product's with the keeper probe on MiniLM vectors."""
    return str(request.param)


def _extractor(ranker: str) -> OfflineExtractor:
    return OfflineExtractor(InsightSettings(), BackgroundStats(),
                            embedder=MiniLMEmbedder() if ranker == "probe" else None)


@pytest.fixture(scope="module")
def eval_picks(eval_cases: list[Case], ranker: str) -> dict[str, list[tuple[str, float]]]:
    extractor = _extractor(ranker)
    return {case.name: offline_picks(extractor, case) for case in eval_cases}


# Known and open (issue 11): Conduit 20's read for a security product is all statistics ("70% of
# cyber attacks are targeted at small to midsize businesses") with no sponsor cue phrase, and
# it reaches that held-out episode's top five. Talk Python 442 (held out): a joke about sponsor money
# ("once the sponsor funds exceed $10,000 ... No, just kidding") rides along with a real point about
# bandwidth costs. With the probe, one labelled filler passage also reaches the held-out Buzzsprout
# episode's top five (not read: held out). Strict: the day one is fixed, its list must shrink.
KNOWN_FILLER = {"features": {"kjaymiller_conduit_020", "talkpython_talk-python_442"},
                "probe": {"kjaymiller_conduit_020", "talkpython_talk-python_442",
                          "buzzsprout_how-to-start-a-podcast"}}


def _top_five_filler(case: Case, picks: list[tuple[str, float]]) -> list[str]:
    found = []
    for quote, start in picks[:5]:
        span = locate(case, quote, start)
        cued = {"sponsor", "intro", "outro"} & set(filler_reasons(quote))
        if span is None or is_filler(case, span) or cued:
            found.append(quote)
    return found


@pytest.mark.xfail(strict=True, reason="held-out filler the ranker does not yet see (issue 11)")
def test_the_known_sponsor_read_without_cue_phrases_stays_out_of_the_top_five(
        eval_cases: list[Case], eval_picks: dict[str, list[tuple[str, float]]], ranker: str) -> None:
    known = [c for c in eval_cases if c.name in KNOWN_FILLER[ranker]]
    if not known:
        pytest.skip("needs ../shared/corpus")
    assert not all(_top_five_filler(case, eval_picks[case.name]) for case in known)


def test_sponsor_reads_intros_and_other_labelled_filler_never_reach_the_top_five(
        eval_cases: list[Case], eval_picks: dict[str, list[tuple[str, float]]], ranker: str) -> None:
    for case in eval_cases:
        if case.name in KNOWN_FILLER[ranker]:
            continue
        for quote, start in eval_picks[case.name][:5]:
            span = locate(case, quote, start)
            assert span is not None, (case.name, quote)
            assert not is_filler(case, span), (case.name, quote)
            assert not {"sponsor", "intro", "outro"} & set(filler_reasons(quote)), (case.name, quote)


def test_the_top_five_of_every_eval_transcript_holds_no_question_and_no_duplicate(
        eval_cases: list[Case], eval_picks: dict[str, list[tuple[str, float]]]) -> None:
    from tests.eval.dataset import near_duplicate

    for case in eval_cases:
        top = [q for q, _ in eval_picks[case.name][:5]]
        assert not any(is_question(q) for q in top), case.name
        assert not any(near_duplicate(a, b) for i, a in enumerate(top) for b in top[i + 1:]), case.name


def test_a_question_is_never_an_insight_even_with_numbers_in_it() -> None:
    insights = extract(transcript(TALK))
    assert insights, "the statements in TALK are insights"
    for insight in insights:
        assert "?" not in insight.quote and not is_question(insight.quote)
        assert "day traders" not in insight.quote


def test_sponsor_read_intro_and_outro_are_left_out_and_the_claims_are_kept() -> None:
    quotes = " ".join(i.quote for i in extract(transcript(TALK)))
    assert "Ledgerly" not in quotes and "welcome back" not in quotes and "rate and review" not in quotes
    assert "one percent annual fee" in quotes
    assert "opt-in to opt-out" in quotes


def test_a_transcript_of_nothing_but_filler_yields_no_insight() -> None:
    filler = [TALK[0], TALK[1], TALK[2], TALK[7], TALK[8],
              "Okay, let's take a quick break, and when we come back, more on that.",
              "I'm doing great, thanks for having me, it's so good to be back on the show."]
    assert extract(transcript(filler)) == []


@pytest.mark.parametrize("segments", [(), (Segment(0.0, 4.0, "Fees compound against you."),),
                                      (Segment(0.0, 1.0, "   "),)])
def test_an_empty_or_one_segment_transcript_yields_an_empty_list(segments: tuple[Segment, ...]) -> None:
    assert extract(Transcript(EPISODE.id, segments, "test")) == []


def test_a_transcript_without_punctuation_still_yields_clean_insights(eval_cases: list[Case]) -> None:
    case = next(c for c in eval_cases if c.name == "kitchen-lab_asr")
    assert not re.search(r"[.,?!]", " ".join(s.text for s in case.segments))
    insights = OfflineExtractor(InsightSettings()).extract_sync(
        Transcript(episode_for(case).id, case.segments, "whisper:test"), episode_for(case))
    assert len(insights) >= 3
    for insight in insights:
        assert insight.text[0].isupper() and insight.text.endswith((".", "!"))
        assert not re.search(r"\b(?:um|uh)\b", insight.text)
        assert 8 <= len(insight.quote.split()) <= 70


def test_output_is_deterministic_and_ids_are_stable_across_runs() -> None:
    t = transcript(TALK)
    first, second = extract(t), extract(t)
    assert first == second
    for insight in first:
        assert insight.id == insight_id_for(EPISODE.id, insight.start, insight.quote)


def test_insights_carry_verbatim_quotes_times_and_scores_in_range() -> None:
    t = transcript(TALK)
    spoken = " ".join(s.text for s in t.segments)
    insights = extract(t)
    assert [i.score for i in insights] == sorted((i.score for i in insights), reverse=True)
    for insight in insights:
        assert insight.quote in spoken
        assert 0 <= insight.start < insight.end <= t.segments[-1].end
        assert insight.score >= InsightSettings().min_score
        assert all(0.0 <= v <= 1.0 for v in (insight.score, insight.novelty, insight.specificity,
                                              insight.evidence))
        assert insight.extractor == "offline" and insight.speaker == "Guest"
        assert insight.episode_id == EPISODE.id and insight.feed_id == EPISODE.feed_id
        assert isinstance(insight.kind, InsightKind)


def test_picks_never_overlap_and_the_per_episode_limit_holds(eval_cases: list[Case]) -> None:
    case = next(c for c in eval_cases if c.name == "money-hour_index-funds")
    settings = InsightSettings(per_episode=4, min_score=0.0)
    insights = OfflineExtractor(settings).extract_sync(
        Transcript(episode_for(case).id, case.segments, "test"), episode_for(case))
    assert len(insights) == 4
    spans = sorted((i.start, i.end) for i in insights)
    assert all(a[1] <= b[0] for a, b in pairwise(spans))


def test_chapter_titles_are_attached_when_chapters_are_given() -> None:
    chapters = (Chapter(0.0, "Opening"), Chapter(15.0, "Fees"), Chapter(33.0, "Defaults"))  # lines: 6 s each
    insights = extract(transcript(TALK), chapters=chapters)
    assert next(i.chapter for i in insights if "annual fee" in i.quote) == "Fees"
    assert next(i.chapter for i in insights if "opt-in" in i.quote) in ("Fees", "Defaults")
    assert all(i.chapter == ("Fees" if i.start < 33.0 else "Defaults") for i in insights)


async def test_extract_runs_through_the_async_port() -> None:
    insights = await OfflineExtractor(InsightSettings()).extract(transcript(TALK), EPISODE, "Money Hour")
    assert insights == extract(transcript(TALK))


def test_cleaned_text_drops_fillers_and_stutters_and_keeps_the_claim() -> None:
    assert clean_text("so um you know, the the key is, uh, to salt it early") == \
        "The key is to salt it early."
    assert clean_text("and i think that's, like, it's the default that matters,") == \
        "I think that's, it's the default that matters."


@pytest.mark.parametrize(("said", "shown"), [
    ("that is that is the point", "That is the point."),
    ("we should do do the work", "We should do the work."),
    ("only 9% of downloads are are on Spotify", "Only 9% of downloads are on Spotify."),
    ("so we, we built the index first", "We built the index first."),
    ("I think -- I think it was -- it was doing 77 collections", "I think it was doing 77 collections."),
    ("and then in the, in the Python world", "Then in the Python world."),
    ("cuz cuz the index is cold", "Cuz the index is cold."),
    ("lawyers and, and trouble", "Lawyers and trouble."),
], ids=["two-word-restart", "do-do", "are-are", "comma-repeat", "dash-restart", "comma-two-words", "cuz-cuz",
        "and-and"])
def test_restarts_of_one_to_four_words_are_said_once(said: str, shown: str) -> None:
    assert clean_text(said) == shown


@pytest.mark.parametrize("said", [
    "he had had enough of the build",
    "which is a very, very hard problem",
    "dozens and dozens of plugins",
    "with open APIs and tons and tons of developers",
    "two options, and more and more are appearing",
    "verbs work like this except here and here and here",
    "it is on Conda, Conda Forge and PyPI",
    "Boing Boing covered it first",
    "It is. It is the default.",
    "the work that went into it, it was months of prep",
    "if you can do that, that's even better",
    "when I started in 2011, whatever it was, it was not that fast",
    "the question is, is this a model other teams can use",
    "we would write C and C++ by hand",
], ids=["had-had", "emphasis", "x-and-x", "and-x-and-x", "and-more-and-more", "rhetorical-run",
        "name-then-name", "doubled-name", "two-sentences", "clause-ends-on-it", "clause-ends-on-that",
        "clause-ends-on-it-was", "question-is-is", "c-and-c++"])
def test_repeats_that_are_grammar_emphasis_or_names_stay_as_said(said: str) -> None:
    assert clean_text(said).lower().rstrip(".") == said.lower().rstrip(".")


def test_cleaning_keeps_connectives_that_carry_meaning() -> None:
    assert clean_text("because the cache is cold after every deploy") == \
        "Because the cache is cold after every deploy."
    assert clean_text("yeah, but nobody reads the changelog") == "But nobody reads the changelog."


@pytest.mark.parametrize(("text", "kind"), [
    ("By 2030 most new cars sold in Norway will be electric, because the tax on petrol cars keeps rising.",
     InsightKind.PREDICTION),
    ("You should build an emergency fund before you buy a single stock.", InsightKind.ADVICE),
    ("The ten percent rule is more folklore than science.", InsightKind.CONTRARIAN),
    ("Revenue grew 37% to $19 million in the fourth quarter.", InsightKind.DATA),
    ("Printing amplified whoever could produce texts that people wanted to buy.", InsightKind.CLAIM),
])
def test_the_kind_is_guessed_from_the_wording(text: str, kind: InsightKind) -> None:
    scored = rank([Segment(0, 10, text, "A")], BackgroundStats())
    assert scored and guess_kind(text, scored[0].values) == kind


@pytest.mark.parametrize("text", [
    "x" * 100_000,
    "\x00\x01\x02 binary \ufffd\ufffd junk " * 500,
    "🎙️ " * 2000,
    "word " * 20_000,
], ids=["one-100k-char-word", "binary-junk", "emoji-only", "20k-words-no-punctuation"])
def test_hostile_transcript_text_does_not_crash(text: str, ranker: str) -> None:
    insights = _extractor(ranker).extract_sync(Transcript(EPISODE.id, (Segment(0.0, 60.0, text),), "test"),
                                               EPISODE)
    assert isinstance(insights, list)


def test_broken_segment_times_do_not_crash(ranker: str) -> None:
    segments = (Segment(math.nan, 5.0, TALK[3]), Segment(10.0, 2.0, TALK[5]), Segment(math.inf, 1.0, TALK[6]))
    insights = _extractor(ranker).extract_sync(Transcript(EPISODE.id, segments, "test"), EPISODE)
    assert isinstance(insights, list)


def test_a_plain_claim_with_its_reason_outscores_small_talk_by_a_clear_margin() -> None:
    claim = ("Remote work did not kill mentoring; it made it explicit, because nobody learns by "
             "overhearing anymore.")
    small_talk = "Pretty good, pretty good, a bit tired honestly, we had a long week here."
    pad = [Segment(200 + 20.0 * i, 210 + 20.0 * i,
                   f"We talked about topic number {i} for a while, then moved on.", "Host")
           for i in range(20)]
    scored = rank([Segment(0, 10, claim, "Guest"), Segment(20, 30, small_talk, "Guest"), *pad],
                  BackgroundStats())
    single = {s.candidate.first: s.score for s in scored if s.candidate.first == s.candidate.last}
    assert single[0] - single[1] >= 0.15
