"""Insights by a language model: windows in, strict JSON out, each quote found in the transcript."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any

from core.config import InsightSettings, LLMSettings
from core.errors import LLMError
from core.ids import insight_id_for, short_hash
from core.insights.budget import BudgetedLLM, LLMBudget
from core.insights.filler import drop_sponsor_segments, filler_reasons
from core.insights.llm_reply import ProposedInsight, ReplyError, read_reply
from core.insights.prompts import (
    PROMPT_VERSION,
    extraction_messages,
    new_fence,
    retry_messages,
)
from core.insights.provenance import Alignment, QuoteAligner, normalise_words
from core.insights.windows import Window, make_windows
from core.models import Chapter, Episode, Insight, InsightKind, Segment, Transcript
from core.ports import LLM, Clock, Store
from core.timeutil import format_timestamp

log = logging.getLogger(__name__)

CACHE_TABLE = "llm_cache"
WEIGHTS = {"novelty": 0.4, "specificity": 0.3, "evidence": 0.3}


@dataclass
class ExtractionStats:
    """What one extraction did: calls, retries, windows given up and insights dropped, and why."""

    episode_id: str
    windows: int = 0
    cached_windows: int = 0
    llm_calls: int = 0
    retries: int = 0
    given_up: list[str] = field(default_factory=list)  # "window 2 (05:00-15:10): reason"
    proposed: int = 0
    dropped_invalid: int = 0  # items that broke the schema even after the retry
    dropped_unquoted: int = 0  # quotes not found in their window, or copied-back filler
    duplicates: int = 0
    kept: int = 0
    tokens: int = 0
    cost_usd: float = 0.0
    stopped: str = ""  # why extraction stopped early (budget, provider failure)


def cache_key(episode_id: str, model: str) -> str:
    """The reply-cache key of an episode for a model and the current prompt version."""
    return f"{episode_id}:{short_hash(model, PROMPT_VERSION, length=10)}"


class LLMExtractor:
    """The Extractor port through a language model, paying for each transcript window once."""

    def __init__(
        self, llm: LLM, store: Store, clock: Clock, settings: LLMSettings,
        insight_settings: InsightSettings,
    ) -> None:
        self.llm = llm if isinstance(llm, BudgetedLLM) else BudgetedLLM(
            llm, LLMBudget(store, clock, settings)
        )
        self.model = llm.model
        self.name = f"llm:{llm.model}"
        self.store = store
        self.clock = clock
        self.settings = settings
        self.insight_settings = insight_settings
        self.last_stats: ExtractionStats | None = None

    async def extract(
        self, transcript: Transcript, episode: Episode, show_title: str,
        chapters: Sequence[Chapter] = (),
    ) -> list[Insight]:
        """The episode's best insights, best first; raises LLMError (or BudgetExhaustedError)."""
        insights, _ = await self.extract_with_stats(transcript, episode, show_title, chapters)
        return insights

    async def extract_with_stats(
        self, transcript: Transcript, episode: Episode, show_title: str,
        chapters: Sequence[Chapter] = (),
    ) -> tuple[list[Insight], ExtractionStats]:
        """`extract` plus what it cost and what it dropped."""
        stats = ExtractionStats(episode.id)
        self.last_stats = stats
        segments = drop_sponsor_segments(transcript.segments)
        windows = make_windows(
            segments, self.settings.window_tokens, self.settings.window_overlap_tokens
        )
        stats.windows = len(windows)
        key = cache_key(episode.id, self.model)
        cache = await self.store.get(CACHE_TABLE, key) or {
            "episode_id": episode.id, "model": self.model, "prompt_version": PROMPT_VERSION,
            "windows": {},
        }
        proposed: list[tuple[ProposedInsight, Window]] = []
        for window in windows:
            window_key = short_hash(window.text, length=12)
            entry = _cached_entry(cache["windows"].get(window_key))
            if entry is None:
                try:
                    entry = await self._ask(window, len(windows), episode, show_title, stats)
                except LLMError as exc:
                    stats.stopped = str(exc)
                    log.warning(
                        "llm extraction stopped: episode=%s window=%d/%d calls=%d reason=%s",
                        episode.id, window.index + 1, len(windows), stats.llm_calls, exc,
                    )
                    raise
                cache["windows"][window_key] = {
                    "items": [i.to_doc() for i in entry["items"]], "reason": entry["reason"],
                }
                # Saved after every window: a later retry never pays for this one again.
                await self.store.put(CACHE_TABLE, key, cache)
            else:
                stats.cached_windows += 1
            if entry["reason"]:
                where = f"window {window.index + 1} ({_span(window)})"
                stats.given_up.append(f"{where}: {entry['reason']}")
            proposed.extend((item, window) for item in entry["items"])
        insights = self._finish(proposed, segments, episode, chapters, stats)
        log.info(
            "llm extraction: episode=%s windows=%d cached=%d calls=%d retries=%d given_up=%d "
            "proposed=%d unquoted=%d duplicates=%d kept=%d tokens=%d cost=%.4f",
            episode.id, stats.windows, stats.cached_windows, stats.llm_calls, stats.retries,
            len(stats.given_up), stats.proposed, stats.dropped_unquoted, stats.duplicates,
            stats.kept, stats.tokens, stats.cost_usd,
        )
        return insights, stats

    # --- one window: ask, validate, retry once ----------------------------------------------

    async def _ask(
        self, window: Window, parts: int, episode: Episode, show_title: str, stats: ExtractionStats
    ) -> dict[str, Any]:
        fence = new_fence(window.text, show_title, episode.title)
        messages = extraction_messages(
            window.text, show_title=show_title, episode_title=episode.title,
            part=window.index + 1, parts=parts, fence=fence,
        )
        first_text = await self._call(messages, stats)
        try:
            items, problems = read_reply(first_text)
            broken = ""
        except ReplyError as exc:
            items, problems, broken = [], [str(exc)], str(exc)
        if not problems:
            return {"items": items, "reason": ""}
        stats.retries += 1
        log.info("llm reply invalid, retrying once: episode=%s window=%d problem=%s",
                 episode.id, window.index + 1, problems[0])
        retry = retry_messages(messages, first_text, "; ".join(problems[:5]))
        second_text = await self._call(retry, stats)
        try:
            items2, problems2 = read_reply(second_text)
        except ReplyError as exc:
            if not broken:  # the first reply was readable: keep its valid items
                stats.dropped_invalid += len(problems)
                return {"items": items, "reason": ""}
            reason = f"invalid reply twice ({broken}; then {exc})"
            log.warning("llm window given up: episode=%s window=%d reason=%s",
                        episode.id, window.index + 1, reason)
            return {"items": [], "reason": reason}
        stats.dropped_invalid += len(problems2)
        return {"items": items2, "reason": ""}

    async def _call(self, messages: list[dict[str, str]], stats: ExtractionStats) -> str:
        reply = await self.llm.complete(
            messages, max_tokens=self.settings.max_output_tokens, json_mode=True
        )
        stats.llm_calls += 1
        stats.tokens += reply.prompt_tokens + reply.completion_tokens
        stats.cost_usd += reply.cost_usd
        return reply.text

    # --- merge: provenance, duplicates from the overlap, scores --------------------------------

    def _finish(
        self, proposed: list[tuple[ProposedInsight, Window]], segments: Sequence[Segment],
        episode: Episode, chapters: Sequence[Chapter], stats: ExtractionStats,
    ) -> list[Insight]:
        stats.proposed = len(proposed)
        found = settle(proposed, segments)
        stats.dropped_unquoted = len(proposed) - len(found)
        for item, _ in proposed:
            if not any(item is f[1] for f in found):
                log.info("dropped an insight whose quote is not in its window: episode=%s "
                         "near=%s quote=%.60r",
                         episode.id, format_timestamp(item.start), item.quote)
        kept: list[tuple[float, ProposedInsight, Alignment]] = []
        for candidate in found:
            if any(_same_insight(candidate, other) for other in kept):
                stats.duplicates += 1
                continue
            kept.append(candidate)
        kept = kept[: self.insight_settings.per_episode]
        stats.kept = len(kept)
        now = self.clock.now()
        return [
            Insight(
                id=insight_id_for(episode.id, where.start, where.text),
                episode_id=episode.id,
                feed_id=episode.feed_id,
                text=item.insight,
                quote=where.text,
                start=where.start,
                end=where.end,
                kind=InsightKind(item.kind),
                score=score_of(item),
                novelty=item.novelty,
                specificity=item.specificity,
                evidence=item.evidence,
                speaker=where.speaker,
                chapter=_chapter_at(chapters, where.start),
                extractor=self.name,
                created_at=now,
            )
            for _, item, where in kept
        ]


