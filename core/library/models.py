"""What the library hands adapters: search hits and pages, export files."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.models import DigestItem

PAGE_SIZE = 10


@dataclass(frozen=True)
class SearchHit:
    """One match: an insight the chat was sent, or a transcript passage of a show it follows."""

    source: str  # "insight" or "transcript"
    show_title: str
    episode_title: str
    start: float  # seconds into the episode
    text: str  # the insight, or the passage's best sentences
    quote: str  # the insight's evidence ("" for a passage)
    moment_url: str | None  # audio URL with #t=SECONDS
    page_url: str | None
    insight_id: str | None  # what to /ask about (None when the episode has no insight left)
    score: float


@dataclass(frozen=True)
class SearchPage:
    """One page of ranked hits for a query; `search_id` names the query for paging buttons."""

    query: str
    search_id: str
    hits: tuple[SearchHit, ...]
    page: int  # 0-based
    pages: int
    total: int  # hits over all pages (at most MAX_HITS)
    hint: str = ""  # set when nothing matched: what to try instead

    @property
    def first_position(self) -> int:
        """The 1-based rank of this page's first hit."""
        return self.page * PAGE_SIZE + 1


@dataclass(frozen=True)
class SavedQuery:
    """A query a chat ran, kept so its paging buttons and autocomplete can name it briefly."""

    id: str
    query: str
    at: datetime | None = None


@dataclass(frozen=True)
class SavedSearches:
    """A chat's most recent queries, newest first."""

    subscriber_id: str
    queries: tuple[SavedQuery, ...] = ()


@dataclass(frozen=True)
class LibraryEntry:
    """An insight sent to the chat, with where it came from and the date it was sent."""

    item: DigestItem
    sent_on: str  # ISO local date


@dataclass(frozen=True)
class ExportFile:
    """One file of an export (an export over the upload limit comes in several)."""

    filename: str
    data: bytes
    media_type: str
