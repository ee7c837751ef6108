"""Sentences across caption segments, with times interpolated by character offset.

Publisher captions cut sentences mid-way and speech-to-text may have no punctuation at all, so
sentences are built from a word stream: punctuation first (minding abbreviations, initials and
decimals), then pauses, speaker turns and length for stretches that punctuation leaves too long.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from core.models import Segment

MAX_WORDS = 40  # a "sentence" longer than this is an unpunctuated run: cut it at pauses
LONG_PAUSE = 1.0  # seconds of silence that end a sentence even inside a long punctuated run
ASR_PAUSE = 0.5  # in text with no punctuation at all, a pause this long ends a sentence


@dataclass(frozen=True)
class Sentence:
    """One sentence of a transcript with its times in seconds and its speaker."""

    text: str
    start: float
    end: float
    speaker: str | None
    index: int


@dataclass
class _Word:
    text: str
    start: float
    end: float
    speaker: str | None
    gap: float  # silence before this word (only at segment starts)
    turn: bool  # a speaker turn starts here


_TAG = re.compile(r"<[^>]*>")
_WORD = re.compile(r"\S+")
_HAS_ALNUM = re.compile(r"[A-Za-z0-9$%&]")
_DASH_TURN = re.compile(r"^\s*(?:-|>>)\s+")
_PUNCT = re.compile(r"[.,!?;:\u2026]")
_NOISE = re.compile(r"[\[(](?:laugh\w*|music|applause|crosstalk|inaudible|unintelligible|silence|"
                    r"cough\w*|sigh\w*|chuckl\w*|background noise)[^\])]*[\])]", re.IGNORECASE)
_LABEL = re.compile(r"^(?:>>\s*)?((?:[A-Z][\w'.-]*)(?:\s[A-Z][\w'.-]*){0,2}"
                    r"|SPEAKER[_ ]?\d+|Speaker \d+):\s+(?=\S)")
_NOT_LABELS = frozenset({"Note", "Update", "Warning", "Example", "Tip", "Step", "Edit", "Source", "PS",
                         "Yes", "No", "So", "And", "But", "Well", "Okay", "Also", "Now", "Answer"})
_TITLES = frozenset({"dr.", "mr.", "mrs.", "ms.", "prof.", "st.", "mt.", "sr.", "jr.", "gen.", "gov.",
                     "sen.", "rep.", "rev.", "capt.", "lt.", "col.", "sgt.", "vs.", "v.", "e.g.",
                     "i.e.", "cf.", "approx.", "ca.", "no.", "nos.", "vol.", "fig.", "pp.", "ch."})
_MAYBE_END = frozenset({"etc.", "inc.", "ltd.", "co.", "corp.", "jan.", "feb.", "aug.", "sept.",
                        "oct.", "nov.", "dec.", "a.m.", "p.m."})
_STARTERS = frozenset("the it i we but and so this that they he she there in a an our my you if when "
                      "what now then also however yes no okay".split())
_SOFT_START = frozenset("so but now okay ok well because and yeah right then also anyway actually "
                        "basically plus".split())
_PRONOUN_START = frozenset("i we you they he she it it's that's there's this that what".split())
_NO_END = frozenset("the a an of to and or but with for in on at is are was were my your our their "
                    "very really just like um uh".split())


def split_sentences(segments: Sequence[Segment]) -> list[Sentence]:
    """The transcript's sentences in order; [] for an empty transcript."""
    words = _words(_merge_split_lines(segments))
    if not words:
        return []
    pieces: list[list[_Word]] = []
    for run in _by_punctuation(words):
        for part in _cut_at_asr_pauses(run):
            pieces.extend(_cut_long(part))
    out: list[Sentence] = []
    for piece in pieces:
        text = " ".join(w.text for w in piece).strip()
        if re.search(r"[A-Za-z0-9]", text):
            out.append(Sentence(text, piece[0].start, max(piece[-1].end, piece[0].start),
                                piece[0].speaker, len(out)))
    return out


def _merge_split_lines(segments: Sequence[Segment]) -> list[Segment]:
    """Join consecutive segments that share exact times (one caption split over lines)."""
    out: list[Segment] = []
    for seg in segments:
        if not (math.isfinite(seg.start) and math.isfinite(seg.end)) or not seg.text.strip():
            continue
        if out and (out[-1].start, out[-1].end, out[-1].speaker) == (seg.start, seg.end, seg.speaker):
            out[-1] = Segment(seg.start, seg.end, f"{out[-1].text} {seg.text}", seg.speaker)
        else:
            out.append(Segment(seg.start, max(seg.end, seg.start), seg.text, seg.speaker))
    return out


