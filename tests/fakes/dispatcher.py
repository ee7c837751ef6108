"""RecordingDispatcher: the Dispatcher port as a list, for unit tests of stages and the sweep."""

from __future__ import annotations


class RecordingDispatcher:
    """Keeps what was sent, in order."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def send(self, stage: str, key: str) -> None:
        self.sent.append((stage, key))
