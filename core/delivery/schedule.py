"""Pure delivery-time arithmetic: when a subscriber's digest is due, in their own zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from core.cadence import delivers_on
from core.models import Subscriber
from core.timeutil import parse_hhmm, parse_zone


def due_instant(local_day: date, hhmm: str, zone_name: str) -> datetime:
    """The UTC instant of `hhmm` on `local_day` in the zone.

    A time skipped by a DST jump (02:30 on spring-forward) maps to the same wall-clock offset as
    before the jump, i.e. an hour later in new local time; a repeated time (fall-back) takes its
    first occurrence. Either way the ledger, keyed by local date, delivers exactly once.
    """
    zone = parse_zone(zone_name)
    local = datetime.combine(local_day, parse_hhmm(hhmm), tzinfo=zone)
    return local.astimezone(UTC)


def local_day_of(now: datetime, zone_name: str) -> date:
    """The subscriber's local calendar date at `now`."""
    return now.astimezone(parse_zone(zone_name)).date()


def due_date(
    subscriber: Subscriber, now: datetime, *, catch_up: bool, grace: timedelta = timedelta(minutes=20)
) -> str | None:
    """The local ISO date whose digest is due at `now`, or None.

    Due once the local delivery time has passed today, on a day of the subscriber's cadence. Not
    due for a subscriber created after today's time (their first digest comes at the next one),
    nor, without catch-up, long after the time. Catch-up is within the day, for every cadence.
    """
    if not subscriber.active or subscriber.paused:
        return None
    local_day = local_day_of(now, subscriber.timezone)
    if not delivers_on(subscriber, local_day):
        return None
    due = due_instant(local_day, subscriber.delivery_time, subscriber.timezone)
    if now < due:
        return None
    if subscriber.created_at is not None and subscriber.created_at > due:
        return None
    if not catch_up and now - due > grace:
        return None
    return local_day.isoformat()


def next_delivery(subscriber: Subscriber, now: datetime, delivered_today: bool) -> datetime:
    """When the next digest goes out, in the subscriber's zone (on a day of their cadence)."""
    zone = parse_zone(subscriber.timezone)
    today = local_day_of(now, subscriber.timezone)
    for ahead in range(8):  # every cadence delivers at least once a week
        day = today + timedelta(days=ahead)
        if not delivers_on(subscriber, day):
            continue
        due = due_instant(day, subscriber.delivery_time, subscriber.timezone)
        created_late = subscriber.created_at is not None and subscriber.created_at > due
        if ahead == 0 and (now >= due or delivered_today or created_late):
            continue
        return due.astimezone(zone)
    raise AssertionError(f"no delivery day within a week for {subscriber.cadence}")
