"""Inline Podlove Simple Chapters (`<psc:chapters>`) -> Chapter marks."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from core.feeds.fields import absolute_url, text_line
from core.models import Chapter
from core.transcripts.cues import parse_clock

PSC_NAMESPACE = "http://podlove.org/simple-chapters"
MAX_CHAPTERS = 500  # a chapter list longer than this is noise, not navigation


def psc_chapters(
    marks: Iterable[tuple[str | None, str | None, str | None]], base_url: str | None
) -> tuple[Chapter, ...]:
    """(start, title, href) of each `psc:chapter` -> chapters sorted by start, each ending where
    the next begins; marks without a readable start are dropped."""
    found: list[Chapter] = []
    for start_text, title, href in marks:
        start = parse_clock(start_text or "")
        if start is None:
            continue
        found.append(Chapter(start=start, title=text_line(title)[:300],
                             url=absolute_url(href, base_url)))
        if len(found) >= MAX_CHAPTERS:
            break
    if not found:
        return ()
    ordered = sorted(found, key=lambda c: c.start)
    ends: list[float | None] = [c.start for c in ordered[1:]]
    ends.append(None)
    return tuple(replace(c, end=end) for c, end in zip(ordered, ends, strict=True))
