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
        # the offline ranker's come with the vectors its keeper probe needed
        missing = [i for i in insights if i.vector_model != self.embedder.name]
        if not missing:
            return insights
        try:
            vectors = await asyncio.to_thread(self.embedder.embed, [i.text for i in missing])
        except Exception:  # embeddings sharpen duplicate checks; an episode never fails for them
            log.exception("embeddings failed episode=%s: insights kept without", episode.id)
            return insights
        found = {i.id: v for i, v in zip(missing, vectors, strict=True)}
        return [dataclasses.replace(i, vector=base64.b64encode(found[i.id]).decode("ascii"),
                                    vector_model=self.embedder.name) if i.id in found else i
                for i in insights]


def vector_of(insight: Insight) -> bytes:
    """The insight's stored vector as bytes (empty when it has none)."""
    return base64.b64decode(insight.vector) if insight.vector else b""
