"""Which local days a digest comes on (daily, weekdays, weekly on a day) and the words for it."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from core.errors import ValidationError
from core.models import Cadence, Subscriber
from core.timeutil import parse_hhmm

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_WORDS = {
    **{name: n for n, name in enumerate(DAY_NAMES)},
    **{name: n for n, name in enumerate(
        ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))},
    "tues": 1, "weds": 2, "thur": 3, "thurs": 3,
}
_CADENCE_WORDS = {"daily": Cadence.DAILY, "weekdays": Cadence.WEEKDAYS,
                  "weekday": Cadence.WEEKDAYS, "weekly": Cadence.WEEKLY}
WEEK = timedelta(days=7)
MAX_WORDS = 6
HOW = "e.g. /time 07:30 Europe/Berlin weekdays or /time weekly mon 08:00"


@dataclass(frozen=True)
class ScheduleChange:
    """What a /time command changes; None leaves that part as it is."""

    hhmm: str | None = None
    timezone: str | None = None
    cadence: Cadence | None = None
    weekday: int | None = None  # 0 Monday .. 6 Sunday

    @property
    def empty(self) -> bool:
        """True when nothing would change (the command only asks what the schedule is)."""
        return self == ScheduleChange()


def delivers_on(subscriber: Subscriber, day: date) -> bool:
    """Whether the subscriber's cadence has a digest on this local date."""
    if subscriber.cadence == Cadence.WEEKDAYS:
        return day.weekday() < 5
    if subscriber.cadence == Cadence.WEEKLY:
        return day.weekday() == subscriber.delivery_weekday
    return True


def lookback(subscriber: Subscriber, days: int) -> timedelta:
    """How far back the digest looks: a weekly one takes the best of the whole week at least."""
    window = timedelta(days=days)
    return max(window, WEEK) if subscriber.cadence == Cadence.WEEKLY else window


def schedule_change(
    hhmm: str | None = None, timezone: str | None = None, cadence: str | None = None,
    day: str | None = None,
) -> ScheduleChange:
    """A change from typed parts (Discord's options); a day alone means weekly on that day."""
    chosen = _cadence(cadence) if cadence else None
    weekday = _weekday(day) if day else None
    if weekday is not None:
        if chosen not in (None, Cadence.WEEKLY):
            raise ValidationError(f"A day goes with a weekly digest, not a {chosen} one ({HOW}).")
        chosen = Cadence.WEEKLY
    return ScheduleChange(hhmm=hhmm or None, timezone=timezone or None, cadence=chosen,
                          weekday=weekday)


def parse_time_words(words: Sequence[str]) -> ScheduleChange:
    """'07:30 Europe/Berlin weekdays' or 'weekly mon 08:00', in any order, as a ScheduleChange."""
    words = [w for word in words for w in word.replace(",", " ").split()]
    if len(words) > MAX_WORDS:
        raise ValidationError(f"That is more than I can read as a schedule ({HOW}).")
    parts: dict[str, str] = {}
    for word in words:
        part = _part_of(word)
        if part in parts:
            raise ValidationError(f"Give one {part} only, not {parts[part]!r} and {word[:40]!r} ({HOW}).")
        parts[part] = word
    return schedule_change(parts.get("time"), parts.get("time zone"), parts.get("cadence"),
                           parts.get("day"))


def apply_schedule(subscriber: Subscriber, change: ScheduleChange) -> Subscriber:
    """The subscriber with the (already checked) change applied."""
    return dataclasses.replace(
        subscriber,
        delivery_time=change.hhmm or subscriber.delivery_time,
        timezone=change.timezone or subscriber.timezone,
        cadence=change.cadence or subscriber.cadence,
        delivery_weekday=subscriber.delivery_weekday if change.weekday is None else change.weekday,
    )


def describe(subscriber: Subscriber) -> str:
    """'daily', 'on weekdays' or 'every Monday', for the replies that say when the digest comes."""
    if subscriber.cadence == Cadence.WEEKDAYS:
        return "on weekdays"
    if subscriber.cadence == Cadence.WEEKLY:
        return f"every {date(2026, 1, 5 + subscriber.delivery_weekday):%A}"  # 5 Jan 2026 is a Monday
    return "daily"


def _part_of(word: str) -> str:
    lowered = word.lower()
    if lowered in _CADENCE_WORDS:
        return "cadence"
    if lowered in _DAY_WORDS:
        return "day"
    if "/" in word or lowered == "utc":
        return "time zone"
    try:
        parse_hhmm(word)
    except ValueError:
        raise ValidationError(f"I can't read {word[:40]!r} as a time, a zone, daily/weekdays/weekly "
                              f"or a day ({HOW}).") from None
    return "time"


def _cadence(word: str) -> Cadence:
    found = _CADENCE_WORDS.get(word.strip().lower())
    if found is None:
        raise ValidationError(f"How often is daily, weekdays or weekly, not {word[:40]!r}.")
    return found


def _weekday(word: str) -> int:
    found = _DAY_WORDS.get(word.strip().lower())
    if found is None:
        raise ValidationError(f"The day is one of {', '.join(DAY_NAMES)}, not {word[:40]!r}.")
    return found
