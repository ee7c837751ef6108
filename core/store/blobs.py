"""Transcripts and chapters live as blobs beside the database, not in it."""

from __future__ import annotations

import json

from core.models import Chapter, Transcript
from core.ports import Store
from core.store.codec import from_doc, to_doc


def transcript_blob(episode_id: str) -> str:
    """Blob name of an episode's transcript."""
    return f"transcript-{episode_id}.json"


def chapters_blob(episode_id: str) -> str:
    """Blob name of an episode's chapters."""
    return f"chapters-{episode_id}.json"


async def save_transcript(store: Store, transcript: Transcript) -> None:
    """Write the transcript atomically."""
    data = json.dumps(to_doc(transcript), ensure_ascii=False).encode("utf-8")
    await store.write_blob(transcript_blob(transcript.episode_id), data)


async def load_transcript(store: Store, episode_id: str) -> Transcript | None:
    """The stored transcript, or None."""
    data = await store.read_blob(transcript_blob(episode_id))
    return None if data is None else from_doc(Transcript, json.loads(data))


async def save_chapters(store: Store, episode_id: str, chapters: tuple[Chapter, ...]) -> None:
    """Write an episode's chapters atomically."""
    data = json.dumps([to_doc(c) for c in chapters], ensure_ascii=False).encode("utf-8")
    await store.write_blob(chapters_blob(episode_id), data)


async def load_chapters(store: Store, episode_id: str) -> tuple[Chapter, ...]:
    """The stored chapters, or an empty tuple."""
    data = await store.read_blob(chapters_blob(episode_id))
    return () if data is None else tuple(from_doc(Chapter, d) for d in json.loads(data))
