"""Protocols by role: what the core needs from the outside world, and what it offers adapters."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from core.cadence import ScheduleChange
from core.feed_export import OpmlExport
from core.models import (
    Answer,
    Chapter,
    Digest,
    DigestItem,
    Episode,
    Feed,
    Insight,
    Segment,
    SendOutcome,
    Subscriber,
    Transcript,
)

if TYPE_CHECKING:
    from core.access import Reader
    from core.library.service import LibraryService

# --- time ---------------------------------------------------------------------


class Clock(Protocol):
    """Tells the time; tests inject a FakeClock."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


# --- storage --------------------------------------------------------------------


Doc = dict[str, Any]


@dataclass(frozen=True)
class Change:
    """One write in an atomic batch: `doc=None` deletes the key."""

    table: str
    key: str
    doc: Doc | None


class Store(Protocol):
    """A small durable document store: tables of JSON documents by key, plus blobs.

    Every write is durable when its coroutine returns; `apply` is atomic across tables.
    """

    async def start(self) -> None: ...
    async def close(self) -> None: ...
    async def get(self, table: str, key: str) -> Doc | None: ...
    async def all(self, table: str) -> list[Doc]: ...
    async def put(self, table: str, key: str, doc: Doc) -> None: ...
    async def delete(self, table: str, key: str) -> None: ...
    async def apply(self, changes: Sequence[Change]) -> None: ...
    async def write_blob(self, name: str, data: bytes) -> None: ...
    async def read_blob(self, name: str) -> bytes | None: ...
    async def delete_blob(self, name: str) -> None: ...


# --- network ----------------------------------------------------------------------


@dataclass(frozen=True)
class FetchResult:
    """A completed GET: status, final URL, headers and the whole (capped) body."""

    status: int
    url: str  # final URL after redirects
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    permanent_url: str | None = None  # set when every redirect hop was permanent (301/308)


@dataclass(frozen=True)
class DownloadResult:
    """A body streamed to a file."""

    path: Path
    size: int
    content_type: str
    url: str


class Fetcher(Protocol):
    """The one safe HTTP client: timeouts, redirect limit, body caps, address guard."""

    async def get(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        max_bytes: int | None = None,
    ) -> FetchResult:
        """GET a URL; 304 and 4xx/5xx come back as results, network failures raise FetchError."""
        ...

    async def download(self, url: str, dest: Path, *, max_bytes: int) -> DownloadResult:
        """Stream a body to `dest` (via a temp file renamed on success); raises FetchError."""
        ...


# --- speech-to-text and language models --------------------------------------------


ProgressCallback = Callable[[float], None]  # fraction done, 0..1


class Transcriber(Protocol):
    """Speech-to-text; runs off the event loop and a bounded number at a time."""

    name: str  # e.g. "whisper:tiny.en", recorded as the transcript source

    async def start(self) -> None: ...

    async def transcribe(
        self, audio_path: Path, on_progress: ProgressCallback | None = None
    ) -> tuple[Segment, ...]:
        """Timestamped segments of the audio; raises AudioError or TranscriptionError."""
        ...


@dataclass(frozen=True)
class LLMReply:
    """A language model's reply with what it cost."""

    text: str
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0


class LLM(Protocol):
    """A chat-completion model (litellm in production, a local fake in tests)."""

    model: str

    async def complete(
        self, messages: Sequence[Mapping[str, str]], *, max_tokens: int, json_mode: bool = False
    ) -> LLMReply:
        """One completion; raises LLMError on timeout, rate limit or provider error."""
        ...


class Embedder(Protocol):
    """Sentence embeddings: unit-length vectors whose dot product says how alike two texts are."""

    name: str  # e.g. "minilm-l6-int8", stored beside each vector so a new model is not mixed in

    def embed(self, texts: Sequence[str]) -> list[bytes]:
        """One int8-quantised unit vector per text (blocking: call it off the event loop)."""
        ...


class Extractor(Protocol):
    """Turns a transcript into insights: the LLM path or the offline extractive ranker."""

    name: str  # "offline" or "llm:<model>", recorded on each insight

    async def extract(
        self, transcript: Transcript, episode: Episode, show_title: str,
        chapters: Sequence[Chapter] = (),
    ) -> list[Insight]:
        """The episode's best insights, best first, each with a verbatim quote and times."""
        ...


