"""The LLM paths against replies recorded from real small models, through real litellm and HTTP.

The recordings live outside the repository (their transcript windows are GPL or unlicensed):
../shared/llm-replies/. Each carries the exact messages sent, so the transcript window (or the
passages) is rebuilt from the prompt itself, and the recorded reply is served by the local fake.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from core.adapters.llm_litellm import LiteLLMClient
from core.config import InsightSettings
from core.insights.llm_extract import LLMExtractor, settle
from core.insights.llm_reply import ReplyError, parse_stamp, read_reply
from core.insights.provenance import normalise_words
from core.insights.windows import Line, Window
from core.models import Episode, Insight, Segment, Transcript
from core.qa import Answerer, unsupported
from tests.fakes.clock import FakeClock
from tests.fakes.fake_llm_server import FakeLLMServer, Scripted
from tests.fakes.memory_store import FakeStore

REPLIES = Path(__file__).resolve().parents[2] / "shared" / "llm-replies"
FILES = sorted(REPLIES.glob("*.json")) if REPLIES.is_dir() else []
EXTRACTIONS = [f for f in FILES if f.name.startswith("extract_")]
ANSWERS = [f for f in FILES if f.name.startswith("answer_")]
_BLOCK = r"<<<{name}-([0-9a-f]{{16}})>>>\n(.*?)\n<<<END-{name}-\1>>>"
_LINE = re.compile(r"^\[((?:\d{1,2}:)?\d{1,3}:\d{2})\] (.+)$", re.MULTILINE)
_HEADER = re.compile(r"^(Show|Episode|Insight|Quote): (.*)$", re.MULTILINE)

needs_recordings = pytest.mark.skipif(not FILES, reason=f"no recorded replies in {REPLIES}")


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def block(recording: dict[str, Any], name: str) -> str:
    """The text between a prompt's random markers named `name` (TRANSCRIPT, PASSAGES...)."""
    user = next(m["content"] for m in recording["messages"] if m["role"] == "user")
    match = re.search(_BLOCK.format(name=name), user, re.DOTALL)
    assert match, f"no {name} block in the recorded prompt"
    return match.group(2)


def stamped(text: str) -> list[Segment]:
    """Segments from '[mm:ss] words' lines; each ends where the next begins."""
    lines = [(parse_stamp(m.group(1)), m.group(2).strip()) for m in _LINE.finditer(text)]
    return [
        Segment(start, lines[i + 1][0] if i + 1 < len(lines) else start + 5.0, words)
        for i, (start, words) in enumerate(lines)
    ]


def header(text: str) -> dict[str, str]:
    return {m.group(1): m.group(2).strip() for m in _HEADER.finditer(text)}


def flat(text: str) -> str:
    return " " + " ".join(normalise_words(text)) + " "


def serve(server: FakeLLMServer, reply: str) -> None:
    """Every request (the first ask and the retry) gets the recorded reply."""
    server.default = lambda request: Scripted(reply, prompt_tokens=900, completion_tokens=300)


@needs_recordings
@pytest.mark.parametrize("path", EXTRACTIONS, ids=lambda p: p.stem)
async def test_a_recorded_extraction_reply_keeps_only_quotes_found_in_its_window(
    path: Path, fake_llm: FakeLLMServer
) -> None:
    recording = load(path)
    window = block(recording, "TRANSCRIPT")
    head = header(window)
    segments = stamped(window)
    assert segments, "the recorded window has no transcript lines"
    serve(fake_llm, recording["reply"])
    settings = fake_llm.settings(window_tokens=50_000, window_overlap_tokens=0)
    extractor = LLMExtractor(
        LiteLLMClient(settings, api_key="sk-recorded"), FakeStore(),
        FakeClock(datetime(2026, 12, 2, 6, 0, tzinfo=UTC)), settings,
        InsightSettings(per_episode=12),
    )
    episode = Episode(
        id="rec", feed_id="f", identity="rec", title=head.get("Episode", ""), published_at=None,
        duration_s=None, audio_url=None, audio_type=None, page_url=None, description="",
    )
    insights, stats = await extractor.extract_with_stats(
        Transcript("rec", tuple(segments), source="publisher:text/vtt"), episode,
        head.get("Show", ""),
    )
    spoken = " ".join(" ".join(s.text.split()) for s in segments)
    header_text = flat(" ".join(head.values()))
    for insight in insights:
        assert insight.quote in spoken  # verbatim: the transcript's own words
        assert flat(insight.quote) not in header_text
    spans = [(round(i.start, 1), round(i.end, 1)) for i in insights]
    assert len(set(spans)) == len(spans)
    assert len({i.quote for i in insights}) == len(insights)
    try:
        proposed, _ = read_reply(recording["reply"])
    except ReplyError:
        proposed = []
    for item in proposed:  # what the model made up from the header never comes through
        if flat(item.quote).strip() and flat(item.quote) not in flat(spoken):
            assert all(flat(item.quote) != flat(i.quote) for i in insights)
    if "banter" in path.stem:
        assert insights == [] and stats.proposed >= 1


