"""Any extractor's insights with their sentence embeddings, computed once and stored with them."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import logging
from collections.abc import Sequence

from core.models import Chapter, Episode, Insight, Transcript
from core.ports import Embedder, Extractor

log = logging.getLogger(__name__)


class EmbeddingExtractor:
    """Wraps an extractor: each insight it returns carries the embedding of its text."""

    def __init__(self, inner: Extractor, embedder: Embedder) -> None:
        self.inner = inner
        self.embedder = embedder
        self.name = inner.name

    async def extract(
        self, transcript: Transcript, episode: Episode, show_title: str,
        chapters: Sequence[Chapter] = (),
    ) -> list[Insight]:
        """The inner extractor's insights, with vectors (without, if the model cannot run)."""
        insights = await self.inner.extract(transcript, episode, show_title, chapters)
        if not insights:
            return insights
        try:
            vectors = await asyncio.to_thread(self.embedder.embed, [i.text for i in insights])
        except Exception:  # embeddings sharpen duplicate checks; an episode never fails for them
            log.exception("embeddings failed episode=%s: insights kept without", episode.id)
            return insights
        return [dataclasses.replace(i, vector=base64.b64encode(v).decode("ascii"),
                                    vector_model=self.embedder.name)
                for i, v in zip(insights, vectors, strict=True)]


def vector_of(insight: Insight) -> bytes:
    """The insight's stored vector as bytes (empty when it has none)."""
    return base64.b64decode(insight.vector) if insight.vector else b""
