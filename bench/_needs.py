"""What a bench needs beyond the Quickstart install, checked before it starts: one line if missing.

A bench declares its needs and checks them first thing in main():

    from _needs import require, tool          # bench/ is the script's folder, so on sys.path
    NEEDS = (tool("espeak-ng"), tool("ffmpeg"))
    def main() -> int:
        require(__file__, NEEDS)              # prints one line and exits 2 when something is missing

`python bench/_needs.py bench/a.py bench/b.py` runs only those checks (tests/test_bench_needs.py).
"""

from __future__ import annotations

import runpy
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MISSING_EXIT = 2


@dataclass(frozen=True)
class Need:
    """One thing a bench cannot run without, and how to get it."""

    name: str  # as the line names it: "espeak-ng", "the shared corpus at ../shared/corpus"
    install: str  # "apt-get install espeak-ng", or a sentence
    met: Callable[[], bool]
    apt: str = ""  # a Debian package: several are installed with one apt-get line


def tool(command: str, package: str | None = None) -> Need:
    """A program found on PATH, installed from a Debian package (the command's name by default)."""
    package = package or command
    return Need(command, f"apt-get install {package}", lambda: shutil.which(command) is not None,
                apt=package)


def folder(path: Path, name: str, install: str) -> Need:
    """A folder of data that is not in the repository."""
    return Need(name, install, path.is_dir)


def missing_line(bench: str, needs: Sequence[Need]) -> str | None:
    """'bench/x.py needs a and b: apt-get install a b', or None when everything is here."""
    missing = [n for n in needs if not n.met()]
    if not missing:
        return None
    names = [n.name for n in missing]
    named = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    packages = [n.apt for n in missing if n.apt]
    how = ([f"apt-get install {' '.join(packages)}"] if packages else []) + [
        n.install for n in missing if not n.apt]
    return f"{bench} needs {named}: {'; '.join(how)}"


def require(bench_file: str, needs: Sequence[Need]) -> None:
    """Exit with one line saying what is missing and how to install it, before any work starts."""
    line = missing_line(_shown(bench_file), needs)
    if line is not None:
        print(line, file=sys.stderr)
        raise SystemExit(MISSING_EXIT)


def check(bench_file: str) -> int:
    """Run only the need check of one bench script (its module code, not its main); exit status."""
    scope = runpy.run_path(bench_file, run_name="bench_needs_check")
    if "NEEDS" not in scope:
        print(f"{_shown(bench_file)}: needs nothing beyond the Quickstart install")
        return 0
    line = missing_line(_shown(bench_file), scope["NEEDS"])
    if line is not None:
        print(line, file=sys.stderr)
        return MISSING_EXIT
    print(f"{_shown(bench_file)}: everything it needs is here")
    return 0


def _shown(bench_file: str) -> str:
    path = Path(bench_file).resolve()
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


if __name__ == "__main__":
    sys.exit(max(check(arg) for arg in sys.argv[1:]) if sys.argv[1:] else 0)
