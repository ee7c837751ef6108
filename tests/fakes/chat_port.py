"""FakeChatPort: records sends and replays scripted outcomes, for delivery unit tests."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from core.models import DigestItem, OutcomeKind, SendOutcome, Subscriber


@dataclass
class FakeChatPort:
    """A ChatPort whose outcomes per chat id are scripted; delivers by default."""

    platform: str = "telegram"
    sent: list[tuple[str, str]] = field(default_factory=list)  # (chat id, insight id)
    notices: list[tuple[str, str]] = field(default_factory=list)
    scripts: dict[str, deque[SendOutcome]] = field(default_factory=dict)
    always: dict[str, SendOutcome] = field(default_factory=dict)
    _next_id: int = 100

    def script(self, chat_id: str, *outcomes: SendOutcome) -> None:
        self.scripts.setdefault(chat_id, deque()).extend(outcomes)

    def _outcome(self, chat_id: str) -> SendOutcome:
        if chat_id in self.always:
            return self.always[chat_id]
        queue = self.scripts.get(chat_id)
        if queue:
            return queue.popleft()
        self._next_id += 1
        return SendOutcome.delivered(str(self._next_id))

    async def send_digest_item(self, subscriber: Subscriber, item: DigestItem) -> SendOutcome:
        outcome = self._outcome(subscriber.chat_id)
        if outcome.kind == OutcomeKind.DELIVERED:
            self.sent.append((subscriber.chat_id, item.insight.id))
        return outcome

    async def send_notice(self, subscriber: Subscriber, text: str) -> SendOutcome:
        self.notices.append((subscriber.chat_id, text))
        return SendOutcome.delivered("notice")
