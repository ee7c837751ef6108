"""Delivery times in the subscriber's own zone: both sides of UTC, DST switches, late sign-ups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.delivery.schedule import due_date, due_instant, next_delivery
from core.models import Subscriber


def sub(zone: str, at: str = "08:00", **kw) -> Subscriber:
    return Subscriber(id="t:1", platform="telegram", chat_id="1", delivery_time=at, timezone=zone,
                      created_at=datetime(2026, 1, 1, tzinfo=UTC), **kw)


def test_a_zone_east_of_utc_is_due_before_utc_morning():
    tokyo = sub("Asia/Tokyo")  # 08:00 JST = 23:00 UTC the day before
    assert due_date(tokyo, datetime(2026, 11, 27, 22, 59, tzinfo=UTC), catch_up=True) is None
    assert due_date(tokyo, datetime(2026, 11, 27, 23, 0, tzinfo=UTC), catch_up=True) == "2026-11-28"


def test_a_zone_west_of_utc_is_due_after_utc_morning():
    la = sub("America/Los_Angeles")  # 08:00 PST = 16:00 UTC
    assert due_date(la, datetime(2026, 11, 28, 15, 59, tzinfo=UTC), catch_up=True) is None
    assert due_date(la, datetime(2026, 11, 28, 16, 0, tzinfo=UTC), catch_up=True) == "2026-11-28"


def test_a_time_skipped_by_spring_forward_is_delivered_once_that_day():
    berlin = sub("Europe/Berlin", at="02:30")  # 2026-03-29 02:00 -> 03:00 local
    instant = due_instant(datetime(2026, 3, 29).date(), "02:30", "Europe/Berlin")
    assert instant == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # 03:30 CEST
    days = {
        due_date(berlin, datetime(2026, 3, 28, 20, tzinfo=UTC) + timedelta(minutes=m), catch_up=True)
        for m in range(0, 24 * 60, 1)
    }
    assert "2026-03-29" in days


def test_a_repeated_time_at_fall_back_is_due_at_its_first_occurrence():
    ny = sub("America/New_York", at="01:30")  # 2026-11-01 01:30 happens twice
    first = due_instant(datetime(2026, 11, 1).date(), "01:30", "America/New_York")
    assert first == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # EDT occurrence
    assert due_date(ny, first - timedelta(seconds=1), catch_up=True) is None
    assert due_date(ny, first, catch_up=True) == "2026-11-01"


def test_without_catch_up_a_long_missed_time_is_skipped_for_the_day():
    utc = sub("UTC")
    late = datetime(2026, 11, 28, 13, 0, tzinfo=UTC)
    assert due_date(utc, late, catch_up=False) is None
    assert due_date(utc, late, catch_up=True) == "2026-11-28"


def test_a_paused_or_inactive_subscriber_is_never_due():
    now = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
    assert due_date(sub("UTC", paused=True), now, catch_up=True) is None
    assert due_date(sub("UTC", active=False), now, catch_up=True) is None


def test_a_subscriber_added_after_their_time_today_starts_tomorrow():
    now = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
    late = Subscriber(id="t:2", platform="telegram", chat_id="2", delivery_time="08:00", timezone="UTC",
                      created_at=datetime(2026, 11, 28, 8, 30, tzinfo=UTC))
    assert due_date(late, now, catch_up=True) is None
    assert next_delivery(late, now, delivered_today=False) == datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
    assert due_date(late, datetime(2026, 11, 29, 8, 0, tzinfo=UTC), catch_up=True) == "2026-11-29"


def test_next_delivery_is_shown_in_the_subscribers_zone():
    tokyo = sub("Asia/Tokyo", at="07:15")
    when = next_delivery(tokyo, datetime(2026, 11, 28, 0, 0, tzinfo=UTC), delivered_today=False)
    assert (when.hour, when.minute, str(when.tzinfo)) == (7, 15, "Asia/Tokyo")
    assert when.date().isoformat() == "2026-11-29"
