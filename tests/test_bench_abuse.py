"""bench/abuse.py at toy scale, so the bench cannot rot: every case runs and the OPML bounds hold."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_the_abuse_bench_runs_every_case_and_the_import_stays_within_allowance_and_budget() -> None:
    done = subprocess.run(
        [sys.executable, "bench/abuse.py", "--feeds", "120", "--items", "2500",
         "--description-bytes", "20000", "--budget-s", "1", "--latency-ms", "5"],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "failed:" not in out and "not done after" not in out, out
    assert len(re.findall(r"wall +[\d.]+ s +CPU", out)) == 8
    fetches = [int(n) for n in re.findall(r"(\d+) fetches, ", out)]
    assert fetches[:2] == [50, 50]  # the allowance bounds what a 120-feed file fetches
    verdicts = re.findall(r"-> target: .*?; (meets|misses)", out)
    assert verdicts[:2] == ["meets", "meets"], out
