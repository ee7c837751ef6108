"""Transcript passages of about 30-60 s and BM25 search over them, for grounded answers."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rank_bm25 import BM25Okapi

from core.insights.provenance import normalise_words
from core.models import Segment

TARGET_S = 40.0  # a passage closes once it is this long...
MAX_S = 60.0  # ...and never grows past this (long segments are split)
MAX_CHARS = 1200
REPLY_WORDS = 25  # of the reply taken into a passage that ends on a question
# How far into the next passage a figure is looked for: speakers name the topic first and give
# the number a few sentences later, often past the passage cut (measured on bench/answers.py).
FIGURE_WORDS = 60
ACKNOWLEDGEMENT_WORDS = 4  # a shorter sentence after a question only opens the reply

STOPWORDS = frozenset(
    """a about above after again against all am an and any are aren as at be because been before
    being below between both but by can cant could couldnt did didnt do does doesnt doing dont
    down during each few for from further get got had hadnt has hasnt have havent having he hed
    her here hers herself him himself his how i id ill im ive if in into is isnt it its itself
    just know let lets like me more most mustnt my myself no nor not now of off oh ok okay on once
    only or other ought our ours ourselves out over own really right said same say says shant she
    should shouldnt so some such tell than that thats the their theirs them themselves then there
    theres these they theyd theyll theyre theyve thing things think this those through to too
    under until up um uh us very was wasnt we wed well were weve werent what whats when where which
    while who whos whom why will with wont would wouldnt yeah yes you youd youll your youre yours
    yourself yourselves youve episode podcast talk talked mention mentioned""".split()
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
Piece = tuple[float, float, str]  # (start, end, text) of one segment of a passage


def terms(text: str) -> list[str]:
    """Search terms of a text: normalised, lightly stemmed words without stopwords."""
    return [_stem(w) for w in normalise_words(text) if w not in STOPWORDS and len(w) > 1]


def _stem(word: str) -> str:
    """A crude English suffix strip, so "transcripts" finds "transcript" (same for both sides)."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 5 and word.endswith("ing"):
        return word[:-3]
    if len(word) > 4 and word.endswith("ed"):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


@dataclass(frozen=True)
class Passage:
    """A stretch of transcript, with speaker names where the speaker changes."""

    index: int
    start: float
    end: float
    text: str
    # (start, end, text) of each segment in it, so a citation can point at the words that answer
    pieces: tuple[Piece, ...] = ()

    def moment_of(self, query: Sequence[str], wanted: re.Pattern[str] | None = None) -> float:
        """When the sentence that answers `query` starts (the passage start when none matches).

        Each sentence scores the question's words it holds, more when it also holds the kind of
        words the answer needs (`wanted`: a number, a date), and less when it is itself a question:
        the host's question repeats the asker's words, the reply answers. So the reply inherits the
        question's words, past an opening "Yup." or "Yeah, absolutely.".
        """
        words = set(query)
        best, best_score = self.start, 0.0
        asked = 0.0  # the question words of the last question, until its reply says something
        for start, text in self._sentences():
            found = len(words.intersection(terms(text)))
            question = text.rstrip().endswith("?")
            score = found + asked + (0.75 if wanted is not None and wanted.search(text) else 0.0) \
                - (1.0 if question else 0.0)
            if score > best_score:
                best, best_score = start, score
            if question:
                asked = float(found)
            elif len(text.split()) >= ACKNOWLEDGEMENT_WORDS:  # "Yup." only opens the reply
                asked = 0.0
        return best

    def _sentences(self) -> list[tuple[float, str]]:
        """(start, text) of each sentence, interpolated within its segment at an even speaking rate."""
        out = []
        for start, end, text in self.pieces:
            total = max(len(text.split()), 1)
            before = 0
            for sentence in (x for x in _SENTENCE.split(text) if x):
                out.append((start + (end - start) * before / total, sentence))
                before += len(sentence.split())
        return out

    def words_about(self, query: Sequence[str]) -> str:
        """The segment most about `query` with its neighbours: where an answer would be."""
        best = self.best_piece(query)
        if best is None:
            return self.text
        return " ".join(text for _, _, text in self.pieces[max(0, best - 1): best + 2])

    def best_piece(self, query: Sequence[str]) -> int | None:
        """The index of the piece holding most of the query's terms (the first such); None if none."""
        wanted = set(query)
        best, hits = None, 0
        for i, (_, _, text) in enumerate(self.pieces):
            found = len(wanted.intersection(terms(text)))
            if found > hits:
                best, hits = i, found
        return best


