"""Small pure helpers for times typed by users and shown to them."""

from __future__ import annotations

import functools
import re
import zoneinfo
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_HHMM = re.compile(r"^(\d{1,2})[:.h](\d{2})$")


def parse_hhmm(text: str) -> time:
    """'7:30' or '07:30' -> time(7, 30); raises ValueError with a readable reason."""
    match = _HHMM.match(text.strip())
    if not match:
        raise ValueError(f"must be a time like 08:00, not {text!r}")
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        raise ValueError(f"must be a time between 00:00 and 23:59, not {text!r}")
    return time(hour, minute)


def parse_zone(name: str) -> ZoneInfo:
    """An IANA zone such as 'Europe/Berlin'; raises ValueError for unknown names."""
    cleaned = name.strip()
    if not cleaned or len(cleaned) > 64 or ".." in cleaned or cleaned.startswith("/"):
        raise ValueError(f"must be a time zone like Europe/Berlin, not {name!r}")
    try:
        return ZoneInfo(cleaned)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"must be a time zone like Europe/Berlin, not {name!r}") from None


def format_timestamp(seconds: float) -> str:
    """Seconds -> 'mm:ss', or 'h:mm:ss' past the hour."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def utcnow() -> datetime:
    """The current time, aware UTC."""
    return datetime.now(UTC)


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """The current time, aware UTC."""
        return utcnow()


@functools.cache
def zone_names() -> dict[str, str]:
    """Real Area/Location zone names (and UTC) by their lower-case form: what /time accepts.

    Read once: the tz database's listing walks the disk."""
    names = {z for z in zoneinfo.available_timezones()
             if "/" in z and not z.startswith(("Etc/", "posix/", "right/"))}
    return {z.lower(): z for z in names | {"UTC"}}
