"""When to poll a feed next: the regular interval, exponential backoff and Retry-After."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from core.config import FeedSettings

MIN_RETRY_AFTER = timedelta(minutes=1)  # a Retry-After of 0 must not turn polling into a loop


def poll_interval(settings: FeedSettings) -> timedelta:
    """The pause between two polls of a healthy feed."""
    return timedelta(minutes=settings.poll_interval_minutes)


def max_backoff(settings: FeedSettings) -> timedelta:
    """The longest pause after failures (also caps a server's Retry-After)."""
    return max(timedelta(hours=settings.max_backoff_hours), poll_interval(settings))


def backoff_delay(settings: FeedSettings, failures: int) -> timedelta:
    """interval * 2^failures, capped at max_backoff_hours."""
    exponent = min(max(failures, 0), 30)  # 2^30 intervals is past any cap; avoids huge numbers
    return min(poll_interval(settings) * (2**exponent), max_backoff(settings))


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A response header by case-insensitive name."""
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """Retry-After as a delay: delta-seconds or an HTTP date; None when absent or unreadable."""
    if value is None:
        return None
    text = value.strip()
    if not text or len(text) > 64:
        return None
    if text.isdigit():
        return timedelta(seconds=min(int(text), 10**8))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(when - now, timedelta(0))


def retry_after_delay(settings: FeedSettings, delay: timedelta) -> timedelta:
    """A server's Retry-After, kept between one minute and the backoff cap."""
    return min(max(delay, MIN_RETRY_AFTER), max_backoff(settings))
