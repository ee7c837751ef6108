"""CastfiveError and its subclasses: every message is fit to show a user."""

from __future__ import annotations

from datetime import datetime


class CastfiveError(Exception):
    """Base of every error the core raises on purpose; str() is a user-facing sentence."""


class ConfigError(CastfiveError):
    """The configuration file or environment is wrong; names the key and the file."""


class ValidationError(CastfiveError):
    """A value typed by a user is not acceptable (time, zone, id, question)."""


class NotFoundError(CastfiveError):
    """Something named by id (insight, feed, episode, subscriber) does not exist."""


class PermissionDeniedError(CastfiveError):
    """The user may not do this here (admin-only command, feature switched off)."""


class LimitReachedError(CastfiveError):
    """A configured cap is reached (feeds per subscriber, daily LLM budget)."""


class RateLimitedError(CastfiveError):
    """Too many requests from one user; `retry_at` says when they may try again."""

    def __init__(self, message: str, retry_at: datetime) -> None:
        super().__init__(message)
        self.retry_at = retry_at


# --- outside input: network, feeds, transcripts, audio, LLM -----------------------


class FetchError(CastfiveError):
    """A request to the outside failed; the message never contains a private URL."""


class InvalidUrlError(FetchError):
    """Not an http(s) URL, or a local path where only URLs are allowed."""


class BlockedAddressError(FetchError):
    """The URL resolves to a non-public address (loopback, private, metadata...)."""


class ResponseTooLargeError(FetchError):
    """The body passed its cap (counted after decompression)."""


class FetchTimeoutError(FetchError):
    """The server was too slow to connect or to send the whole body."""


class HttpStatusError(FetchError):
    """The server answered with a status we treat as failure."""

    def __init__(self, message: str, status: int, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class FeedParseError(CastfiveError):
    """The document is not a podcast feed we can read."""


class TranscriptParseError(CastfiveError):
    """A publisher transcript could not be read in its declared format."""


class AudioError(CastfiveError):
    """The enclosure is not usable audio (empty, truncated, HTML, too long)."""


class TranscriptionError(CastfiveError):
    """Speech-to-text failed on this episode."""


class LLMError(CastfiveError):
    """The language model failed, timed out, or replied with something unusable."""


class BudgetExhaustedError(LLMError):
    """Today's LLM token or cost budget is spent."""


class StoreError(CastfiveError):
    """The store could not read or write durably."""


class DiskFullError(StoreError):
    """The data folder has no space left; every write fails until some is freed."""

    def __init__(self, message: str, free_mb: int = 0) -> None:
        super().__init__(message)
        self.free_mb = free_mb