def build_passages(segments: Sequence[Segment]) -> list[Passage]:
    """Consecutive segments grouped into passages of about TARGET_S (at most MAX_S) seconds."""
    passages: list[Passage] = []
    parts: list[str] = []
    pieces: list[tuple[float, float, str]] = []
    start = end = 0.0
    speaker: str | None = None

    def close() -> None:
        if parts:
            passages.append(Passage(len(passages), start, max(end, start), " ".join(parts),
                                    tuple(pieces)))

    for segment in _pieces(segments):
        text = " ".join(segment.text.split())
        if not text:
            continue
        too_long = parts and (segment.end - start > MAX_S
                              or sum(len(p) + 1 for p in parts) + len(text) > MAX_CHARS)
        if too_long:
            close()
            parts, pieces, speaker = [], [], None
        if not parts:
            start = segment.start
        pieces.append((segment.start, max(segment.end, segment.start), text))
        if segment.speaker and segment.speaker != speaker:
            text = f"{segment.speaker}: {text}"
        speaker = segment.speaker
        parts.append(text)
        end = max(end, segment.end, segment.start)
        if end - start >= TARGET_S:
            close()
            parts, pieces, speaker = [], [], None
    close()
    return passages


def _pieces(segments: Sequence[Segment]) -> list[Segment]:
    """Segments, the over-long ones split by words into MAX_S-sized pieces."""
    out: list[Segment] = []
    for segment in segments:
        words = segment.text.split()
        span = segment.end - segment.start
        chunks = max(int(span // MAX_S) + 1, len(segment.text) // MAX_CHARS + 1)
        if chunks <= 1 or len(words) < 2:
            out.append(segment)
            continue
        size = -(-len(words) // chunks)
        for first in range(0, len(words), size):
            last = min(len(words), first + size)
            out.append(Segment(segment.start + span * first / len(words),
                               segment.start + span * last / len(words),
                               " ".join(words[first:last]), segment.speaker))
    return out


class PassageIndex:
    """BM25 over one transcript's passages."""

    def __init__(self, passages: Sequence[Passage]) -> None:
        self.passages = list(passages)
        tokenised = [terms(p.text) for p in self.passages]
        self._bm25 = BM25Okapi(tokenised) if any(tokenised) else None

    def search(self, query: Sequence[str], k: int = 4) -> list[tuple[Passage, float]]:
        """Up to `k` passages with a positive score for the query terms, best first."""
        if self._bm25 is None or not query:
            return []
        scores = self._bm25.get_scores(list(query))
        ranked = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
        return [(self.passages[i], float(scores[i])) for i in ranked[:k] if scores[i] > 0]

    def coverage(self, query: Sequence[str], passage: Passage) -> float:
        """The share of the query's distinct terms, weighted by rarity, that `passage` contains.

        A term the episode never uses weighs as much as its rarest word: a question about
        something absent is mostly not covered, whatever its common words match.
        """
        wanted = set(query)
        if self._bm25 is None or not wanted:
            return 0.0
        idf = self._bm25.idf
        ceiling = max(idf.values(), default=1.0)
        weight = {t: max(idf.get(t, ceiling), 0.05) for t in wanted}
        present = set(terms(passage.text))
        return sum(w for t, w in weight.items() if t in present) / sum(weight.values())

    def with_reply(self, passage: Passage) -> Passage:
        """`passage`, and when it ends on a question, the start of the reply from the next one:
        the answer to a question is what is said after it, which the passage cut may leave out."""
        if not passage.pieces or not passage.pieces[-1][2].rstrip().endswith("?") \
                or passage.index + 1 >= len(self.passages):
            return passage
        return _extended(passage, _opening(self.passages[passage.index + 1], REPLY_WORDS))

    def figure_after(self, passage: Passage, query: Sequence[str],
                     wanted: re.Pattern[str]) -> tuple[Passage, Piece] | None:
        """For a question that needs a number or a date the passage's words about it lack: the first
        later piece (on into the next passage's opening) that holds a question term and such a word,
        with the passage extended up to it. "It was called the Knight Prototype Fund." gives the
        topic; "now it's $30,000" comes four sentences later."""
        best = passage.best_piece(query)
        if best is None:
            return None
        own = list(passage.pieces[best + 1:])
        following = (_opening(self.passages[passage.index + 1], FIGURE_WORDS)
                     if passage.index + 1 < len(self.passages) else [])
        words = set(query)
        for n, piece in enumerate(own + following):
            if wanted.search(piece[2]) and words.intersection(terms(piece[2])):
                return _extended(passage, following[:max(0, n + 1 - len(own))]), piece
        return None

    def around(self, start: float, end: float, margin: float) -> list[Passage]:
        """Passages overlapping [start - margin, end + margin], in time order."""
        lo, hi = start - margin, max(start, end) + margin
        return [p for p in self.passages if p.end >= lo and p.start <= hi]

    def at(self, moment: float) -> Passage | None:
        """The passage playing at `moment` (or the nearest one)."""
        if not self.passages:
            return None
        return min(self.passages, key=lambda p: 0.0 if p.start <= moment <= p.end
                   else min(abs(p.start - moment), abs(p.end - moment)))


def _opening(passage: Passage, words: int) -> list[Piece]:
    """The passage's first pieces, until they hold `words` words."""
    taken: list[Piece] = []
    said = 0
    for piece in passage.pieces:
        if said >= words:
            break
        taken.append(piece)
        said += len(piece[2].split())
    return taken


def _extended(passage: Passage, pieces: Sequence[Piece]) -> Passage:
    """`passage` with the pieces that follow it appended."""
    if not pieces:
        return passage
    more = " ".join(text for _, _, text in pieces)
    return Passage(passage.index, passage.start, max(passage.end, pieces[-1][1]),
                   f"{passage.text} {more}".strip(), passage.pieces + tuple(pieces))


def excerpt(text: str, query: Sequence[str], limit: int = 300) -> str:
    """The sentences of `text` that best match `query`, at most about `limit` characters."""
    if len(text) <= limit:
        return text
    sentences = [s for s in _SENTENCE.split(text) if s]
    wanted = set(query)
    hits = [sum(w in wanted for w in normalise_words(s)) for s in sentences]
    best = max(range(len(sentences)), key=lambda i: (hits[i], -i))
    first = last = best
    size = len(sentences[best])
    while True:  # grow around the best sentence while it fits
        grown = False
        if last + 1 < len(sentences) and size + len(sentences[last + 1]) + 1 <= limit:
            last += 1
            size += len(sentences[last]) + 1
            grown = True
        if first > 0 and size + len(sentences[first - 1]) + 1 <= limit:
            first -= 1
            size += len(sentences[first]) + 1
            grown = True
        if not grown:
            break
    chosen = " ".join(sentences[first : last + 1])
    if len(chosen) > limit:
        chosen = chosen[: limit - 1].rsplit(" ", 1)[0] + "…"
    return ("…" if first > 0 else "") + chosen + ("…" if last + 1 < len(sentences) else "")
