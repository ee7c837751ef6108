"""The insight evaluation set: labelled transcripts, and scoring of a ranker's output against them.

A label file (tests/eval/labels/*.json) names its transcript as `corpus:<path>` (a file in
tests/eval/corpus/ when its licence let us copy it, else in ../shared/corpus), as `written:<file>`
(a script in tests/eval/written/, see loaders.load_script) or inline as
`{"segments": [[start, end, speaker, text], ...]}`. `insights` and `filler` are exact passages of the
transcript; they are matched as word sequences, so case, punctuation and speaker prefixes do not
matter. Anything not labelled is neutral: it counts against precision but is not filler.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from core.models import Segment
from tests.eval.loaders import load_transcript

EVAL = Path(__file__).resolve().parent
LABELS = EVAL / "labels"
BUNDLED = EVAL.parent / "data"  # MIT/CC0 copies, same layout as ../shared/corpus
WRITTEN = EVAL / "written"
SHARED = EVAL.parent.parent.parent / "shared" / "corpus"
_WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> list[str]:
    """Lowercase alphanumeric tokens: the unit labels and quotes are matched in."""
    return _WORD.findall(text.lower())


@dataclass(frozen=True)
class Case:
    """One labelled transcript, tokenised, with its label spans as token ranges."""

    name: str
    split: str  # "dev" (weights were tuned on it) or "test" (held out)
    source: str  # "corpus" or "written"
    segments: tuple[Segment, ...]
    tokens: tuple[str, ...]
    token_times: tuple[float, ...]
    insight_spans: tuple[tuple[int, int], ...]
    filler_spans: tuple[tuple[int, int], ...]

    @property
    def hours(self) -> float:
        """Length of the transcript in hours."""
        return max(s.end for s in self.segments) / 3600 if self.segments else 0.0

    @property
    def show(self) -> str:
        """The show the episode is from: its name without the episode number."""
        return re.sub(r"[_-]\d+$", "", self.name)


class LabelError(ValueError):
    """A label passage that does not occur in its transcript."""


def _tokens_with_times(segments: list[Segment]) -> tuple[list[str], list[float]]:
    toks, times = [], []
    for seg in segments:
        text = seg.text
        span = max(seg.end - seg.start, 0.0)
        for m in _WORD.finditer(text.lower()):
            toks.append(m.group(0))
            times.append(seg.start + span * (m.start() / max(len(text), 1)))
    return toks, times


def find_all(tokens: list[str] | tuple[str, ...], needle: list[str]) -> list[int]:
    """Every start index of `needle` in `tokens`."""
    if not needle:
        return []
    first, n, out = needle[0], len(needle), []
    for i, tok in enumerate(tokens):
        if tok == first and list(tokens[i:i + n]) == needle:
            out.append(i)
    return out


def passage_text(item: str | dict) -> str:
    """The passage of a label entry: a plain string or {"text": ..., "kind": ...}."""
    return item["text"] if isinstance(item, dict) else item


def _spans(tokens: list[str], passages: list[str | dict], name: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for item in passages:
        passage = passage_text(item)
        needle = words(passage)
        starts = find_all(tokens, needle)
        if not starts:
            raise LabelError(f"{name}: label not found in transcript: {passage[:80]!r}")
        spans.extend((s, s + len(needle)) for s in starts)
    return spans


def _segments_of(doc: dict) -> list[Segment] | None:
    ref = doc["transcript"]
    if isinstance(ref, dict):
        return [Segment(float(a), float(b), str(t), s) for a, b, s, t in ref["segments"]]
    if ref.startswith("written:"):
        return load_transcript(WRITTEN / ref.removeprefix("written:"))
    rel = ref.removeprefix("corpus:")
    for root in (BUNDLED, SHARED):
        if (root / rel).is_file():
            return load_transcript(root / rel)
    return None  # licence kept it out of the repo and ../shared is absent


def load_case(path: Path) -> Case | None:
    """The case a label file describes, or None when its transcript is not available here."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    segments = _segments_of(doc)
    if segments is None:
        return None
    tokens, times = _tokens_with_times(segments)
    return Case(
        name=path.stem,
        split=doc.get("split", "test"),
        source="corpus" if str(doc["transcript"]).startswith("corpus:") else "written",
        segments=tuple(segments),
        tokens=tuple(tokens),
        token_times=tuple(times),
        insight_spans=tuple(_spans(tokens, doc.get("insights", []), path.stem)),
        filler_spans=tuple(_spans(tokens, doc.get("filler", []), path.stem)),
    )


