"""Every bench runs on a fresh machine or says in one line what it needs: checked with PATH empty."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# A bench is a script (it has a __main__ guard); _x.py and modules other benches' processes
# import (bench/scale_worker.py) are helpers, never run on their own.
BENCHES = sorted(p for p in (REPO / "bench").glob("*.py")
                 if not p.name.startswith("_") and '__name__ == "__main__"' in p.read_text())
TRANSCRIBE_LINE = "bench/transcribe.py needs espeak-ng and ffmpeg: apt-get install espeak-ng ffmpeg"

sys.path.insert(0, str(REPO / "bench"))
from _needs import Need, folder, missing_line, tool  # noqa: E402


def without_tools(tmp_path: Path) -> dict[str, str]:
    """The environment with PATH pointing at an empty folder: no espeak-ng, no ffmpeg, nothing."""
    empty = tmp_path / "empty-path"
    empty.mkdir(exist_ok=True)
    return {**os.environ, "PATH": str(empty)}


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120)


def test_each_bench_passes_its_need_check_or_names_what_it_needs_in_one_line(tmp_path: Path) -> None:
    assert len(BENCHES) >= 10
    done = run(["bench/_needs.py", *(str(p.relative_to(REPO)) for p in BENCHES)], without_tools(tmp_path))
    assert "Traceback" not in done.stderr, done.stderr
    missing = done.stderr.splitlines()
    fine = done.stdout.splitlines()
    assert len(missing) + len(fine) == len(BENCHES)  # one line for each bench, no more
    assert TRANSCRIBE_LINE in missing
    for line in missing:
        bench, _, how = line.partition(" needs ")
        assert (REPO / bench).is_file() and ": " in how, line
    assert all(line.endswith((": everything it needs is here",
                              ": needs nothing beyond the Quickstart install")) for line in fine)
    assert "bench/answers.py: " in done.stdout or any(m.startswith("bench/answers.py needs the shared "
                                                                   "corpus") for m in missing)
    assert done.returncode == (2 if missing else 0)


def test_transcribe_without_espeak_and_ffmpeg_exits_2_with_its_one_line(tmp_path: Path) -> None:
    done = run(["bench/transcribe.py"], without_tools(tmp_path))
    assert (done.returncode, done.stdout, done.stderr) == (2, "", TRANSCRIBE_LINE + "\n")


@pytest.mark.parametrize("needs, line", [
    ((tool("espeak-ng"),), "bench/x.py needs espeak-ng: apt-get install espeak-ng"),
    ((tool("ffprobe", "ffmpeg"), tool("sox")),
     "bench/x.py needs ffprobe and sox: apt-get install ffmpeg sox"),
    ((tool("a"), tool("b"), folder(Path("/nonexistent/corpus"), "the corpus", "copy it beside the checkout")),
     "bench/x.py needs a, b and the corpus: apt-get install a b; copy it beside the checkout"),
])
def test_the_line_names_everything_missing_and_one_install_command(
        needs: tuple[Need, ...], line: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert missing_line("bench/x.py", needs) == line


def test_nothing_is_said_when_everything_is_here(tmp_path: Path) -> None:
    here = Need("python", "", lambda: True)
    assert missing_line("bench/x.py", (here, folder(tmp_path, "a folder", "make it"))) is None
