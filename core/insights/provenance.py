"""Find a model's quote in the transcript: fuzzy, fast, and mapped back to segment times.

A quote only reaches users when it is (nearly) word for word in the transcript; small
differences of case, punctuation and speech-to-text spelling are tolerated.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from core.models import Segment

MIN_RATIO = 0.85  # below this the "quote" is a paraphrase or an invention
MIN_QUOTE_WORDS = 3
_MAX_ANCHOR_HITS = 40  # bigrams more common than this ("of the") say little about position
_MAX_CANDIDATES = 6
_WORD = re.compile(r"\w+(?:['’]\w+)*")


@dataclass(frozen=True)
class Alignment:
    """Where a quote sits in the transcript: times, the exact transcript words, match quality."""

    start: float
    end: float
    text: str  # the transcript's own words for the quote
    ratio: float  # 0..1 similarity between quote and `text`
    speaker: str | None = None  # speaker of the segment the quote starts in


def normalise_words(text: str) -> list[str]:
    """Lowercase word tokens without accents or apostrophes ("Don't!" -> ["dont"])."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return [w.replace("'", "").replace("’", "") for w in _WORD.findall(folded)]


@dataclass(frozen=True)
class _Token:
    word: str
    segment: int
    raw_index: int  # index of the whitespace-separated word within its segment


class QuoteAligner:
    """An index over one transcript; build once per episode, then `align` many quotes."""

    def __init__(self, segments: Sequence[Segment]) -> None:
        self.segments = tuple(segments)
        self._raw: list[list[str]] = []
        self._tokens: list[_Token] = []
        self._ends = self._segment_ends()
        for seg_index, segment in enumerate(self.segments):
            raw_words = segment.text.split()
            self._raw.append(raw_words)
            for raw_index, raw in enumerate(raw_words):
                for word in normalise_words(raw):
                    self._tokens.append(_Token(word, seg_index, raw_index))
        self._words = [t.word for t in self._tokens]
        self._bigrams: dict[tuple[str, str], list[int]] = defaultdict(list)
        for pos in range(len(self._words) - 1):
            self._bigrams[(self._words[pos], self._words[pos + 1])].append(pos)
        self._unigrams: dict[str, list[int]] = defaultdict(list)
        for pos, word in enumerate(self._words):
            self._unigrams[word].append(pos)

    def align(self, quote: str, hint: float | None = None) -> Alignment | None:
        """The best place of `quote` in the transcript, or None when it is not really there."""
        query = normalise_words(quote)
        if len(query) < MIN_QUOTE_WORDS or not self._words:
            return None
        best: tuple[float, float, int, int] | None = None  # (ratio, -distance, first, last)
        for start in self._candidate_starts(query):
            span = self._refine(query, start)
            if span is None:
                continue
            first, last = span
            ratio = _char_ratio(query, self._words[first : last + 1])
            distance = abs(self._time_of(first) - hint) if hint is not None else 0.0
            # Round ratios so that a near-tie between repeats of a phrase is settled by the hint.
            key = (round(ratio, 2), -distance, first, last)
            if best is None or key[:2] > best[:2]:
                best = key
        if best is None or best[0] < MIN_RATIO:
            return None
        _, _, first, last = best
        ratio = _char_ratio(query, self._words[first : last + 1])
        return self._alignment(first, last, ratio)

    # --- candidates: rare bigrams of the quote vote for where it starts -----------------

    def _candidate_starts(self, query: list[str]) -> list[int]:
        votes: Counter[int] = Counter()
        grams = [((query[i], query[i + 1]), i) for i in range(len(query) - 1)]
        hits = [(self._bigrams.get(g, ()), i) for g, i in grams]
        usable = [(p, i) for p, i in hits if 0 < len(p) <= _MAX_ANCHOR_HITS]
        if not usable:  # heavily garbled: fall back to single rare words
            hits = [(self._unigrams.get(w, ()), i) for i, w in enumerate(query)]
            usable = [(p, i) for p, i in hits if 0 < len(p) <= _MAX_ANCHOR_HITS]
        for positions, offset in usable:
            for pos in positions:
                votes[(pos - offset) // 4] += 1  # buckets absorb small insertions and deletions
        buckets = [b for b, _ in votes.most_common(_MAX_CANDIDATES)]
        return [max(0, b * 4) for b in buckets]

    def _refine(self, query: list[str], start: int) -> tuple[int, int] | None:
        """The transcript word span that best matches the quote near `start`."""
        slack = max(4, len(query) // 4)
        lo = max(0, start - slack)
        hi = min(len(self._words), start + len(query) + slack)
        region = self._words[lo:hi]
        matcher = SequenceMatcher(None, query, region, autojunk=False)
        blocks = [b for b in matcher.get_matching_blocks() if b.size]
        if not blocks:
            return None
        first_block, last_block = blocks[0], blocks[-1]
        # Extend over quote words the transcript spells differently at either edge.
        first = max(0, first_block.b - first_block.a)
        last = min(len(region) - 1, last_block.b + last_block.size - 1
                   + (len(query) - last_block.a - last_block.size))
        return lo + first, lo + last

    # --- times and text ------------------------------------------------------------------

    def _segment_ends(self) -> list[float]:
        """Usable segment ends: a missing or zero end borrows the next segment's start."""
        ends = []
        for index, segment in enumerate(self.segments):
            end = segment.end
            if end <= segment.start and index + 1 < len(self.segments):
                end = max(segment.start, self.segments[index + 1].start)
            ends.append(max(end, segment.start))
        return ends

    def _word_time(self, token: _Token, *, at_end: bool) -> float:
        segment = self.segments[token.segment]
        count = max(1, len(self._raw[token.segment]))
        fraction = (token.raw_index + (1 if at_end else 0)) / count
        return segment.start + (self._ends[token.segment] - segment.start) * fraction

    def _time_of(self, position: int) -> float:
        return self._word_time(self._tokens[position], at_end=False)

    def _alignment(self, first: int, last: int, ratio: float) -> Alignment:
        a, b = self._tokens[first], self._tokens[last]
        words: list[str] = []
        for seg in range(a.segment, b.segment + 1):
            raw = self._raw[seg]
            lo = a.raw_index if seg == a.segment else 0
            hi = b.raw_index + 1 if seg == b.segment else len(raw)
            words.extend(raw[lo:hi])
        return Alignment(
            start=round(self._word_time(a, at_end=False), 2),
            end=round(self._word_time(b, at_end=True), 2),
            text=" ".join(words),
            ratio=round(ratio, 3),
            speaker=self.segments[a.segment].speaker,
        )


def _char_ratio(query: list[str], found: list[str]) -> float:
    """Character-level similarity of two word lists (tolerates small spelling differences)."""
    # autojunk would treat spaces and common letters as junk on long strings and skew the ratio.
    return SequenceMatcher(None, " ".join(query), " ".join(found), autojunk=False).ratio()


def align_quote(
    quote: str, segments: Sequence[Segment], hint: float | None = None
) -> Alignment | None:
    """Where `quote` is in `segments` (fuzzy), or None; build a QuoteAligner for many quotes."""
    return QuoteAligner(segments).align(quote, hint)
