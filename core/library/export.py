"""A chat's insights as files: Markdown for Obsidian and Readwise's CSV import, split to fit uploads.

Markdown: one file, a section per episode opened by its own YAML front matter (show, episode,
date, link, tags), then `## Show — Episode`, each insight as `### text`, its quote as a
blockquote and a line with the [mm:ss] link, show, date sent, tags and id. Outside text is
escaped for Markdown and YAML, so a title or quote never becomes markup. CSV: Readwise's
columns, the quote as the highlight and the insight as the note. A part never splits an
insight, and every part parses on its own (front matter, CSV header).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Sequence

from core.library.models import ExportFile, LibraryEntry
from core.timeutil import format_timestamp

READWISE_COLUMNS = ("Highlight", "Title", "Author", "URL", "Note", "Location", "Date")
MARKDOWN_TYPE, CSV_TYPE = "text/markdown", "text/csv"

_SAFE_URL = re.compile(r"^https?://[^\s<>\"]+$", re.IGNORECASE)
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#|~&!$=%^])")  # CommonMark's, plus Obsidian's == %% $ ^
_SURROGATE = re.compile("[\ud800-\udfff]")
_LINE_START = re.compile(r"^([-+]|\d+[.)])")
# YAML double-quoted scalars: escape what is not printable there and what YAML reads as a line break
_YAML_ESCAPE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff\"\\\\]")


def markdown_files(entries: Sequence[LibraryEntry], max_bytes: int, stem: str) -> list[ExportFile]:
    """The entries (newest first) as Obsidian Markdown, in parts of at most `max_bytes`."""
    sections = [_section(group) for group in _by_episode(entries)]
    return _parts(sections, header="", max_bytes=max_bytes, name=f"{stem}.md", media_type=MARKDOWN_TYPE)


def readwise_files(entries: Sequence[LibraryEntry], max_bytes: int, stem: str) -> list[ExportFile]:
    """The entries (newest first) as Readwise CSV, in parts of at most `max_bytes`."""
    rows = [("", [_csv_line([
        _clean(e.item.insight.quote.strip() or e.item.insight.text), _clean(e.item.episode_title),
        _clean(e.item.show_title), link_of(e) or "", _note(e), str(int(e.item.insight.start)),
        f"{e.sent_on} 00:00:00",
    ])]) for e in entries]
    return _parts(rows, header=_csv_line(list(READWISE_COLUMNS)), max_bytes=max_bytes,
                  name=f"{stem}.csv", media_type=CSV_TYPE)


def link_of(entry: LibraryEntry) -> str | None:
    """The deep link to the moment (else the episode page); only plain http(s) links."""
    for url in (entry.item.moment_url, entry.item.page_url):
        if url and _SAFE_URL.match(url):
            return url
    return None


def tags_of(entry: LibraryEntry) -> list[str]:
    """Obsidian tags: the insight's kind and, when it has one, its topic (the chapter it is in)."""
    tags = [f"kind/{entry.item.insight.kind.value}"]
    if topic := _slug(entry.item.insight.chapter or ""):
        tags.append(f"topic/{topic}")
    return tags


# --- Markdown -------------------------------------------------------------------------------


def _by_episode(entries: Sequence[LibraryEntry]) -> list[list[LibraryEntry]]:
    """Entries grouped by episode, episodes in the order of their newest entry."""
    groups: dict[str, list[LibraryEntry]] = {}
    for entry in entries:
        groups.setdefault(entry.item.insight.episode_id, []).append(entry)
    return list(groups.values())