def load_cases() -> tuple[list[Case], list[str]]:
    """All available cases (sorted by name) and the names of those skipped for lack of a file."""
    cases, skipped = [], []
    for path in sorted(LABELS.glob("*.json")):
        case = load_case(path)
        if case is None:
            skipped.append(path.stem)
        else:
            cases.append(case)
    return cases, skipped


def locate(case: Case, quote: str, start: float) -> tuple[int, int] | None:
    """The token span of a quote in the case, choosing the occurrence nearest `start`."""
    needle = words(quote)
    starts = find_all(case.tokens, needle)
    if not starts:
        return None
    best = min(starts, key=lambda i: abs(case.token_times[i] - start))
    return best, best + len(needle)


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> int:
    return max(0, min(a[1], b[1]) - max(a[0], b[0]))


def is_insight(case: Case, span: tuple[int, int]) -> bool:
    """A pick counts when it covers half of a labelled insight or is half made of one."""
    size = span[1] - span[0]
    for lab in case.insight_spans:
        ov = _overlap(span, lab)
        if ov and (ov >= 0.5 * (lab[1] - lab[0]) or ov >= 0.5 * size):
            return True
    return False


def is_filler(case: Case, span: tuple[int, int]) -> bool:
    """A pick is filler when it carries half of a labelled filler passage or is a quarter filler."""
    size = span[1] - span[0]
    for lab in case.filler_spans:
        ov = _overlap(span, lab)
        if ov and (ov >= 0.5 * (lab[1] - lab[0]) or ov >= 0.25 * size):
            return True
    return False


_STOP = frozenset(
    "the a an and or but so of to in on for with is are was were be it that this i you we they he she"
    " my your our their its at as by from not no do does did have has had just like really very".split()
)


def near_duplicate(a: str, b: str, threshold: float = 0.5) -> bool:
    """Two texts share at least `threshold` of their content words (Jaccard)."""
    wa = {w for w in words(a) if w not in _STOP}
    wb = {w for w in words(b) if w not in _STOP}
    if not wa or not wb:
        return False
    return len(wa & wb) / len(wa | wb) >= threshold


@dataclass(frozen=True)
class TopScore:
    """How one ranker's top k did on one case."""

    picked: int
    filler: int
    duplicates: int
    unlocated: int  # quotes not found verbatim in the transcript (a bug if ever > 0)
    hit_ranks: tuple[bool, ...]  # whether each pick, best first, is a labelled insight

    @property
    def hits(self) -> int:
        """Labelled insights among the picks."""
        return sum(self.hit_ranks)

    def hits_in_first(self, n: int) -> int:
        """Labelled insights among the first n picks."""
        return sum(self.hit_ranks[:n])


def judge(case: Case, quote: str, start: float) -> tuple[bool, bool] | None:
    """(labelled insight, labelled filler) for one pick; None when its quote is not in the case."""
    span = locate(case, quote, start)
    return None if span is None else (is_insight(case, span), is_filler(case, span))


def score_top(case: Case, picks: list[tuple[str, float]], k: int = 5) -> TopScore:
    """Score (quote, start) picks, best first: labelled insights, filler and duplicate pairs in the top k."""
    top = picks[:k]
    judged = [judge(case, quote, start) for quote, start in top]
    unlocated = judged.count(None)
    hit_ranks = [j is not None and j[0] for j in judged]
    filler = sum(j is not None and j[1] for j in judged)
    dupes = sum(
        near_duplicate(top[i][0], top[j][0]) for i in range(len(top)) for j in range(i + 1, len(top))
    )
    return TopScore(len(top), filler, dupes, unlocated, tuple(hit_ranks))
