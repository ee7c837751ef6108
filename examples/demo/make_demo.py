"""Rebuild the offline demo feed from scripts/*.txt: MP3s, a WebVTT transcript, chapters, feed.xml.

Needs espeak-ng and ffmpeg (Debian packages); the outputs are committed so nothing else does.
Run: python examples/demo/make_demo.py
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import wave
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

HERE = Path(__file__).resolve().parent
SHOW_TITLE = "Build Notes"
SHOW_AUTHOR = "Sam Porter"
SHOW_DESCRIPTION = (
    "A short weekly show about how small teams build software and businesses that last: "
    "one guest, one or two ideas, evidence for each. A fictional show made for the Castfive demo."
)
# Voices tinier speech models recognise best among those espeak-ng ships (measured with tiny.en).
VOICES = {"HOST": "en-us+m7", "GUEST": "en-us+klatt"}
WORDS_PER_MINUTE = 160
RATE = 22050  # espeak-ng's native output rate
SENTENCE_GAP_S = 0.30
TURN_GAP_S = 0.70
CHAPTER_GAP_S = 1.20
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
SPOKEN = re.compile(r"\{([^|}]*)\|([^}]*)\}")  # {written|spoken}


@dataclass
class Line:
    """One sentence as written (transcript) and as spoken (synthesis), with its speaker."""

    speaker: str
    written: str
    spoken: str
    start: float = 0.0
    end: float = 0.0


@dataclass
class Episode:
    """One parsed script with what synthesis fills in."""

    number: int
    meta: dict[str, str]
    items: list[Line | tuple[str, bool]] = field(default_factory=list)  # lines and chapters
    chapters: list[tuple[float, str, bool]] = field(default_factory=list)
    duration: float = 0.0


def parse_script(number: int, text: str) -> Episode:
    """Header `# key: value`, `[chapter: Title | toc=false]`, `HOST:`/`GUEST:` turns."""
    episode = Episode(number=number, meta={})
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            key, _, value = line.lstrip("# ").partition(":")
            episode.meta[key.strip()] = value.strip()
        elif line.startswith("[chapter:"):
            title, _, flags = line[len("[chapter:"):].rstrip("]").partition("|")
            episode.items.append((title.strip(), "toc=false" not in flags))
        else:
            speaker, _, turn = line.partition(":")
            if speaker not in VOICES:
                raise SystemExit(f"episode {number}: unknown speaker in line {line!r}")
            for sentence in SENTENCE_END.split(turn.strip()):
                written = SPOKEN.sub(lambda m: m.group(1), sentence)
                spoken = SPOKEN.sub(lambda m: m.group(2), sentence)
                episode.items.append(Line(speaker, written, spoken))
    return episode


def synthesize(episode: Episode, workdir: Path) -> bytes:
    """Speak sentence by sentence, recording each sentence's offset; returns 16-bit PCM."""
    pcm = bytearray()
    previous: str | None = None
    pending_gap = 0.0

    def silence(seconds: float) -> bytes:
        return b"\x00\x00" * int(seconds * RATE)

    for item in episode.items:
        if isinstance(item, tuple):
            pending_gap = max(pending_gap, CHAPTER_GAP_S if pcm else 0.0)
            episode.chapters.append((-1.0, item[0], item[1]))  # start set at the next sentence
            continue
        if pcm:
            gap = SENTENCE_GAP_S if item.speaker == previous else TURN_GAP_S
            pcm += silence(max(gap, pending_gap))
        pending_gap = 0.0
        start = len(pcm) / 2 / RATE
        for i, (at, title, toc) in enumerate(episode.chapters):
            if at < 0:
                episode.chapters[i] = (round(start, 2), title, toc)
        wav_path = workdir / "sentence.wav"
        subprocess.run(
            ["espeak-ng", "-v", VOICES[item.speaker], "-s", str(WORDS_PER_MINUTE),
             "-w", str(wav_path), item.spoken],
            check=True,
        )
        with wave.open(str(wav_path)) as w:
            if w.getframerate() != RATE or w.getnchannels() != 1 or w.getsampwidth() != 2:
                raise SystemExit("espeak-ng wrote an unexpected WAV format")
            speech = _trim_trailing_silence(w.readframes(w.getnframes()))
        pcm += speech
        item.start, item.end = start, len(pcm) / 2 / RATE
        previous = item.speaker
    pcm += silence(1.0)
    episode.duration = len(pcm) / 2 / RATE
    return bytes(pcm)


def _trim_trailing_silence(frames: bytes, threshold: int = 64) -> bytes:
    """espeak pads each sentence with silence; trimming keeps cue ends on the last word."""
    end = len(frames) - 2
    while end > 0 and abs(int.from_bytes(frames[end:end + 2], "little", signed=True)) < threshold:
        end -= 2
    return frames[: end + 2 + int(0.08 * RATE) * 2]


