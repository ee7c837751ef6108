"""Follow-up answers grounded in the episode transcript, citing [mm:ss] stamps.

With a language model the answer is written from retrieved passages only, and every stamp it
cites is checked; without one (or when it fails) the best passages are quoted as they are.
"""

from __future__ import annotations

import json
import logging
import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace

from core.answer_kind import answer_words, can_answer, question_phrase
from core.config import LLMSettings
from core.errors import LLMError, ValidationError
from core.insights.filler import drop_sponsor_segments
from core.insights.llm_reply import parse_stamp
from core.insights.prompts import answer_messages, new_fence
from core.insights.provenance import normalise_words
from core.models import Answer, Citation, Insight, Transcript, Turn
from core.ports import LLM
from core.retrieval import Passage, PassageIndex, Piece, build_passages, excerpt, terms
from core.timeutil import format_timestamp

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 500
AROUND_S = 90.0  # context kept on both sides of the insight
TOP_K = 4
MIN_SCORE = 1.5  # BM25 score below which a passage is not about the question (measured)
# Share of the question's terms (rarity-weighted) a passage must hold to answer it: calibrated
# on bench/answers.py's questions, where "any passage shares a word" admitted unanswerable ones.
MIN_COVERAGE = 0.52
MAX_CONTEXT_CHARS = 12_000
MAX_ANSWER_TOKENS = 600
MAX_ANSWER_CHARS = 2_000
HISTORY_TURNS = 3
INTRO = "Here is what the episode says about that:"
NOT_COVERED = "The episode does not seem to cover that. Here is what it says around this insight:"
_CITED = re.compile(r"\s?\[((?:\d{1,2}:)?\d{1,3}:\d{2})\]")
_MARKER = re.compile(r"<<<[^<>]{0,80}>>>")
_QUOTED = re.compile(r"[“\"]([^”\"]{8,400})[”\"]")
_NUMBER = re.compile(r"\b\d+(?:[.,]\d+)*\b")
_NAME = re.compile(r"\b(?!I\b)[A-Z][\w'’-]*")


def clean_question(question: str) -> str:
    """The question with whitespace collapsed; ValidationError when empty or too long."""
    cleaned = " ".join(question.split())
    if not cleaned:
        raise ValidationError("Please type a question about the insight.")
    if len(cleaned) > MAX_QUESTION_CHARS:
        raise ValidationError(f"Please keep questions under {MAX_QUESTION_CHARS} characters.")
    return cleaned