def _only_filler(text: str) -> bool:
    """Whether every sentence of the passage is filler (a greeting, a question, a sponsor read).

    Judged per sentence: a quote of a whole spoken paragraph that also holds a question is still
    an idea, while one made only of "Welcome back. Thanks for having me." is not.
    """
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]
    return bool(sentences) and all(filler_reasons(s) for s in sentences)


def settle(
    proposed: Sequence[tuple[ProposedInsight, Window]], segments: Sequence[Segment],
) -> list[tuple[float, ProposedInsight, Alignment]]:
    """Proposals whose quote is in their own window, ranked across the episode, best first.

    Only the window the model saw can ground its quote: a quote found elsewhere, or nowhere
    (invented from the header, paraphrased past MIN_RATIO), is dropped. An insight that only
    copies its quote back is kept when the quote passes the offline ranker's filler rules,
    because it is then a transcript sentence the offline path could deliver too; a copied
    greeting or question is not.
    """
    aligners: dict[int, QuoteAligner] = {}
    found: list[tuple[ProposedInsight, Window, Alignment]] = []
    for item, window in proposed:
        aligner = aligners.get(window.index)
        if aligner is None:
            inside = [s for s in segments
                      if s.start <= window.end + 0.5 and max(s.end, s.start) >= window.start - 0.5]
            aligner = aligners[window.index] = QuoteAligner(inside)
        where = aligner.align(item.quote, hint=item.start)
        if where is None or (_copies_quote(item) and _only_filler(where.text)):
            continue
        found.append((item, window, where))
    # Models score windows on their own scales (small ones give 0.5 to everything), so the
    # episode ranking mixes the raw score, the score relative to its window's best and how
    # exactly the quote matched.
    best: dict[int, float] = {}
    for item, window, _ in found:
        best[window.index] = max(best.get(window.index, 0.0), score_of(item))
    ranked = []
    for item, window, where in found:
        raw = score_of(item)
        relative = raw / best[window.index] if best[window.index] > 0 else 0.0
        ranked.append((round(0.6 * raw + 0.2 * relative + 0.2 * where.ratio, 4), item, where))
    ranked.sort(key=lambda f: (-f[0], f[2].start))
    return ranked