def _words(segments: list[Segment]) -> list[_Word]:
    """Words with interpolated times; inline 'Name:' labels become speakers and start turns."""
    words: list[_Word] = []
    inline: str | None = None
    prev_end: float | None = None
    prev_speaker: str | None = None
    for seg in segments:
        text = _NOISE.sub(" ", _TAG.sub(" ", seg.text)).replace("\u2019", "'")
        turn = False
        label = _LABEL.match(text)
        if label and label.group(1) not in _NOT_LABELS:
            inline, text, turn = label.group(1).strip(), text[label.end():], True
        elif _DASH_TURN.match(text):
            text, turn, inline = _DASH_TURN.sub("", text), True, None
        speaker = seg.speaker if seg.speaker is not None else inline
        if speaker != prev_speaker and words:
            turn = True
        length = max(len(text), 1)
        gap = max(0.0, seg.start - prev_end) if prev_end is not None else 0.0
        first = True
        for match in _WORD.finditer(text):
            token = match.group(0)
            t0 = seg.start + (seg.end - seg.start) * match.start() / length
            t1 = seg.start + (seg.end - seg.start) * match.end() / length
            if not _HAS_ALNUM.search(token) and words and not (first and turn):
                words[-1].text += token  # a lone comma or full stop belongs to the word before
                words[-1].end = max(words[-1].end, t1)
            else:
                words.append(_Word(token, t0, t1, speaker, gap if first else 0.0, turn and first))
            first = False
        prev_end, prev_speaker = seg.end, speaker
    return words


def _ends_sentence(word: str, following: str | None) -> bool:
    """Whether terminal punctuation on `word` really ends a sentence before `following`."""
    core = word.rstrip("\"')]}\u201d")
    if not core or core[-1] not in ".!?\u2026":
        return False
    if core[-1] in "!?":
        return True
    nxt = following.lstrip("\"'([{\u201c") if following else ""
    lower = core.lower()
    if lower in _TITLES or re.fullmatch(r"[A-Z]\.", core):
        return False  # 'Dr. Smith', 'J. R. R. Tolkien'
    if lower in _MAYBE_END or re.fullmatch(r"(?:[a-z]\.){2,}", lower):
        return nxt.lower().rstrip(",") in _STARTERS  # 'the U.S. The next...' vs 'the U.S. economy'
    if core.endswith(("...", "…")):
        return bool(nxt) and (nxt[0].isupper() or nxt[0].isdigit())
    return True


def _by_punctuation(words: list[_Word]) -> list[list[_Word]]:
    """Runs of words ended by sentence punctuation or by a speaker turn."""
    runs: list[list[_Word]] = []
    current: list[_Word] = []
    for i, word in enumerate(words):
        if word.turn and current:
            runs.append(current)
            current = []
        current.append(word)
        following = words[i + 1].text if i + 1 < len(words) else None
        if _ends_sentence(word.text, following):
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    return runs


def _cut_at_asr_pauses(run: list[_Word]) -> list[list[_Word]]:
    """In a run with no punctuation at all (raw speech-to-text), every clear pause ends a sentence."""
    if len(run) < 12 or any(_PUNCT.search(w.text) for w in run):
        return [run]
    parts: list[list[_Word]] = [[]]
    for word in run:
        if word.gap >= ASR_PAUSE and parts[-1]:
            parts.append([])
        parts[-1].append(word)
    return parts


def _cut_long(run: list[_Word]) -> list[list[_Word]]:
    """Cut a run that is too long at its most sentence-like boundary, recursively."""
    if len(run) <= MAX_WORDS and not any(w.gap >= LONG_PAUSE for w in run[4:-3]):
        return [run]
    best, best_score = None, -math.inf
    for i in range(4, len(run) - 3):  # both halves keep at least four words
        score = _boundary_score(run[i - 1], run[i])
        score -= 0.002 * abs(len(run) / 2 - i)  # slight preference for balanced halves
        if score > best_score:
            best, best_score = i, score
    if best is None or (len(run) <= MAX_WORDS and best_score < 2.0):
        return [run]
    return _cut_long(run[:best]) + _cut_long(run[best:])


def _boundary_score(before: _Word, after: _Word) -> float:
    """How likely a sentence ends between two words of an unpunctuated run."""
    score = min(after.gap, 3.0) * 2.0
    if after.gap > 0 or after.turn:
        score += 0.5  # a caption boundary
    first = after.text.lower().strip(",.")
    if first in _SOFT_START:
        score += 0.6
    elif first in _PRONOUN_START:
        score += 0.3
    last = before.text.lower()
    if last.endswith((",", ";", ":")):
        score += 0.4
    if last.strip(",") in _NO_END:
        score -= 1.0
    return score
