"""Frozen dataclasses passed between layers; no I/O and no framework types here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

# --- feeds and episodes -----------------------------------------------------


class FeedStatus(StrEnum):
    """Whether a feed is still polled."""

    ACTIVE = "active"
    GONE = "gone"  # answered 410: never polled again
    IDLE = "idle"  # a user feed nobody follows: kept, not polled until followed again


@dataclass(frozen=True)
class Feed:
    """A podcast feed we follow, with the state its polling needs."""

    id: str  # stable: derived from the URL it was first added with
    url: str  # current URL (updated on 301 after the address check)
    title: str = ""
    site_url: str = ""
    image_url: str = ""
    status: FeedStatus = FeedStatus.ACTIVE
    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None  # sha256 of the last parsed body: unchanged body costs no parsing
    added_at: datetime | None = None
    last_polled_at: datetime | None = None
    next_poll_at: datetime | None = None
    failures: int = 0  # consecutive failures, drives the exponential backoff
    last_error: str = ""
    origin: str = "user"  # "operator" (config catalogue: may be a local path) or "user" (chat/CLI)
    private: bool = False  # URL carries credentials or tokens: never logged

    def poll_is_due(self, now: datetime) -> bool:
        """Whether the feed is active and its next poll has come."""
        return self.status == FeedStatus.ACTIVE and (self.next_poll_at is None or self.next_poll_at <= now)


@dataclass(frozen=True)
class TranscriptLink:
    """One `podcast:transcript` offer of an episode."""

    url: str
    mime_type: str
    language: str | None = None
    rel: str | None = None


@dataclass(frozen=True)
class Person:
    """A `podcast:person` credit."""

    name: str
    role: str = "host"
    group: str = "cast"
    href: str | None = None
    img: str | None = None


@dataclass(frozen=True)
class Soundbite:
    """A `podcast:soundbite`: a moment the publisher highlights."""

    start: float
    duration: float
    title: str = ""


@dataclass(frozen=True)
class ParsedEpisode:
    """An episode as read from a feed, before it has any processing state."""

    guid: str | None
    title: str
    published_at: datetime | None
    duration_s: float | None
    audio_url: str | None
    audio_type: str | None
    audio_length: int | None
    page_url: str | None
    description: str
    transcripts: tuple[TranscriptLink, ...] = ()
    chapters_url: str | None = None
    persons: tuple[Person, ...] = ()
    soundbites: tuple[Soundbite, ...] = ()
    chapters: tuple[Chapter, ...] = ()  # inline (Podlove) chapters, when no chapters_url


@dataclass(frozen=True)
class ParsedFeed:
    """What a feed document says: the show and its episodes, newest first."""

    title: str
    site_url: str
    image_url: str
    description: str
    episodes: tuple[ParsedEpisode, ...]
    new_feed_url: str | None = None  # itunes:new-feed-url
    warnings: tuple[str, ...] = ()  # bozo reasons, kept for the log


class EpisodeState(StrEnum):
    """Where an episode is in the pipeline; every state is persisted."""

    NEW = "new"
    AUDIO_DOWNLOADED = "audio_downloaded"
    TRANSCRIBED = "transcribed"  # transcript stored (publisher or speech-to-text)
    DONE = "done"  # insights extracted
    SKIPPED = "skipped"  # back catalogue (older than the lookback): processed only when queued
    FAILED = "failed"  # gave up after the retry limit; last_error says why


@dataclass(frozen=True)
class Episode:
    """An episode we know of, with its pipeline state."""

    id: str  # stable, short: derived from feed id + identity key
    feed_id: str
    identity: str  # guid, or enclosure URL without query, or title+date
    title: str
    published_at: datetime | None
    duration_s: float | None
    audio_url: str | None
    audio_type: str | None
    page_url: str | None
    description: str
    transcripts: tuple[TranscriptLink, ...] = ()
    chapters_url: str | None = None
    persons: tuple[Person, ...] = ()
    soundbites: tuple[Soundbite, ...] = ()
    chapters: tuple[Chapter, ...] = ()  # inline (Podlove) chapters, when no chapters_url
    state: EpisodeState = EpisodeState.NEW
    attempts: int = 0
    last_error: str = ""
    next_attempt_at: datetime | None = None
    discovered_at: datetime | None = None
    transcript_source: str = ""  # e.g. "publisher:text/vtt" or "whisper:tiny.en"


# --- transcripts --------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    """A stretch of speech with its times in seconds from the episode start."""

    start: float
    end: float
    text: str
    speaker: str | None = None


@dataclass(frozen=True)
class Transcript:
    """A timestamped transcript of one episode."""

    episode_id: str
    segments: tuple[Segment, ...]
    source: str  # "publisher:<mime>" or "whisper:<model>"
    language: str | None = None

    @property
    def text(self) -> str:
        """All segment text joined by spaces."""
        return " ".join(s.text for s in self.segments)


@dataclass(frozen=True)
class Chapter:
    """A chapter mark; `toc=False` chapters are hidden from display but keep timing."""

    start: float
    title: str
    end: float | None = None
    url: str | None = None
    toc: bool = True


# --- insights -----------------------------------------------------------------


class InsightKind(StrEnum):
    """What sort of idea an insight is; feedback shifts weights per kind."""

    CLAIM = "claim"
    DATA = "data"
    PREDICTION = "prediction"
    ADVICE = "advice"
    CONTRARIAN = "contrarian"


@dataclass(frozen=True)
class Insight:
    """A short, stand-alone idea from an episode with its verbatim evidence."""

    id: str  # short and stable (derived from episode id + quote position)
    episode_id: str
    feed_id: str
    text: str  # the distilled claim: one to three sentences
    quote: str  # verbatim from the transcript
    start: float
    end: float
    kind: InsightKind = InsightKind.CLAIM
    score: float = 0.0  # 0..1, comparable across extractors
    novelty: float = 0.0
    specificity: float = 0.0
    evidence: float = 0.0
    speaker: str | None = None
    chapter: str | None = None
    extractor: str = "offline"  # "offline" or "llm:<model>"
    created_at: datetime | None = None
    # The text's sentence embedding (int8, base64) and its model, computed once at extraction.
    vector: str = ""
    vector_model: str = ""


# --- subscribers and digests ----------------------------------------------------


class Cadence(StrEnum):
    """On which local days a digest comes (core/cadence.py)."""

    DAILY = "daily"
    WEEKDAYS = "weekdays"  # Monday to Friday
    WEEKLY = "weekly"  # on `delivery_weekday`: the best five of the week


@dataclass(frozen=True)
class Subscriber:
    """A chat that receives a daily digest: a Telegram chat or a Discord channel or DM."""

    id: str  # "<platform>:<chat id>", e.g. "telegram:-100123" or "discord:9876"
    platform: str  # "telegram", "discord" or "cli"
    chat_id: str
    title: str = ""
    feed_ids: tuple[str, ...] | None = None  # None: the operator's whole catalogue
    delivery_time: str = "08:00"  # local HH:MM
    timezone: str = "UTC"  # IANA name
    paused: bool = False
    active: bool = True  # False after the chat blocked us or vanished
    consecutive_gone: int = 0  # "recipient gone" outcomes in a row; 3 deactivates
    show_weights: dict[str, float] = field(default_factory=dict)  # feed id -> weight shift
    kind_weights: dict[str, float] = field(default_factory=dict)  # insight kind -> weight shift
    created_at: datetime | None = None
    last_digest_date: str | None = None  # ISO local date of the last digest chosen
    cadence: Cadence = Cadence.DAILY
    delivery_weekday: int = 0  # weekly: 0 Monday .. 6 Sunday, local
    topics: tuple[str, ...] = ()  # the chat's interests, as typed (core/topics.py)
    topic_vectors: tuple[str, ...] = ()  # each topic's embedding (int8, base64), when computed
    topic_model: str = ""


@dataclass(frozen=True)
class DigestItem:
    """One insight as a subscriber sees it, with everything needed to render it."""

    insight: Insight
    show_title: str
    episode_title: str
    moment_url: str | None  # audio URL with #t=SECONDS
    page_url: str | None
    position: int  # 1-based
    total: int


@dataclass(frozen=True)
class Digest:
    """A subscriber's insights for one local date."""

    subscriber_id: str
    local_date: str  # ISO date in the subscriber's zone
    items: tuple[DigestItem, ...]
    follows_nothing: bool = False  # empty because the subscriber follows no show: it stays empty


