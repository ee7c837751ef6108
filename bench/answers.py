"""Offline follow-up answers: unanswerable questions refused, answerable ones cited at the answer.

Run: python bench/answers.py   (needs ../shared/corpus/eval-transcripts; without it, one line, exit 2)
The questions are tests/eval/questions.json: 20 answerable (with the span of the words that
answer: a citation counts when it starts within 5 s of it) and 20 that the episode does not
answer, over four Talk Python To Me episodes.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _needs import folder, require  # bench/_needs.py: this script's folder is on sys.path

from core.config import LLMSettings
from core.models import Insight, Transcript
from core.qa import Answerer
from core.transcripts.parse import parse_transcript
from tests.eval.dataset import SHARED

NEEDS = (folder(SHARED / "eval-transcripts", "the shared corpus at ../shared/corpus/eval-transcripts",
                "it is not in the repository (its transcripts are GPL): put the project's corpus "
                "beside the checkout"),)
QUESTIONS = Path(__file__).resolve().parent.parent / "tests" / "eval" / "questions.json"
WITHIN_S = 5.0


def load_transcript(ref: str) -> Transcript | None:
    """The product's own parse of a corpus transcript, or None when ../shared is absent."""
    path = SHARED / ref.removeprefix("corpus:")
    if not path.exists():
        return None
    segments = parse_transcript(path.read_bytes(), "text/vtt")
    return Transcript(path.stem, segments, "publisher:text/vtt")


async def run() -> int:
    require(__file__, NEEDS)
    questions = json.loads(QUESTIONS.read_text(encoding="utf-8"))["questions"]
    answerer = Answerer(None, LLMSettings())
    transcripts: dict[str, Transcript | None] = {}
    refused = admitted = cited_near = answered = 0
    started = time.process_time()
    for q in questions:
        ref = q["transcript"]
        if ref not in transcripts:
            transcripts[ref] = load_transcript(ref)
        transcript = transcripts[ref]
        if transcript is None:
            print(f"needs {SHARED}/{ref.removeprefix('corpus:')} (the shared corpus): not found")
            return 1
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
            admitted += answer.grounded
            print(f"{'ok ' if not answer.grounded else 'BAD'} unanswerable  {q['question']}")
    cpu = time.process_time() - started
    n_ans = sum(q["answerable"] for q in questions)
    n_un = len(questions) - n_ans
    print()
    print(f"unanswerable refused: {refused}/{n_un} = {refused / n_un:.2f} (target >= 0.85)")
    print(f"answerable answered with a citation within {WITHIN_S:.0f} s: {cited_near}/{n_ans} = "
          f"{cited_near / n_ans:.2f} (target >= 0.8); answered at all {answered}/{n_ans}")
    print(f"CPU {cpu:.2f} s for {len(questions)} questions (index built once per episode)")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(run()))