class Answerer:
    """Answers follow-up questions about an insight from its episode's transcript."""

    def __init__(self, llm: LLM | None, settings: LLMSettings) -> None:
        self.llm = llm
        self.settings = settings
        self._indexes: OrderedDict[tuple[str, int, str], PassageIndex] = OrderedDict()

    async def answer(
        self, insight: Insight, transcript: Transcript, question: str, history: Sequence[Turn] = (),
        show_title: str = "", episode_title: str = "",
    ) -> Answer:
        """A grounded answer with citations; grounded=False when the episode does not cover it."""
        question = clean_question(question)
        index = self._index(transcript)
        query = terms(question_phrase(question))
        query += terms(question_phrase(history[-1].question)) if history else []
        ranked = _answering(index, question, query)
        near = index.around(insight.start, insight.end, AROUND_S)
        base = Answer(insight.id, question, "", show_title=show_title, episode_title=episode_title)
        if self.llm is not None:
            try:
                return await self._with_llm(base, insight, question, history, near, ranked)
            except LLMError as exc:
                log.warning("answer falls back to quoting passages: insight=%s reason=%s",
                            insight.id, exc)
        return self._quoted(base, insight, index, query, ranked, answer_words(question))

    def _index(self, transcript: Transcript) -> PassageIndex:
        """The passage index of a transcript, kept for the last few episodes asked about."""
        key = (transcript.episode_id, len(transcript.segments), transcript.source)
        # Sponsor reads are never an answer: they are left out of the index itself.
        index = self._indexes.pop(key, None) or PassageIndex(
            build_passages(drop_sponsor_segments(transcript.segments)))
        self._indexes[key] = index
        while len(self._indexes) > 8:
            self._indexes.popitem(last=False)
        return index

    # --- without a model: quote the best passages -----------------------------------------------

    def _quoted(
        self, base: Answer, insight: Insight, index: PassageIndex, query: list[str],
        ranked: list[Match], wanted: re.Pattern[str] | None,
    ) -> Answer:
        if not ranked:  # say so plainly, and show the insight's own words, nothing else
            own = Citation(insight.start, insight.end, insight.quote)
            text = f"{NOT_COVERED}\n\n[{format_timestamp(own.start)}] “{own.text}”"
            return replace(base, text=text, citations=(own,), grounded=False)
        top = ranked[0].score
        chosen = sorted((m for m in ranked if m.score >= 0.5 * top), key=lambda m: m.passage.start)[:3]
        cited: dict[int, Citation] = {}  # by second: two passages may lead to one figure
        for match in chosen:
            if match.figure is not None:
                start, end, words = match.figure
                citation = Citation(start, end, excerpt(words, query))
            else:
                passage = index.with_reply(match.passage)
                citation = Citation(passage.moment_of(query, wanted), passage.end,
                                    excerpt(passage.text, query))
            cited.setdefault(int(citation.start), citation)
        citations = tuple(cited.values())
        lines = [INTRO] + [f"[{format_timestamp(c.start)}] “{c.text}”" for c in citations]
        return replace(base, text="\n\n".join(lines), citations=citations, grounded=True)

    # --- with a model: written from the passages only, citations checked ---------------------

    async def _with_llm(
        self, base: Answer, insight: Insight, question: str, history: Sequence[Turn],
        near: list[Passage], ranked: list[Match],
    ) -> Answer:
        llm = self.llm
        assert llm is not None  # only called when a model is configured
        passages = _context(near, [m.passage for m in ranked])
        stamps = {format_timestamp(p.start): p for p in passages}
        recent = [(t.question, t.answer) for t in history[-HISTORY_TURNS:]]
        fence = new_fence(question, insight.text, insight.quote,
                          *(p.text for p in passages), *(q + a for q, a in recent))
        messages = answer_messages(
            insight_text=insight.text, quote=insight.quote,
            passages=[(stamp, p.text) for stamp, p in stamps.items()], history=recent,
            question=question, show_title=base.show_title, episode_title=base.episode_title,
            fence=fence,
        )
        reply = await llm.complete(
            messages, max_tokens=min(MAX_ANSWER_TOKENS, self.settings.max_output_tokens),
            json_mode=True,
        )
        text, covered = _read_answer(reply.text)
        stamped = bool(_CITED.search(text))
        text, cited = _check_citations(text, passages)
        if covered:
            why = unsupported(text, [p.text for p in passages])
            if not why and stamped and not cited:
                why = "every stamp it cites is outside the passages"
            if why:  # an invented "covered" answer must not reach the listener
                log.warning("model answer claimed covered but is not in the passages: "
                            "insight=%s reason=%s", insight.id, why)
                own = Citation(insight.start, insight.end, insight.quote)
                text = f"{NOT_COVERED}\n\n[{format_timestamp(own.start)}] “{own.text}”"
                return replace(base, text=text, citations=(own,), grounded=False)
        if covered and not cited:
            raise LLMError("The model's answer cites nothing from the episode.")
        citations = tuple(
            Citation(p.start, p.end, excerpt(p.text, terms(question))) for p in cited
        )
        return replace(base, text=text, citations=citations, grounded=covered)


@dataclass(frozen=True)
class Match:
    """A passage that answers the question; `figure` is the piece after it that holds the number."""

    passage: Passage
    score: float
    figure: Piece | None = None


def _answering(index: PassageIndex, question: str, query: list[str]) -> list[Match]:
    """The best passages that answer the question, best first: about it (BM25 and coverage), and
    holding the kind of words its answer needs, in the words about it or in a figure just after."""
    wanted = answer_words(question)
    found = []
    for passage, score in index.search(query, k=TOP_K):
        if score < MIN_SCORE or index.coverage(query, passage) < MIN_COVERAGE:
            continue
        if can_answer(question, passage.words_about(query)):
            found.append(Match(passage, score))
        elif wanted is not None and (after := index.figure_after(passage, query, wanted)) is not None:
            extended, figure = after
            if can_answer(question, figure[2]):  # the name rule too, not only the figure
                found.append(Match(extended, score, figure))
    return found


