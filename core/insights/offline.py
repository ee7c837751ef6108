"""The offline extractive insight ranker: the default Extractor when no language model is configured.

Sentences -> filler and sponsor marks -> candidates of one to three sentences by one speaker ->
features -> logistic score -> (with an embedder) the best re-ranked by the keeper probe -> the best
non-overlapping, non-duplicate passages above the floor.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.config import InsightSettings
from core.errors import ConfigError
from core.ids import insight_id_for
from core.insights.corpus_stats import BackgroundStats, content_words
from core.insights.display_text import clean_text
from core.insights.features import (
    ADVICE_KIND,
    CONTRARIAN,
    HARD_FILLER,
    MAX_WORDS,
    MIN_WORDS,
    PREDICTION,
    STOP,
    Candidate,
    EpisodeContext,
    features,
    score,
    sentence_cues,
    sentence_reasons,
    strip_markers,
    sub_scores,
)
from core.insights.filler import guest_intro_mask, sponsor_mask
from core.insights.keeper_probe import KeeperProbe
from core.insights.sentences import Sentence, split_sentences
from core.models import Chapter, Episode, Insight, InsightKind, Segment, Transcript
from core.transcripts.chapters import chapter_at

if TYPE_CHECKING:
    from core.ports import Embedder

log = logging.getLogger(__name__)

MAX_GAP = 6.0  # seconds of silence inside a candidate: beyond this it is two moments, not one
DUPLICATE_JACCARD = 0.5
TRIM_MARGIN = 0.08  # a pick's opening part wins if it scores at most this much lower


@dataclass(frozen=True)
class Scored:
    """A candidate with its features and score."""

    candidate: Candidate
    values: dict[str, float]
    score: float
    weak: tuple[bool, ...] = ()  # per member sentence: says little on its own (see SentenceCues.weak)


def _turn_words(sentences: Sequence[Sentence]) -> list[int]:
    """Words in the speaker turn around each sentence; 0 everywhere when there are no speakers."""
    if all(s.speaker is None for s in sentences):
        return [0] * len(sentences)
    out = [0] * len(sentences)
    i = 0
    while i < len(sentences):
        j = i
        while j + 1 < len(sentences) and sentences[j + 1].speaker == sentences[i].speaker:
            j += 1
        words = sum(len(s.text.split()) for s in sentences[i:j + 1])
        out[i:j + 1] = [words] * (j + 1 - i)
        i = j + 1
    return out


def _voice_share(sentences: Sequence[Sentence]) -> dict[str, float]:
    """Each named speaker's words as a share of the most talkative speaker's."""
    words: Counter[str] = Counter()
    for s in sentences:
        if s.speaker is not None:
            words[s.speaker] += len(s.text.split())
    top = max(words.values(), default=0)
    return {speaker: n / top for speaker, n in words.items()} if top else {}


def candidates(sentences: Sequence[Sentence], blocked: Sequence[bool]) -> list[Candidate]:
    """Runs of one to three sentences by one speaker, 8-70 words, touching no blocked sentence."""
    out = []
    for i in range(len(sentences)):
        for j in range(i, min(i + 3, len(sentences))):
            if blocked[j] or sentences[j].speaker != sentences[i].speaker:
                break
            if j > i and sentences[j].start - sentences[j - 1].end > MAX_GAP:
                break
            members = sentences[i:j + 1]
            text = " ".join(s.text for s in members)
            n = len(text.split())
            if n > MAX_WORDS:
                break
            if n >= MIN_WORDS:
                out.append(Candidate(i, j, text, members[0].start, members[-1].end, members[0].speaker))
    return out


def rank(segments: Sequence[Segment], stats: BackgroundStats) -> list[Scored]:
    """Every candidate passage of a transcript with its score, best first (ties: earliest)."""
    sentences = split_sentences(segments)
    if not sentences:
        return []
    reasons = sentence_reasons(sentences)
    sponsor = sponsor_mask(sentences)
    bio = guest_intro_mask(sentences)
    blocked = [sp or b or bool(HARD_FILLER.intersection(r))
               for sp, b, r in zip(sponsor, bio, reasons, strict=True)]
    cues = [sentence_cues(s) for s in sentences]
    topic = Counter(w for q in cues for w in q.content)
    cased = sum(q.opens and q.closes for q in cues) >= 0.5 * len(cues)
    ctx = EpisodeContext(sentences, cues, reasons, cased, _turn_words(sentences), _voice_share(sentences),
                         topic, max(s.end for s in sentences), stats)
    scored = []
    for cand in candidates(sentences, blocked):
        values = features(cand, ctx)
        # A member says little on its own when it is weak or filler-like (a question, banter).
        weak = tuple(cues[i].weak or bool(reasons[i]) for i in range(cand.first, cand.last + 1))
        scored.append(Scored(cand, values, score(values), weak))
    scored.sort(key=lambda s: (-s.score, s.candidate.first, s.candidate.last))
    return scored


def _key_words(text: str) -> set[str]:
    return {w for w in content_words(text) if w not in STOP and len(w) > 2}


def _tightest(item: Scored, by_span: dict[tuple[int, int], Scored], floor: float) -> Scored:
    """The pick without weak sentences at its edges ('Way more than that.'), then its shortest
    opening part that scores nearly as well: readers want the point, not the run-on.

    A strong first sentence is never cut: it usually states the point ("Contamination in coding
    benchmarks is subtle.") that the sentences after it support, so the pick stands alone.
    """
    while item.weak and len(item.weak) > 1 and (item.weak[0] or item.weak[-1]):
        c = item.candidate
        inner = by_span.get((c.first + 1, c.last) if item.weak[0] else (c.first, c.last - 1))
        if inner is None or inner.score < floor:
            break
        item = inner
    c = item.candidate
    best = item
    for last in range(c.first, c.last):  # shorter, from the first sentence on
        inner = by_span.get((c.first, last))
        if inner is not None and inner.score >= item.score - TRIM_MARGIN and last < best.candidate.last:
            best = inner
    for first in range(c.first + 1, c.last + 1):  # a later start only when it is clearly better
        for last in range(first, c.last + 1):
            inner = by_span.get((first, last))
            if inner is not None and inner.score > best.score + TRIM_MARGIN / 2:
                best = inner
    return best


def select(scored: Sequence[Scored], limit: int, floor: float) -> list[Scored]:
    """The best passages above `floor` that share no sentence and repeat no idea, best first."""
    by_span = {(s.candidate.first, s.candidate.last): s for s in scored}
    picked: list[Scored] = []
    used: set[int] = set()
    words: list[set[str]] = []
    for ranked in scored:
        if len(picked) >= limit or ranked.score < floor:
            break
        item = _tightest(ranked, by_span, floor) if ranked.candidate.last > ranked.candidate.first else ranked
        if item.score < floor:
            item = ranked
        span = set(range(item.candidate.first, item.candidate.last + 1))
        if span & used:
            continue
        mine = _key_words(item.candidate.text)
        if any(mine and other and len(mine & other) / len(mine | other) >= DUPLICATE_JACCARD
               for other in words):
            continue
        picked.append(item)
        used |= span
        words.append(mine)
    picked.sort(key=lambda s: (-s.score, s.candidate.first))
    return picked


def guess_kind(text: str, values: dict[str, float]) -> InsightKind:
    """What sort of idea a passage is, from its wording."""
    lower = text.lower()
    if PREDICTION.search(lower) and values["prediction"]:
        return InsightKind.PREDICTION
    if ADVICE_KIND.search(strip_markers(lower)):
        return InsightKind.ADVICE
    if CONTRARIAN.search(lower):
        return InsightKind.CONTRARIAN
    if values["numbers"] > 0.3 and (values["percent_money"] or values["year"] or values["numbers"] > 0.6):
        return InsightKind.DATA
    return InsightKind.CLAIM


class OfflineExtractor:
    """Extractive insights with no model and no network: fast, deterministic for a given history.

    With an embedder, the best candidates are re-ranked by the keeper probe (keeper_probe.py), and
    the insights carry the vectors computed for it.
    """

    name = "offline"

    def __init__(self, settings: InsightSettings, stats: BackgroundStats | None = None,
                 embedder: Embedder | None = None) -> None:
        self.settings = settings
        self.stats = stats if stats is not None else BackgroundStats()
        self.embedder = embedder
        self.probe = KeeperProbe.load() if embedder is not None else None
        if self.probe is not None and embedder is not None and self.probe.model != embedder.name:
            raise ConfigError(f"the keeper probe was fitted on {self.probe.model} vectors, "
                              f"not {embedder.name}: refit it (python -m tests.eval.fit_keeper_probe)")

    async def extract(
        self, transcript: Transcript, episode: Episode, show_title: str,
        chapters: Sequence[Chapter] = (),
    ) -> list[Insight]:
        """The episode's best insights, best first, each with a verbatim quote and times."""
        return await asyncio.to_thread(self.extract_sync, transcript, episode, tuple(chapters))

    def extract_sync(self, transcript: Transcript, episode: Episode,
                     chapters: Sequence[Chapter] = ()) -> list[Insight]:
        """`extract` without the thread hop (for benchmarks and callers already off the loop)."""
        ranked, vectors = self._probed(rank(transcript.segments, self.stats), episode.id)
        picked = select(ranked, self.settings.per_episode, self.settings.min_score)
        self.stats.add_document(episode.id, content_words(transcript.text))
        return [self._insight(item, episode, chapters,
                              vectors.get((item.candidate.first, item.candidate.last)))
                for item in picked]

    def _probed(self, ranked: list[Scored], episode_id: str
                ) -> tuple[list[Scored], dict[tuple[int, int], bytes]]:
        """The ranking's head re-ranked by the keeper probe, with each candidate's vector by span;
        the ranking as it is without an embedder, or when it fails."""
        if self.probe is None or self.embedder is None or not ranked:
            return ranked, {}
        head = ranked[:self.probe.top]
        try:
            found = self.embedder.embed([clean_text(s.candidate.text) for s in head])
        except Exception:  # the probe sharpens the ranking; an episode never fails for it
            log.exception("embeddings failed episode=%s: ranked without the keeper probe", episode_id)
            return ranked, {}
        spans = {(s.candidate.first, s.candidate.last): v for s, v in zip(head, found, strict=True)}
        return self.probe.rerank(head, found), spans

    def _insight(self, item: Scored, episode: Episode, chapters: Sequence[Chapter],
                 vector: bytes | None) -> Insight:
        c = item.candidate
        novelty, specificity, evidence = sub_scores(item.values)
        chapter = chapter_at(chapters, c.start) if chapters else None
        return Insight(
            id=insight_id_for(episode.id, c.start, c.text),
            episode_id=episode.id,
            feed_id=episode.feed_id,
            text=clean_text(c.text),
            quote=c.text,
            start=round(c.start, 2),
            end=round(c.end, 2),
            kind=guess_kind(c.text, item.values),
            score=round(item.score, 4),
            novelty=novelty,
            specificity=specificity,
            evidence=evidence,
            speaker=c.speaker,
            chapter=chapter.title if chapter else None,
            extractor=self.name,
            vector=base64.b64encode(vector).decode("ascii") if vector else "",
            vector_model=self.embedder.name if vector and self.embedder is not None else "",
        )