# --- chat platforms: the adapter port --------------------------------------------------


class ChatPort(Protocol):
    """What a chat adapter (Telegram, Discord) offers the core for outbound messages."""

    platform: str

    async def send_digest_item(self, subscriber: Subscriber, item: DigestItem) -> SendOutcome:
        """Send one insight of a digest (item.position of item.total) to the subscriber's chat."""
        ...

    async def send_notice(self, subscriber: Subscriber, text: str) -> SendOutcome:
        """Send a short plain-text note (e.g. nothing new today)."""
        ...


# --- the service API adapters call ----------------------------------------------------


@dataclass(frozen=True)
class SearchResult:
    """A podcast found by search terms, with a short id to pick it by."""

    id: str  # short: fits in Telegram callback data
    title: str
    author: str
    feed_url: str


@dataclass(frozen=True)
class AddFeedResult:
    """Either the feed added, or search results to choose from."""

    feed: Feed | None = None
    candidates: tuple[SearchResult, ...] = ()


@dataclass(frozen=True)
class ImportResult:
    """What an OPML import added and what it could not."""

    added: tuple[Feed, ...]
    failed: tuple[tuple[str, str], ...]  # (title or URL safe to show, reason)
    already_followed: int = 0
    over_allowance: int = 0  # beyond the subscriber's feed allowance: not fetched
    out_of_time: int = 0  # not fetched (or cut off) within the import's time budget


@dataclass(frozen=True)
class MessageRef:
    """What a sent chat message was about: for replies to a digest or an answer."""

    insight_id: str
    conversation_id: str


class CastfiveApi(Protocol):
    """The one service API both chat adapters call; raises CastfiveError subclasses."""

    library: LibraryService  # search a chat's insights and transcripts, export its insights

    async def subscribe(
        self, platform: str, chat_id: str, title: str = "", *, timezone: str | None = None,
        delivery_time: str | None = None,
    ) -> Subscriber: ...
    async def unsubscribe(self, subscriber_id: str) -> None: ...
    async def get_subscriber(self, subscriber_id: str) -> Subscriber | None: ...
    async def set_schedule(self, subscriber_id: str, change: ScheduleChange) -> Subscriber: ...
    async def set_topics(self, subscriber_id: str, text: str) -> Subscriber: ...
    async def clear_topics(self, subscriber_id: str) -> Subscriber: ...
    async def pause(self, subscriber_id: str) -> Subscriber: ...
    async def resume(self, subscriber_id: str) -> Subscriber: ...
    async def next_delivery(self, subscriber_id: str) -> datetime: ...
    async def list_feeds(self, subscriber_id: str) -> list[Feed]: ...
    async def add_feed(self, subscriber_id: str, url_or_terms: str) -> AddFeedResult: ...
    async def add_search_choice(self, subscriber_id: str, choice_id: str) -> Feed: ...
    async def remove_feed(self, subscriber_id: str, feed_id: str) -> None: ...
    async def import_opml(self, subscriber_id: str, data: bytes) -> ImportResult: ...
    async def export_opml(self, subscriber_id: str, *, private_chat: bool = False) -> OpmlExport: ...
    async def today(self, subscriber_id: str, *, shared_chat: bool = False) -> Digest: ...
    async def note_today_post(self, subscriber_id: str, message_id: str) -> None: ...
    async def today_not_posted(self, subscriber_id: str) -> None: ...
    async def ask(
        self, insight_id: str, question: str, *, user_key: str, conversation_id: str | None = None,
        reader: Reader,
    ) -> Answer: ...
    async def feedback(
        self, subscriber_id: str, insight_id: str, vote: int, *, user_key: str | None = None
    ) -> None: ...
    async def recent_insights(self, subscriber_id: str, prefix: str = "") -> list[DigestItem]: ...
    async def insight_item(
        self, insight_id: str, *, reader: Reader, user_key: str | None = None
    ) -> DigestItem: ...
    async def remember_message(
        self, subscriber_id: str, message_id: str, ref: MessageRef
    ) -> None: ...
    async def lookup_message(self, subscriber_id: str, message_id: str) -> MessageRef | None: ...
    async def recipient_gone(self, subscriber_id: str, reason: str) -> None: ...
    async def migrate(self, subscriber_id: str, new_chat_id: str) -> Subscriber: ...
