"""Offline follow-up answers: unanswerable questions refused, answerable ones cited at the answer.

Run: python bench/answers.py [--questions PATH]   (needs ../shared/corpus/eval-transcripts; without
it, one line, exit 2)
Each question file has 20 answerable questions (with the span of the words that answer: a citation
counts when it starts within 5 s of it) and 20 that the episode does not answer. By default four files
are scored: tests/eval/questions.json, over four Talk Python To Me episodes, which core/qa.py's
thresholds were calibrated on; tests/eval/questions_heldout.json, over five Changelog shows, held
out at first and since looked at (its failures shaped the reply-citation rule);
tests/eval/questions_fresh.json, over five other episodes, written blind to the answerer and scored
first at commit 70483a3 (its failures have since been read); and tests/eval/questions_fresh2.json,
over five more, written blind by a helper that never read the answerer, scored as it stands.
--questions scores one file of the same shape instead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _needs import folder, require  # bench/_needs.py: this script's folder is on sys.path

from core.config import LLMSettings
from core.models import Insight, Transcript
from core.qa import Answerer
from core.transcripts.parse import parse_transcript
from core.transcripts.select import normalise_mime
from tests.eval.dataset import EVAL, SHARED

NEEDS = (folder(SHARED / "eval-transcripts", "the shared corpus at ../shared/corpus/eval-transcripts",
                "it is not in the repository (its transcripts are GPL): put the project's corpus "
                "beside the checkout"),)
QUESTION_SETS = (("calibrated on", EVAL / "questions.json"),
                 ("held out, since looked at", EVAL / "questions_heldout.json"),
                 ("fresh, written blind, since looked at", EVAL / "questions_fresh.json"),
                 ("fresh 2, written blind", EVAL / "questions_fresh2.json"))
WITHIN_S = 5.0


@dataclass(frozen=True)
class Score:
    """How the offline answerer did on one question file."""

    refused: int
    unanswerable: int
    cited_near: int
    answered: int
    answerable: int
    cpu_s: float


def load_transcript(ref: str) -> Transcript | None:
    """The product's own parse of a corpus transcript, or None when ../shared is absent."""
    path = SHARED / ref.removeprefix("corpus:")
    if not path.exists():
        return None
    mime = normalise_mime(None, path.name)  # by extension, as for a feed: .vtt text/vtt, .md text/markdown
    return Transcript(path.stem, parse_transcript(path.read_bytes(), mime), f"publisher:{mime}")


async def score_file(answerer: Answerer, path: Path) -> Score | None:
    """Ask every question of one file, printing a line each; None when a transcript is missing."""
    questions = json.loads(path.read_text(encoding="utf-8"))["questions"]
    transcripts: dict[str, Transcript | None] = {}
    refused = cited_near = answered = 0
    started = time.process_time()
    for q in questions:
        ref = q["transcript"]
        if ref not in transcripts:
            transcripts[ref] = load_transcript(ref)
        transcript = transcripts[ref]
        if transcript is None:
            print(f"needs {SHARED}/{ref.removeprefix('corpus:')} (the shared corpus): not found")
            return None
        first = transcript.segments[0]
        insight = Insight(id="q", episode_id=transcript.episode_id, feed_id="f", text=first.text,
                          quote=first.text, start=first.start, end=first.end)
        answer = await answerer.answer(insight, transcript, q["question"])
        starts = [c.start for c in answer.citations]
        if q["answerable"]:
            lo, hi = q["answer_from"] - WITHIN_S, q["answer_to"] + WITHIN_S
            near = answer.grounded and any(lo <= s <= hi for s in starts)
            answered += answer.grounded
            cited_near += near
            mark = "ok " if near else ("far" if answer.grounded else "no ")
            cited = [round(s) for s in starts]
            print(f"{mark} answerable  {q['answer_from']:7.1f}s  cited {cited}  {q['question']}")
        else:
            refused += not answer.grounded
            print(f"{'ok ' if not answer.grounded else 'BAD'} unanswerable  {q['question']}")
    n_ans = sum(q["answerable"] for q in questions)
    return Score(refused, len(questions) - n_ans, cited_near, answered, n_ans,
                 time.process_time() - started)


def summary(label: str, path: Path, s: Score) -> list[str]:
    """The figures of one question file, as printed at the end."""
    return [
        f"{label} ({path.name}, {s.answerable + s.unanswerable} questions):",
        f"  unanswerable refused: {s.refused}/{s.unanswerable} = {s.refused / s.unanswerable:.2f} "
        "(target >= 0.85)",
        f"  answerable answered with a citation within {WITHIN_S:.0f} s: {s.cited_near}/{s.answerable} = "
        f"{s.cited_near / s.answerable:.2f} (target >= 0.8); answered at all {s.answered}/{s.answerable}",
        f"  CPU {s.cpu_s:.2f} s (index built once per episode)",
    ]


async def run(argv: list[str]) -> int:
    require(__file__, NEEDS)
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--questions", type=Path, help="score only this question file")
    args = parser.parse_args(argv)
    sets = (("questions", args.questions),) if args.questions else QUESTION_SETS
    answerer = Answerer(None, LLMSettings())
    lines: list[str] = []
    for label, path in sets:
        print(f"== {label}: {path}")
        score = await score_file(answerer, path)
        if score is None:
            return 1
        lines += summary(label, path, score)
        print()
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(run(sys.argv[1:])))
