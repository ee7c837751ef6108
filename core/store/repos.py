"""Every table the core keeps, named once, with the small records only delivery needs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from core.models import Episode, Feed, Insight, Subscriber, Turn
from core.ports import SearchResult, Store
from core.store.tables import Table


class MessageState:
    """States of one message in the delivery ledger."""

    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"


@dataclass(frozen=True)
class LedgerMessage:
    """One insight message of a digest and how its send went."""

    insight_id: str
    state: str = MessageState.QUEUED
    message_ids: tuple[str, ...] = ()
    reason: str = ""
    attempts: int = 0


@dataclass(frozen=True)
class LedgerEntry:
    """The digest chosen for (subscriber, local date) and each message's state.

    The ledger is also the sent history: ranking never repeats an insight found here.
    """

    subscriber_id: str
    local_date: str
    messages: tuple[LedgerMessage, ...]
    chosen_at: datetime
    finished: bool = False  # every message is sent or failed for good
    on_request: bool = False  # chosen by /today rather than the schedule

    @property
    def key(self) -> str:
        """Ledger key."""
        return ledger_key(self.subscriber_id, self.local_date)


def ledger_key(subscriber_id: str, local_date: str) -> str:
    """Key of a ledger entry."""
    return f"{subscriber_id}|{local_date}"


@dataclass(frozen=True)
class MessageLink:
    """A chat message we sent, and the insight conversation it belongs to."""

    subscriber_id: str
    message_id: str
    insight_id: str
    conversation_id: str

    @property
    def key(self) -> str:
        """Record key."""
        return f"{self.subscriber_id}|{self.message_id}"


@dataclass(frozen=True)
class Conversation:
    """Follow-up questions about one insight in one thread of messages."""

    id: str
    insight_id: str
    turns: tuple[Turn, ...] = ()
    updated_at: datetime | None = None


@dataclass(frozen=True)
class SearchChoice:
    """A search result offered to a subscriber, picked later by its short id."""

    subscriber_id: str
    result: SearchResult
    offered_at: datetime | None = None

    @property
    def key(self) -> str:
        """Record key."""
        return f"{self.subscriber_id}|{self.result.id}"


@dataclass
class Repos:
    """All tables over one store."""

    store: Store
    feeds: Table[Feed] = field(init=False)
    episodes: Table[Episode] = field(init=False)
    insights: Table[Insight] = field(init=False)
    subscribers: Table[Subscriber] = field(init=False)
    ledger: Table[LedgerEntry] = field(init=False)
    messages: Table[MessageLink] = field(init=False)
    conversations: Table[Conversation] = field(init=False)
    search_choices: Table[SearchChoice] = field(init=False)

    def __post_init__(self) -> None:
        s = self.store
        self.feeds = Table(s, "feeds", Feed)
        self.episodes = Table(s, "episodes", Episode)
        self.insights = Table(s, "insights", Insight)
        self.subscribers = Table(s, "subscribers", Subscriber)
        self.ledger = Table(s, "ledger", LedgerEntry, key_of=lambda e: e.key)
        self.messages = Table(s, "messages", MessageLink, key_of=lambda m: m.key)
        self.conversations = Table(s, "conversations", Conversation)
        self.search_choices = Table(s, "search_choices", SearchChoice, key_of=lambda c: c.key)