def encode_mp3(pcm: bytes, episode: Episode, dest: Path, workdir: Path) -> None:
    """16 kHz mono 24 kbps MP3 with ID3 title and a Xing/Info header (byte count: truncation check)."""
    wav_path = workdir / "episode.wav"
    with wave.open(str(wav_path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm)
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-i", str(wav_path), "-ac", "1", "-ar", "16000",
         "-c:a", "libmp3lame", "-b:a", "24k", "-fflags", "+bitexact", "-flags:a", "+bitexact",
         "-metadata", f"title={episode.meta['title']}", "-metadata", f"artist={SHOW_TITLE}",
         "-id3v2_version", "3", "-write_xing", "1", str(dest)],
        check=True,
    )


def vtt_time(seconds: float) -> str:
    """WebVTT timestamp HH:MM:SS.mmm."""
    ms = round(seconds * 1000)
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def write_vtt(episode: Episode, dest: Path) -> None:
    """One cue per sentence with the speaker as a voice span."""
    names = {"HOST": episode.meta["host"], "GUEST": episode.meta["guest"]}
    cues = ["WEBVTT", ""]
    lines = [item for item in episode.items if isinstance(item, Line)]
    for n, line in enumerate(lines, 1):
        cues += [str(n), f"{vtt_time(line.start)} --> {vtt_time(line.end)}",
                 f"<v {names[line.speaker]}>{line.written}", ""]
    dest.write_text("\n".join(cues), encoding="utf-8")


def write_chapters(episode: Episode, dest: Path) -> None:
    """Podcasting 2.0 JSON chapters; sponsor reads are marked toc=false."""
    chapters = []
    for start, title, toc in episode.chapters:
        chapter: dict[str, object] = {"startTime": start, "title": title}
        if not toc:
            chapter["toc"] = False
        chapters.append(chapter)
    dest.write_text(json.dumps({"version": "1.2.0", "chapters": chapters}, indent=2) + "\n")


def item_xml(episode: Episode, mp3: Path, has_vtt: bool) -> str:
    """One RSS <item> with relative enclosure, transcript and chapters URLs."""
    n, meta = episode.number, episode.meta
    published = datetime.fromisoformat(meta["published"].replace("Z", "+00:00"))
    seconds = round(episode.duration)
    parts = [
        "    <item>",
        f"      <title>{escape(meta['title'])}</title>",
        f'      <guid isPermaLink="false">build-notes-demo-episode-{n}</guid>',
        f"      <pubDate>{format_datetime(published)}</pubDate>",
        f"      <description>{escape(meta['description'])}</description>",
        f'      <enclosure url="episode-{n}.mp3" length="{mp3.stat().st_size}" type="audio/mpeg"/>',
        f"      <itunes:duration>{seconds // 60:d}:{seconds % 60:02d}</itunes:duration>",
        f"      <itunes:episode>{n}</itunes:episode>",
        "      <itunes:explicit>false</itunes:explicit>",
        f'      <podcast:person role="host">{escape(meta["host"])}</podcast:person>',
        f'      <podcast:person role="guest">{escape(meta["guest"])}</podcast:person>',
        f'      <podcast:chapters url="episode-{n}.chapters.json" type="application/json+chapters"/>',
    ]
    if has_vtt:
        parts.append(f'      <podcast:transcript url="episode-{n}.vtt" type="text/vtt" language="en"/>')
    parts.append("    </item>")
    return "\n".join(parts)


def write_feed(items: list[str], dest: Path) -> None:
    """The RSS 2.0 document with the itunes and podcast namespaces, newest item first."""
    head = f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"
     xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"
     xmlns:podcast="https://podcastindex.org/namespace/1.0">
  <channel>
    <title>{escape(SHOW_TITLE)}</title>
    <link>https://buildnotes.example/</link>
    <language>en</language>
    <description>{escape(SHOW_DESCRIPTION)}</description>
    <itunes:author>{escape(SHOW_AUTHOR)}</itunes:author>
    <itunes:summary>{escape(SHOW_DESCRIPTION)}</itunes:summary>
    <itunes:category text={quoteattr("Technology")}/>
    <itunes:explicit>false</itunes:explicit>
    <podcast:locked>no</podcast:locked>
"""
    dest.write_text(head + "\n".join(reversed(items)) + "\n  </channel>\n</rss>\n", encoding="utf-8")


def main() -> int:
    """Build every episode found in scripts/ and the feed that lists them."""
    scripts = sorted((HERE / "scripts").glob("episode-*.txt"))
    items = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for path in scripts:
            number = int(path.stem.rsplit("-", 1)[1])
            episode = parse_script(number, path.read_text(encoding="utf-8"))
            pcm = synthesize(episode, workdir)
            mp3 = HERE / f"episode-{number}.mp3"
            encode_mp3(pcm, episode, mp3, workdir)
            has_vtt = episode.meta.get("transcript", "no") == "yes"
            if has_vtt:
                write_vtt(episode, HERE / f"episode-{number}.vtt")
            write_chapters(episode, HERE / f"episode-{number}.chapters.json")
            items.append(item_xml(episode, mp3, has_vtt))
            print(f"episode {number}: {episode.duration:.1f} s, {mp3.stat().st_size} bytes")
    write_feed(items, HERE / "feed.xml")
    return 0


if __name__ == "__main__":
    sys.exit(main())