def _context(near: list[Passage], relevant: list[Passage]) -> list[Passage]:
    """Passages around the insight and about the question, in time order, within the cap."""
    chosen: dict[int, Passage] = {}
    size = 0
    for passage in [*relevant, *near]:  # the question's passages first: they matter most
        if passage.index in chosen or size + len(passage.text) > MAX_CONTEXT_CHARS:
            continue
        chosen[passage.index] = passage
        size += len(passage.text)
    return sorted(chosen.values(), key=lambda p: p.start)


def unsupported(answer: str, passages: Sequence[str]) -> str:
    """Why an answer says what the passages do not (a figure, a name, a quote); "" if it doesn't.

    Small models answer unanswerable questions with a made-up figure ("24 fps") and
    "covered": true, so the answer's checkable content must be in the given passages.
    """
    answer = _CITED.sub(" ", answer)
    source_words = set(normalise_words(" ".join(passages)))
    source_text = " " + " ".join(normalise_words(" ".join(passages))) + " "
    for quoted in _QUOTED.findall(answer):
        words = normalise_words(quoted)
        if len(words) >= 3 and f" {' '.join(words)} " not in source_text:
            return f"the quote {quoted[:40]!r} is not in the passages"
    for number in _NUMBER.findall(answer):
        if not set(normalise_words(number)) <= source_words:
            return f"the figure {number!r} is not in the passages"
    for match in _NAME.finditer(answer):
        before = answer[: match.start()].rstrip()
        if not before or before[-1] in ".!?:;\"“(":
            continue  # a capital that only starts a sentence names nothing
        if not set(normalise_words(match.group(0))) <= source_words:
            return f"the name {match.group(0)!r} is not in the passages"
    return ""


def _first_object(text: str) -> object:
    """The first JSON object in a reply that may wrap it in fences or prose; None if none."""
    decoder = json.JSONDecoder()
    pos = 0
    for _ in range(20):  # prose with braces in it; past this the reply is not JSON
        start = text.find("{", pos)
        if start < 0:
            return None
        try:
            doc, _end = decoder.raw_decode(text, start)
        except (json.JSONDecodeError, RecursionError):
            pos = start + 1
            continue
        if isinstance(doc, dict):
            return doc
        pos = start + 1
    return None


def _read_answer(text: str) -> tuple[str, bool]:
    """The answer text and whether the model says the episode covers it; LLMError if unusable."""
    body = text.strip().removeprefix("```json").removeprefix("```").removesuffix("```").strip()
    try:
        doc = json.loads(body)
    except (json.JSONDecodeError, RecursionError):
        doc = _first_object(body)
        if doc is None:
            raise LLMError("The model's answer was not the JSON asked for.") from None
    if not isinstance(doc, dict):
        raise LLMError("The model's answer was not a JSON object.")
    answer, covered = doc.get("answer"), doc.get("covered")
    if not isinstance(answer, str) or not answer.strip() or not isinstance(covered, bool):
        raise LLMError('The model\'s answer lacked "answer" text or a true/false "covered".')
    answer = _MARKER.sub("", answer).strip()
    if len(answer) > MAX_ANSWER_CHARS:
        answer = answer[: MAX_ANSWER_CHARS - 1].rsplit(" ", 1)[0] + "…"
    return answer, covered


def _check_citations(text: str, passages: list[Passage]) -> tuple[str, list[Passage]]:
    """The text without stamps that match no given passage, and the passages it does cite."""
    cited: dict[int, Passage] = {}

    def keep(match: re.Match[str]) -> str:
        seconds = parse_stamp(match.group(1))
        passage = next((p for p in passages if seconds is not None
                        and int(p.start) <= seconds <= max(p.end, p.start + 1)), None)
        if passage is None:
            return ""  # an invented stamp: strip it rather than send listeners nowhere
        cited.setdefault(passage.index, passage)
        return match.group(0)

    checked = _CITED.sub(keep, text)
    return checked.strip(), sorted(cited.values(), key=lambda p: p.start)