@dataclass(frozen=True)
class Citation:
    """A transcript passage an answer rests on."""

    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Answer:
    """A reply to a follow-up question about an insight."""

    insight_id: str
    question: str
    text: str
    citations: tuple[Citation, ...] = ()
    grounded: bool = True  # False: the episode does not cover the question
    show_title: str = ""
    episode_title: str = ""


@dataclass(frozen=True)
class Turn:
    """One question and its answer in a follow-up conversation."""

    question: str
    answer: str


# --- delivery outcomes (the adapter port reports these) --------------------------


class OutcomeKind(StrEnum):
    """How a send to a chat platform ended."""

    DELIVERED = "delivered"
    GONE = "gone"  # blocked, kicked, channel deleted
    RATE_LIMITED = "rate_limited"
    MOVED = "moved"  # Telegram group migrated to a supergroup
    TRANSIENT = "transient"


@dataclass(frozen=True)
class SendOutcome:
    """What an adapter reports after one send."""

    kind: OutcomeKind
    message_ids: tuple[str, ...] = ()
    retry_after: float | None = None
    new_chat_id: str | None = None
    reason: str = ""

    @classmethod
    def delivered(cls, *message_ids: str) -> SendOutcome:
        """A successful send with the platform's message ids."""
        return cls(OutcomeKind.DELIVERED, message_ids=tuple(message_ids))
