"""Podcasting 2.0 JSON chapters and show-notes timestamps -> Chapter marks; lookups by time.

toc=false chapters are kept: they split the timing (a song, an image change) but are not shown.
`visible` and `chapter_at` therefore answer with the enclosing visible chapter.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from core.errors import TranscriptParseError
from core.models import Chapter
from core.transcripts.cues import (
    json_seconds,
    load_json,
    parse_clock,
    squash,
    strip_tags,
)
from core.transcripts.parse import decode_transcript

# '00:00 Intro', '1:02:03 - Title', '[04:45] Title', '(10:11) Title', '• 22:30 Title'
_LINE_CHAPTER = re.compile(r"^[\s\-–—•*]*[\[(]?((?:\d{1,2}:)?\d{1,2}:\d{2})[\])]?\s*[-–—:|.)]?\s+(\S.*?)\s*$")
_BREAK_TAGS = re.compile(r"<\s*(?:br|/p|/li|/div|p|li)\b[^>]*>", re.IGNORECASE)


def parse_chapters(data: bytes) -> tuple[Chapter, ...]:
    """Chapters sorted by start; a missing end is the next chapter's start (None for the last)."""
    doc = load_json(decode_transcript(data, what="chapters file"), "chapters file")
    items = doc.get("chapters") if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        raise TranscriptParseError('The chapters file has no "chapters" list.')
    chapters = [c for c in (_chapter(item) for item in items) if c is not None]
    if items and not chapters:
        raise TranscriptParseError("The chapters file has no chapter with a start time.")
    return _with_ends(chapters)


def parse_description_chapters(text: str) -> tuple[Chapter, ...]:
    """'MM:SS Title' / 'HH:MM:SS Title' lines in show notes (HTML or text); fewer than two -> ()."""
    plain = strip_tags(_BREAK_TAGS.sub("\n", text))
    found: list[Chapter] = []
    for line in plain.splitlines():
        match = _LINE_CHAPTER.match(line)
        start = parse_clock(match.group(1)) if match else None
        if match is None or start is None:
            continue
        if found and start <= found[-1].start:
            continue  # a list runs forwards; a time going back is a mention, not a chapter
        found.append(Chapter(start=start, title=squash(match.group(2))))
    # One stray time in the notes ("recorded at 10:30") is not a chapter list.
    return _with_ends(found) if len(found) >= 2 else ()


def visible(chapters: Sequence[Chapter]) -> tuple[Chapter, ...]:
    """The chapters to display, each running until the next visible one starts."""
    shown = [c for c in chapters if c.toc]
    out: list[Chapter] = []
    for chapter, following in zip(shown, [*shown[1:], None], strict=False):
        end = following.start if following is not None else _last_end(chapters)
        out.append(replace(chapter, end=end))
    return tuple(out)


def chapter_at(chapters: Sequence[Chapter], t: float) -> Chapter | None:
    """The last visible chapter starting at or before t; None before the first or past the end."""
    shown = visible(chapters)
    i = bisect_right(shown, t, key=lambda c: c.start)
    if i == 0:
        return None
    found = shown[i - 1]
    return None if found.end is not None and t >= found.end else found


def _chapter(item: Any) -> Chapter | None:
    if not isinstance(item, dict):
        return None
    start = json_seconds(item.get("startTime"))
    if start is None:
        return None
    end = json_seconds(item.get("endTime"))
    title = item.get("title")
    if not isinstance(title, str) or not title.strip():
        # Hidden image/location marks often have no title; the place name is the best label.
        location = item.get("location")
        title = location.get("name") if isinstance(location, dict) else ""
    url = item.get("url")
    return Chapter(
        start=start,
        title=squash(title) if isinstance(title, str) else "",
        end=end if end is not None and end > start else None,
        url=url.strip() if isinstance(url, str) and url.strip() else None,
        toc=not (item.get("toc") is False or str(item.get("toc")).lower() == "false"),
    )


def _with_ends(chapters: list[Chapter]) -> tuple[Chapter, ...]:
    ordered = sorted(chapters, key=lambda c: c.start)  # stable: equal starts keep file order
    out: list[Chapter] = []
    for chapter, following in zip(ordered, [*ordered[1:], None], strict=False):
        if chapter.end is None and following is not None:
            chapter = replace(chapter, end=following.start)
        out.append(chapter)
    return tuple(out)


def _last_end(chapters: Sequence[Chapter]) -> float | None:
    return chapters[-1].end if chapters else None
