"""Record or compute today's parse of the corpus feeds as data only (no feed text)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from core.feeds.parse import parse_feed

CORPUS = Path(__file__).resolve().parents[1] / ".." / "shared" / "corpus" / "feeds"
SNAPSHOT = Path(__file__).resolve().parent / "data" / "feed_snapshot.json"


def _digest(text: str) -> str:
    """A short hash stands in for feed text, which the licences forbid copying."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def snapshot_of(body: bytes) -> dict[str, Any]:
    """The fields of one parse that a regression would change."""
    feed = parse_feed(body)
    return {
        "title_sha": _digest(feed.title),
        "site_url": feed.site_url,
        "image_url": feed.image_url,
        "new_feed_url": feed.new_feed_url,
        "episodes": [
            {
                "guid": e.guid,
                "title_sha": _digest(e.title),
                "published_at": e.published_at.isoformat() if e.published_at else None,
                "duration_s": e.duration_s,
                "audio_url": e.audio_url,
                "audio_type": e.audio_type,
                "audio_length": e.audio_length,
                "page_url": e.page_url,
                "chapters_url": e.chapters_url,
                "transcripts": [dataclasses.asdict(t) for t in e.transcripts],
            }
            for e in feed.episodes
        ],
    }


def corpus_snapshot() -> dict[str, Any]:
    """Every corpus feed's snapshot, by file name."""
    return {p.name: snapshot_of(p.read_bytes()) for p in sorted(CORPUS.glob("*.xml"))}


if __name__ == "__main__":
    SNAPSHOT.write_text(json.dumps(corpus_snapshot(), indent=1, sort_keys=True, default=str) + "\n")
    print(f"wrote {SNAPSHOT}", file=sys.stderr)