def _section(group: Sequence[LibraryEntry]) -> tuple[str, list[str]]:
    """One episode: (front matter and heading, each insight with the head before the first)."""
    first = group[0].item
    tags = ["castfive", *dict.fromkeys(t for e in group for t in tags_of(e))]
    front = ["---", f"show: {_yaml(first.show_title)}", f"episode: {_yaml(first.episode_title)}",
             f"date: {group[0].sent_on}"]  # the newest sent, as the episodes come newest first
    if first.page_url and _SAFE_URL.match(first.page_url):
        front.append(f"url: {_yaml(first.page_url)}")
    front += ["tags:", *(f"  - {_yaml(t)}" for t in tags), "---", "",
              f"## {_md(first.show_title or 'Podcast')} — {_md(first.episode_title or 'Episode')}", ""]
    head = "\n".join(front) + "\n"
    return head, [head + _insight_md(group[0])] + [_insight_md(e) for e in group[1:]]


def _insight_md(entry: LibraryEntry) -> str:
    insight = entry.item.insight
    lines = [f"### {_md(insight.text)}", ""]
    if insight.quote.strip():
        lines += [f"> {_md(insight.quote)}", ""]
    stamp = f"\\[{format_timestamp(insight.start)}\\]"  # escaped: [[...]] is an Obsidian wikilink
    link = link_of(entry)
    parts = [f"[{stamp}](<{link}>)" if link else stamp, _md(entry.item.show_title), entry.sent_on,
             " ".join(f"#{t}" for t in tags_of(entry)), f"id `{insight.id}`"]
    lines += [" · ".join(p for p in parts if p), ""]
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    """One line of outside text that Markdown (and Obsidian) shows exactly as written."""
    flat = " ".join(_clean(text).split())
    return _LINE_START.sub(r"\\\1", _MD_SPECIAL.sub(r"\\\1", flat))


def _yaml(text: str) -> str:
    """A YAML double-quoted scalar holding exactly `text`."""
    def escape(match: re.Match[str]) -> str:
        char = match.group()
        return "\\" + char if char in "\"\\" else f"\\u{ord(char):04x}"
    return '"' + _YAML_ESCAPE.sub(escape, _clean(text)) + '"'


# --- CSV ----------------------------------------------------------------------------------------


def _note(entry: LibraryEntry) -> str:
    """The insight, then its tags in Readwise's inline form (.tag) and the id to ask about."""
    tags = " ".join("." + t.replace("/", "-") for t in tags_of(entry))
    return f"{_clean(entry.item.insight.text)}\n\n{tags} castfive-id:{entry.item.insight.id}"


def _csv_line(cells: Sequence[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(cells)
    return out.getvalue()


# --- shared ---------------------------------------------------------------------------------------


def _parts(blocks: Sequence[tuple[str, list[str]]], *, header: str, max_bytes: int, name: str,
           media_type: str) -> list[ExportFile]:
    """Blocks packed into files of at most `max_bytes` (one over-long piece alone in its part).

    A block is (head, pieces): a part that starts within a block starts with its head again, so
    a Markdown episode split between insights keeps its front matter and heading in each part.
    """
    files: list[str] = []
    current = header
    for head, pieces in blocks:
        for n, piece in enumerate(pieces):
            if current != header and _size(current + piece) > max_bytes:
                files.append(current)
                current = header + (head if n > 0 else "")
            current += piece
    files.append(current)
    return [_file(name, i, len(files), text, media_type) for i, text in enumerate(files, start=1)]


def _file(name: str, index: int, count: int, text: str, media_type: str) -> ExportFile:
    stem, dot, ext = name.rpartition(".")
    filename = name if count == 1 else f"{stem}-part{index}of{count}{dot}{ext}"
    return ExportFile(filename, text.encode("utf-8"), media_type)


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def _clean(text: str) -> str:
    """Text that encodes as UTF-8: a lone surrogate (from a broken transcript) becomes U+FFFD."""
    return _SURROGATE.sub("\ufffd", text)


def _slug(text: str) -> str:
    words = re.findall(r"\w+", text.lower())
    return "-".join(words)[:40].strip("-")


Renderer = Callable[[Sequence[LibraryEntry], int, str], list[ExportFile]]
FORMATS: dict[str, Renderer] = {"markdown": markdown_files, "readwise": readwise_files}
