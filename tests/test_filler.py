"""Filler detection: sponsor reads (whole reads, not just cue sentences), intros, outros, questions."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.insights.filler import drop_sponsor_segments, filler_reasons, guest_intro_mask, is_question
from core.insights.sentences import split_sentences
from core.models import Segment
from tests.eval.loaders import load_transcript


@pytest.mark.parametrize("text", [
    "This episode is brought to you by Ledgerly.",
    "Support for this podcast comes from Acme Insurance.",
    "Use code CAST for 20% off your first order.",
    "Get fifteen percent off with code NIGHTSHIFT at dreamwell.com.",
    "Start your free trial at pagerly.dev/oncall.",
    "go to brightblade dot com slash kitchenlab and use code lab",
    "Thanks to Notion for sponsoring today's episode.",
    "Visit example.com/podcast and sign up today.",
])
def test_sponsor_cues_are_recognised(text: str) -> None:
    assert "sponsor" in filler_reasons(text)


@pytest.mark.parametrize(("text", "reason"), [
    ("Hey everybody, welcome back to The Money Hour.", "intro"),
    ("I'm your host, Michael Kennedy.", "intro"),
    ("My guest today is Marcus Bell, a mechanical engineer.", "intro"),
    ("Thanks so much for listening, and see you next week.", "outro"),
    ("Please rate and review us on Apple Podcasts.", "outro"),
    ("If you liked it, leave us a five-star review.", "outro"),
    ("Thanks so much for having me.", "greeting"),
    ("Hi everyone.", "greeting"),
    ("Ha, speak for yourself.", "banter"),
    ("Coming up after the break, the one thing she'd change.", "teaser"),
    ("And we're back.", "teaser"),
    ("Today we're going to talk about index funds.", "self_reference"),
    ("In this episode we look at heat pumps.", "self_reference"),
    ("Join our Patreon at patreon.com/gridtalk for bonus episodes.", "call_to_action"),
    ("Where can people find you?", "question"),
    ("These folks are behind the show 100%, definitely shout-out to them.", "promo"),
    ("They do suggest if you can, toss us 40 bucks a day.", "promo"),
    ("Check out our other shows on the Changelog network, like JS Party.", "promo"),
    ("Changelog++ members get a bonus episode this week.", "promo"),
    ("If you donate $60, I think you get the digital pack, which includes the screensaver.", "promo"),
    ("We're recording this on a Tuesday, so things may have changed.", "housekeeping"),
    ("We'll put a link to that in the show notes.", "housekeeping"),
    ("This episode is titled, at least tentatively, \"300 Multiple Choices\".", "self_reference"),
    ("But only you can determine what something's worth to you, 50 cents or $5 a month.", "promo"),
    ("If you're just getting started, try my Python Jumpstart by Building 10 Apps course.", "call_to_action"),
    ("I want to say thank you to everyone who backed it or who is still considering backing it.", "promo"),
    ("You may have noticed that we're a little light on sponsors right now.", "promo"),
    ("And I will be at the podcast show 2023 in London, on the 23rd to the 25th of May.", "housekeeping"),
    ("We got curious people that listen to this show, tune in for all these details.", "self_reference"),
])
def test_filler_reasons_name_what_makes_a_passage_filler(text: str, reason: str) -> None:
    assert reason in filler_reasons(text)


@pytest.mark.parametrize("text", [
    "A one percent annual fee eats roughly a quarter of your final balance over thirty years.",
    "Caffeine has a half-life of about five to six hours, so an afternoon coffee is still there at ten.",
    "If nobody complains about your price, your price is too low.",
    "Printing didn't take sides; it amplified whoever could produce texts people wanted to buy.",
    "The free market rewarded the cheapest producer, because buyers could not tell quality apart.",
    "Detection time and diagnosis time are usually much longer than repair time.",
    "Remote work did not kill mentoring; it made it explicit, because nobody learns by overhearing anymore.",
    "The network effect protects incumbents, because every new user makes leaving costlier for the rest.",
    "We will be at a disadvantage in 2025 if we wait for the standard to settle.",
    "Cloud plans start cheap, but egress fees make leaving expensive once your data is there.",
])
def test_genuine_insights_carry_no_filler_reason(text: str) -> None:
    assert filler_reasons(text) == []


@pytest.mark.parametrize(("text", "asks"), [
    ("Why do I always wake up at four?", True),
    ("what do you think about the spreaker thing", True),
    ("do you have an opinion on target-date funds", True),
    ("what you want to do is salt it forty minutes early", False),
    ("how you store the data matters more than the model.", False),
    ("Tell me about your yoga teacher.", True),
])
def test_questions_are_recognised_with_or_without_punctuation(text: str, asks: bool) -> None:
    assert is_question(text) is asks


def _show(lines: list[str], speaker: str = "Host") -> list[Segment]:
    return [Segment(i * 5.0, i * 5.0 + 4.5, line, speaker) for i, line in enumerate(lines)]


READ = [
    "That is why fees matter so much over decades.",
    "Okay, quick break.",
    "This episode is brought to you by Ledgerly.",
    "Ledgerly is the budgeting app that talks to all of your bank accounts.",
    "I've been using it for a year and it changed how I plan my month.",
    "Go to ledgerly.com/money and use code MONEY for 30% off.",
    "That's ledgerly.com/money.",
    "Now, back to automatic enrollment, which doubles participation.",
]


def test_drop_sponsor_segments_removes_the_whole_read_and_keeps_the_talk_around_it() -> None:
    kept = drop_sponsor_segments(_show(READ))
    assert isinstance(kept, tuple)
    assert [s.text for s in kept] == [READ[0], READ[7]]


def test_transcripts_without_a_read_are_returned_unchanged() -> None:
    segments = _show(READ[:1] + READ[7:])
    assert drop_sponsor_segments(segments) == tuple(segments)
    assert drop_sponsor_segments([]) == ()


def test_a_product_named_in_normal_talk_far_from_the_read_is_kept() -> None:
    lines = READ + [f"We compared notes on budgeting {i} times." for i in range(14)] + [
        "Ledgerly and its rivals all import transactions the same way, which is why the totals match."]
    kept = [s.text for s in drop_sponsor_segments(_show(lines))]
    assert lines[-1] in kept and READ[3] not in kept


# A read whose middle has no cue: the opening names the advertiser, the close sends you to its URL.
LONG_READ = [
    "Caching moved the bottleneck from the database to the network.",
    "This portion of the show is brought to you by Linode.",
    "Check out Linode at example.fm/linode.",
    "That's L-I-N-O-D-E.",
    "They have 10 data centers across the globe.",
    "So no matter where your users are, there's a data center near them.",
    "Whether you run a web app or a private Git server, you get native SSD storage.",
    "Their support team answers in minutes, day or night.",
    "Get four months free at example.fm/linode.",
    "Back to caching: invalidation is where every team gets burned, because nobody owns it.",
]


def test_the_cue_less_middle_of_a_read_goes_with_the_read() -> None:
    kept = [s.text for s in drop_sponsor_segments(_show(LONG_READ))]
    assert kept == [LONG_READ[0], LONG_READ[-1]]


def test_two_mentions_of_a_brand_far_apart_or_in_two_voices_do_not_make_one_read() -> None:
    talk = [f"Caching point number {i} was about the network." for i in range(12)]
    far = _show(LONG_READ[:3] + talk + LONG_READ[8:])  # a minute of talk between the two halves
    assert all(line in [s.text for s in drop_sponsor_segments(far)] for line in talk)
    replies = [f"We moved {n} services behind the cache and the network bill fell." for n in range(5)]
    guest = _show(LONG_READ[:3]) + [Segment(15.0 + 5 * i, 19.5 + 5 * i, line, "Guest")
                                    for i, line in enumerate(replies)] + \
        [Segment(40.0, 44.5, LONG_READ[8], "Host")]
    kept = [s.text for s in drop_sponsor_segments(guest)]
    assert replies == [t for t in kept if t in replies]


def test_a_real_mid_roll_with_a_number_in_it_is_dropped(corpus: Path) -> None:
    segments = load_transcript(corpus / "long-transcripts" / "talkpython_367_pyscript.vtt")
    kept = " ".join(s.text for s in drop_sponsor_segments(segments))
    assert "over 90% of startups will go out of business" not in kept
    assert "Founders Hub" not in kept
    assert "You come from the language, you stay for the community." in kept
    assert "JavaScript doesn't have integers" in kept


def test_a_read_inside_a_minutes_long_paragraph_is_cut_out_and_the_paragraph_kept() -> None:
    path = Path(__file__).parent / "data" / "transcripts" / "podnews-weekly_2023-03-17.html"
    if not path.is_file():
        pytest.skip("tests/data/transcripts is not present")
    segments = load_transcript(path)
    kept = drop_sponsor_segments(segments)
    assert [(s.start, s.end) for s in kept] == [(s.start, s.end) for s in segments]
    text = " ".join(s.text for s in kept)
    assert "sponsored and hosted by Bus Sprout" not in text
    assert "Spotify has 8% of downloads, and Apple has 70% of downloads" in text


def test_a_sponsor_read_mangled_by_speech_to_text_is_still_a_sponsor_read():
    # tiny.en heard "Visit ReadyDesk.com/focus and use my code FOCUS to save 15%" like this
    assert "sponsor" in filler_reasons("Visit right desk.com slash focus and use my code focus to same 15%.")
    assert "sponsor" in filler_reasons("Use my code PODCAST to save 20% on your first month.")
    assert filler_reasons("We saved 15 percent of our cloud bill by turning off idle machines.") == []


def test_a_long_bio_after_let_me_introduce_is_masked_up_to_the_welcome() -> None:
    lines = ["Now, let me introduce Ada.", "Ada Lovelace is the author of Notes on the Engine.",
             "She was a translator before 1843 and switched from poetry to mathematics.",
             "Since then, she has worked on the largest engines in London.",
             "She wrote the first published program.", "She corresponded with Babbage for years.",
             "She also studied music theory.", "She is a fellow of nothing at all, sadly.",
             "Ada, welcome to the show.",
             "Thanks for having me, loops are what make an engine general."]
    segments = [Segment(float(n), float(n) + 1, text, "Host" if n < 9 else "Ada")
                for n, text in enumerate(lines)]
    mask = guest_intro_mask(split_sentences(segments))
    assert mask == [True] * 9 + [False]
