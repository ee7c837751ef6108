"""Pure delivery-time arithmetic: when a subscriber's digest is due, in their own zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

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

    Due once the local delivery time has passed today. Not due for a subscriber created after
    today's time (their first digest comes tomorrow), nor, without catch-up, long after the time.
    """
    if not subscriber.active or subscriber.paused:
        return None
    local_day = local_day_of(now, subscriber.timezone)
    due = due_instant(local_day, subscriber.delivery_time, subscriber.timezone)
    if now < due:
        return None
    if subscriber.created_at is not None and subscriber.created_at > due:
        return None
    if not catch_up and now - due > grace:
        return None
    return local_day.isoformat()


def next_delivery(subscriber: Subscriber, now: datetime, delivered_today: bool) -> datetime:
    """When the next digest goes out, in the subscriber's zone."""
    zone = parse_zone(subscriber.timezone)
    local_day = local_day_of(now, subscriber.timezone)
    due = due_instant(local_day, subscriber.delivery_time, subscriber.timezone)
    created_late = subscriber.created_at is not None and subscriber.created_at > due
    if now >= due or delivered_today or created_late:
        due = due_instant(local_day + timedelta(days=1), subscriber.delivery_time, subscriber.timezone)
    return due.astimezone(zone)
