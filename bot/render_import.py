"""An OPML import's report, the same on every platform: one message of counts, the rest in a file."""

from __future__ import annotations

from collections.abc import Callable

from core.ports import ImportResult

SHOWN_FAILURES = 5  # more than this and the full list goes out as an attached text file
SHOWN_ADDED = 10
FAILURES_FILENAME = "import-failures.txt"

Escape = Callable[[str], str]


def import_report(result: ImportResult, limit: int, *, bold: Callable[[str], str], escape: Escape) -> str:
    """The counts first, then as many of the first failures and added titles as fit in `limit`."""
    lines = [f"📥 Imported {bold(str(len(result.added)))} podcast(s); {result.already_followed} "
             f"already followed, {len(result.failed)} could not be added."]
    if result.over_allowance:
        lines.append(f"{result.over_allowance} skipped: over the number of shows you may follow "
                     "(remove some to import more).")
    if result.out_of_time:
        lines.append(f"{result.out_of_time} not tried: the import ran out of time (send the file "
                     "again to continue).")
    if failures_file(result) is not None:
        lines.append(f"Every failure is listed in the attached {FAILURES_FILENAME}.")
    optional: list[str] = []
    if result.failed:
        optional += ["", "Could not add:"]
        optional += [f"• {escape(_cut(name, 40))}: {escape(_cut(reason, 70))}"
                     for name, reason in result.failed[:SHOWN_FAILURES]]
    if result.added:
        optional += ["", "Added:"] + [f"• {escape(_cut(f.title or f.id, 60))}"
                                      for f in result.added[:SHOWN_ADDED]]
        if len(result.added) > SHOWN_ADDED:
            optional.append(f"… and {len(result.added) - SHOWN_ADDED} more (see the feed list).")
    text = "\n".join(lines)
    for line in optional:  # whole lines only: a cut could split an HTML entity or a tag
        if len(text) + 1 + len(line) > limit:
            break
        text += "\n" + line
    return text.rstrip()


def failures_file(result: ImportResult) -> bytes | None:
    """Every failure, one per line, when the message cannot show them all; else None."""
    if len(result.failed) <= SHOWN_FAILURES:
        return None
    lines = [f"{name}\t{reason}" for name, reason in result.failed]
    return ("\n".join(["feed\treason", *lines]) + "\n").encode("utf-8")


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