def _copies_quote(item: ProposedInsight) -> bool:
    """Whether the insight is (nearly) its quote again rather than something said about it."""
    a, b = " ".join(normalise_words(item.insight)), " ".join(normalise_words(item.quote))
    return SequenceMatcher(None, a, b, autojunk=False).ratio() >= 0.9


def _cached_entry(doc: Any) -> dict[str, Any] | None:
    """A cached window's proposals, or None when absent or unreadable (then it is asked again)."""
    if not isinstance(doc, dict):
        return None
    try:
        items = [ProposedInsight.from_doc(item) for item in doc["items"]]
        return {"items": items, "reason": str(doc.get("reason", ""))}
    except (KeyError, TypeError):
        log.warning("unreadable llm cache entry ignored")
        return None


def score_of(item: ProposedInsight) -> float:
    """Weighted mean of the model's novelty, specificity and evidence ratings (0..1)."""
    total = sum(WEIGHTS[name] * getattr(item, name) for name in WEIGHTS)
    return round(total / sum(WEIGHTS.values()), 4)


def _same_insight(
    a: tuple[float, ProposedInsight, Alignment], b: tuple[float, ProposedInsight, Alignment]
) -> bool:
    """Two proposals are one insight when their quotes mostly overlap or their wording does."""
    (_, item_a, where_a), (_, item_b, where_b) = a, b
    overlap = min(where_a.end, where_b.end) - max(where_a.start, where_b.start)
    shorter = min(where_a.end - where_a.start, where_b.end - where_b.start)
    if overlap > 0 and (shorter <= 0 or overlap >= 0.5 * shorter):
        return True
    text_a, text_b = item_a.insight.lower(), item_b.insight.lower()
    return SequenceMatcher(None, text_a, text_b).ratio() >= 0.85


def _chapter_at(chapters: Sequence[Chapter], at: float) -> str | None:
    """Title of the visible chapter playing at `at` seconds, if any."""
    title = None
    for chapter in sorted((c for c in chapters if c.toc), key=lambda c: c.start):
        if chapter.start <= at + 0.5:
            title = chapter.title if chapter.end is None or at < chapter.end else None
    return title


def _span(window: Window) -> str:
    return f"{format_timestamp(window.start)}-{format_timestamp(window.end)}"
