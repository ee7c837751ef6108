"""Minimal transcript readers for the evaluation set only (SRT, VTT, JSON, HTML, Markdown).

The product's own parsers live in core/transcripts; the eval keeps its own small readers so
that it measures the ranker and not the parsers, and runs whatever state those are in.
"""

from __future__ import annotations

import html
import json
import re
from itertools import pairwise
from pathlib import Path

from core.models import Segment
from core.transcripts.cues import squash, strip_annotations


def _seconds(stamp: str) -> float:
    """'01:02:03,450', '3:44.100' or '0.860' as seconds."""
    parts = stamp.strip().replace(",", ".").split(":")
    total = 0.0
    for part in parts:
        total = total * 60 + float(part)
    return total


def _cues(text: str) -> list[tuple[float, float, str]]:
    """Time-coded cues of an SRT or WebVTT document."""
    cues = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n")):
        lines = [line for line in block.strip().split("\n") if line.strip()]
        for i, line in enumerate(lines):
            if "-->" in line:
                left, right = line.split("-->", 1)
                body = " ".join(lines[i + 1:])
                cues.append((_seconds(left), _seconds(right.split()[0]), body))
                break
    return cues


def load_srt_vtt(path: Path) -> list[Segment]:
    """Segments of an SRT/VTT file; `<v Name>` voice tags become speakers, other tags go."""
    segments = []
    for start, end, body in _cues(path.read_text(encoding="utf-8")):
        speaker = None
        voice = re.match(r"<v(?:\.[\w.]+)?\s+([^>]+)>", body)
        if voice:
            speaker = voice.group(1).strip()
        body = html.unescape(re.sub(r"<[^>]+>", "", body)).strip()
        if body:
            segments.append(Segment(start, end, body, speaker))
    return segments


def load_json(path: Path) -> list[Segment]:
    """Segments of a podcast-namespace JSON transcript."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    out = []
    for seg in doc.get("segments", []):
        start = float(seg.get("startTime", 0.0))
        end = float(seg.get("endTime", start))
        out.append(Segment(start, end, str(seg.get("body", "")), seg.get("speaker")))
    return out


def load_html(path: Path) -> list[Segment]:
    """Segments of a Buzzsprout-style HTML transcript (<cite>, <time>, <p>)."""
    text = path.read_text(encoding="utf-8")
    blocks = re.findall(
        r"(?:<cite>(.*?)</cite>\s*)?<time>(.*?)</time>\s*<p>(.*?)</p>", text, flags=re.DOTALL
    )
    rows = [
        (_seconds(t), html.unescape(re.sub(r"<[^>]+>", "", p)).strip(), (c or "").strip(" :") or None)
        for c, t, p in blocks
    ]
    out = []
    for i, (start, body, speaker) in enumerate(rows):
        end = rows[i + 1][0] if i + 1 < len(rows) else start + len(body.split()) / 2.5
        out.append(Segment(start, max(end, start), body, speaker))
    return out


def load_markdown(path: Path) -> list[Segment]:
    """Segments of a Changelog Markdown transcript; times interpolated between sparse stamps."""
    stamp = re.compile(r"\\\[(\d+(?::\d+)+(?:\.\d+)?)\\\]")
    rows: list[tuple[int, str | None, str]] = []  # (words before, speaker, text)
    anchors, words, speaker = [(0, 0.0)], 0, None
    text = path.read_text(encoding="utf-8")
    # Conduit files open with YAML front matter (title, url...): metadata, not speech
    text = re.sub(r"\A---\n.*?\n---\n", "", text, flags=re.DOTALL)
    for raw in text.split("\n"):
        line = raw.strip()
        if not line:
            continue
        match = re.match(r"\*\*(.+?):?\*\*:?\s*(.*)", line)
        if match:
            speaker, line = match.group(1).rstrip(":"), match.group(2)
        lead = stamp.match(line)
        if lead:
            anchors.append((words, _seconds(lead.group(1))))
        body = stamp.sub("", line)
        body = re.sub(r"\\\[unintelligible[^\]]*\]", "", body).replace("\\[", "[").replace("\\]", "]")
        # As the product's transcript parsers do: "[laughter]" is a note, not speech.
        body = squash(strip_annotations(html.unescape(body)))  # some files carry &#39; etc.
        if body:
            rows.append((words, speaker, body))
            words += len(body.split())
    rate = 2.6  # words per second beyond the last stamp
    anchors.append((words, anchors[-1][1] + (words - anchors[-1][0]) / rate))

    def at(w: int) -> float:
        for (w0, t0), (w1, t1) in pairwise(anchors):
            if w0 <= w <= w1 and w1 > w0:
                return t0 + (t1 - t0) * (w - w0) / (w1 - w0)
        return anchors[-1][1]

    out = []
    for i, (w, who, body) in enumerate(rows):
        w_end = rows[i + 1][0] if i + 1 < len(rows) else words
        out.append(Segment(round(at(w), 2), round(at(w_end), 2), body, who))
    return out


def load_transcript(path: Path) -> list[Segment]:
    """Segments of a transcript file, by extension."""
    suffix = path.suffix.lower()
    if suffix in (".srt", ".vtt"):
        return load_srt_vtt(path)
    if suffix == ".json":
        return load_json(path)
    if suffix == ".html":
        return load_html(path)
    if suffix == ".md":
        return load_markdown(path)
    if suffix == ".txt":
        return load_script(path)
    raise ValueError(f"no reader for {path.name}")

def load_script(path: Path) -> list[Segment]:
    """Segments of a written eval script: one utterance a line, 'Name: text' or bare text.

    Lines are cut into caption-sized chunks (at most 12 words) at 2.7 words a second, with a short
    pause inside an utterance and a longer one between utterances, as speech-to-text output looks.
    '# ...' lines are comments; '@m:ss' jumps the clock forward (an ad break, a cut).
    """
    segments, clock = [], 0.0
    for raw in path.read_text(encoding="utf-8").split("\n"):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("@"):
            clock = max(clock, _seconds(line[1:]))
            continue
        speaker = None
        match = re.match(r"([A-Z][\w.'-]*(?: [A-Z][\w.'-]*)?): (.*)", line)
        if match:
            speaker, line = match.group(1), match.group(2)
        tokens = line.split()
        for i in range(0, len(tokens), 12):
            chunk = tokens[i:i + 12]
            end = clock + len(chunk) / 2.7
            segments.append(Segment(round(clock, 2), round(end, 2), " ".join(chunk), speaker))
            clock = end + 0.15
        clock += 0.6
    return segments