@needs_recordings
@pytest.mark.parametrize("path", ANSWERS, ids=lambda p: p.stem)
async def test_a_recorded_answer_to_a_question_the_passages_miss_is_not_covered(
    path: Path, fake_llm: FakeLLMServer
) -> None:
    recording = load(path)
    passages = stamped(block(recording, "PASSAGES"))
    about = header(block(recording, "INSIGHT"))
    question = block(recording, "QUESTION").strip()
    insight = Insight(
        id="i-rec", episode_id="rec", feed_id="f", text=about["Insight"], quote=about["Quote"],
        start=passages[0].start, end=passages[0].end,
    )
    serve(fake_llm, recording["reply"])
    answerer = Answerer(LiteLLMClient(fake_llm.settings(), "sk-recorded"), fake_llm.settings())
    answer = await answerer.answer(
        insight, Transcript("rec", tuple(passages), source="publisher:text/vtt"), question,
        show_title=about.get("Show", ""), episode_title=about.get("Episode", ""),
    )
    assert not answer.grounded
    assert fake_llm.requests  # the model was asked: the reply itself was judged


@needs_recordings
def test_the_invented_figures_of_the_recorded_answers_are_caught() -> None:
    for path in ANSWERS:
        recording = load(path)
        passages = [s.text for s in stamped(block(recording, "PASSAGES"))]
        doc = json.loads(re.sub(r"^```(?:json)?|```$", "", recording["reply"].strip()).strip())
        if doc["covered"]:
            assert unsupported(doc["answer"], passages), path.name


def test_an_answer_built_from_the_passages_is_supported() -> None:
    passages = ["Russell Keith-Magee joined Anaconda a few months ago.", "It ships a 3 meg file."]
    assert unsupported("Russell Keith-Magee joined Anaconda [00:10]; the file is 3 meg.",
                       passages) == ""
    assert "24" in unsupported("The demo reached 24 fps.", passages)
    assert "Doom" in unsupported("It ran the Doom demo.", passages)


# --- the same failure shapes, written out, so they are covered without the recordings ------

SAID = "The harbour in Bergen doubled its freight volume after the new rail link opened."
ALSO = "Solar panels on the bakery roof now cover two thirds of its power bill each year."


def item_json(quote: str, insight: str = "Bergen's harbour freight doubled with the rail link.",
              score: float = 0.6) -> str:
    return json.dumps({"insight": insight, "quote": quote, "start": "00:00", "kind": "data",
                       "novelty": score, "specificity": score, "evidence": score})


def test_several_fenced_objects_after_prose_are_all_read_and_repeats_count_once() -> None:
    first, second = item_json(SAID), item_json(ALSO, "The bakery's roof solar covers most power.")
    text = (f'Sure! Here are the insights:\n```json\n{{"insights": [{first}]}}\n```\n\n'
            f'{{"insights": [{second}]}}\n{{"insights": [{first}]}}')
    items, problems = read_reply(text)
    assert [i.quote for i in items] == [SAID, ALSO] and problems == []


def test_a_list_cut_off_at_the_token_cap_keeps_its_complete_items() -> None:
    text = f'{{"insights": [{item_json(SAID)}, {item_json(ALSO)[:40]}'
    items, _ = read_reply(text)
    assert [i.quote for i in items] == [SAID]


def window_of(index: int, *texts: str, at: float = 0.0) -> tuple[Window, list[Segment]]:
    segments = [Segment(at + 10.0 * i, at + 10.0 * i + 9.0, t) for i, t in enumerate(texts)]
    return Window(index, tuple(Line(s.start, s.end, s.text) for s in segments)), segments


def proposal(quote: str, insight: str, score: float) -> Any:
    return read_reply(f'{{"insights": [{item_json(quote, insight, score)}]}}')[0][0]


def test_a_quote_from_outside_its_window_or_copied_filler_is_dropped() -> None:
    first, seg_a = window_of(0, SAID, "Hey everybody, welcome back to the show.")
    second, seg_b = window_of(1, ALSO, at=100.0)
    found = settle([
        (proposal(ALSO, "The bakery's roof solar covers most of its power.", 0.9), first),
        (proposal("Hey everybody, welcome back to the show.",
                  "Hey everybody, welcome back to the show.", 0.9), first),
        (proposal(SAID, SAID, 0.5), first),  # a copy, but a sentence the offline path could send
        (proposal(ALSO, "The bakery's roof solar covers most of its power.", 0.4), second),
    ], [*seg_a, *seg_b])
    assert sorted(where.text for _, _, where in found) == sorted([SAID, ALSO])


def test_episode_ranking_lets_a_modest_scorers_best_window_compete() -> None:
    first, seg_a = window_of(0, SAID, ALSO)
    second, seg_b = window_of(1, "Rents in Lisbon rose eleven percent while wages stayed flat.",
                              at=100.0)
    found = settle([
        (proposal(SAID, "Bergen's harbour freight doubled with the rail link.", 0.7), first),
        (proposal(ALSO, "The bakery's roof solar covers most of its power.", 0.55), first),
        (proposal("Rents in Lisbon rose eleven percent while wages stayed flat.",
                  "Lisbon rents outpaced wages by eleven points.", 0.55), second),
    ], [*seg_a, *seg_b])
    order = [where.text[:5] for _, _, where in found]
    assert order == ["The h", "Rents", "Solar"]  # same raw score: the window's best goes first
