"""Where a stage's next message goes: the Dramatiq actor of that stage."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, Protocol

STAGES = ("poll", "transcribe", "extract")  # also the queue names


class Dispatcher(Protocol):
    """Enqueues one stage of work for a feed (poll) or an episode (transcribe, extract)."""

    async def send(self, stage: str, key: str) -> None: ...


class ActorDispatcher:
    """Sends to Dramatiq actors by stage name (a blocking Redis call, so off the loop)."""

    def __init__(self, actors: Mapping[str, Any]) -> None:
        self.actors = actors

    async def send(self, stage: str, key: str) -> None:
        """Enqueue `key` on the stage's queue; durable in Redis on return."""
        await asyncio.to_thread(self.actors[stage].send, key)

