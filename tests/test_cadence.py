"""Cadence: which local days a digest comes on, the words /time reads, and the next delivery."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from core.cadence import ScheduleChange, apply_schedule, describe, parse_time_words, schedule_change
from core.delivery.schedule import due_date, next_delivery
from core.errors import ValidationError
from core.models import Cadence, Subscriber


def sub(zone: str = "UTC", at: str = "08:00", cadence: Cadence = Cadence.DAILY, weekday: int = 0,
        **kw) -> Subscriber:
    return Subscriber(id="t:1", platform="telegram", chat_id="1", delivery_time=at, timezone=zone,
                      cadence=cadence, delivery_weekday=weekday,
                      created_at=datetime(2026, 1, 1, tzinfo=UTC), **kw)


def due_days(subscriber: Subscriber, start: datetime, days: int, *, catch_up: bool = True,
             step: timedelta = timedelta(minutes=5)) -> dict[str, datetime]:
    """Each local date that falls due in the span, with the first instant it was due."""
    found: dict[str, datetime] = {}
    when = start
    while when < start + timedelta(days=days):
        day = due_date(subscriber, when, catch_up=catch_up)
        if day is not None:
            found.setdefault(day, when)
        when += step
    return found


@pytest.mark.parametrize("words, expected", [
    (["07:30", "Europe/Berlin", "weekdays"],
     ScheduleChange("07:30", "Europe/Berlin", Cadence.WEEKDAYS, None)),
    (["weekly", "mon", "08:00"], ScheduleChange("08:00", None, Cadence.WEEKLY, 0)),
    (["Friday", "18:15"], ScheduleChange("18:15", None, Cadence.WEEKLY, 4)),  # a day means weekly
    (["daily"], ScheduleChange(None, None, Cadence.DAILY, None)),
    (["7:05", "utc"], ScheduleChange("7:05", "utc", None, None)),
    (["weekly,", "sun"], ScheduleChange(None, None, Cadence.WEEKLY, 6)),
    ([], ScheduleChange()),
])
def test_time_words_in_any_order_make_a_schedule_change(words, expected) -> None:
    assert parse_time_words(words) == expected


@pytest.mark.parametrize("words, says", [
    (["07:30", "08:00"], "one time"),
    (["weekdays", "mon"], "weekly"),
    (["daily", "weekly"], "one cadence"),
    (["mon", "tue"], "one day"),
    (["tomorrow"], "can't read 'tomorrow'"),
    (["25:00"], "can't read"),
    (["a"] * 7, "more than"),
    (["Europe/Berlin", "Asia/Tokyo"], "one time zone"),
])
def test_unreadable_time_words_are_refused_with_an_example(words, says) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_time_words(words)
    assert says in str(caught.value) and "/time" in str(caught.value)


def test_discord_options_are_checked_like_the_words() -> None:
    assert schedule_change(cadence="Weekdays") == ScheduleChange(cadence=Cadence.WEEKDAYS)
    assert schedule_change(day="wed") == ScheduleChange(cadence=Cadence.WEEKLY, weekday=2)
    with pytest.raises(ValidationError, match="daily, weekdays or weekly"):
        schedule_change(cadence="hourly")
    with pytest.raises(ValidationError, match="mon, tue"):
        schedule_change(day="someday")


def test_a_change_keeps_what_it_does_not_name() -> None:
    weekly = apply_schedule(sub(zone="Asia/Tokyo", at="06:45"), ScheduleChange(cadence=Cadence.WEEKLY,
                                                                               weekday=3))
    assert (weekly.delivery_time, weekly.timezone, weekly.cadence, weekly.delivery_weekday) == (
        "06:45", "Asia/Tokyo", Cadence.WEEKLY, 3)
    back = apply_schedule(weekly, ScheduleChange(cadence=Cadence.DAILY))
    assert (back.cadence, back.delivery_weekday, back.delivery_time) == (Cadence.DAILY, 3, "06:45")
    assert [describe(s) for s in (back, weekly, sub(cadence=Cadence.WEEKDAYS))] == [
        "daily", "every Thursday", "on weekdays"]


def test_weekdays_deliver_monday_to_friday_in_the_subscribers_zone() -> None:
    # Tokyo 07:00 is 22:00 UTC the day before: Monday's digest falls due on Sunday in UTC.
    tokyo = sub("Asia/Tokyo", at="07:00", cadence=Cadence.WEEKDAYS)
    start = datetime(2026, 11, 29, 0, 0, tzinfo=UTC)  # Sunday 09:00 in Tokyo
    days = due_days(tokyo, start, 7)
    assert [date.fromisoformat(d).strftime("%a") for d in days] == ["Mon", "Tue", "Wed", "Thu", "Fri"]
    assert days["2026-11-30"] == datetime(2026, 11, 29, 22, 0, tzinfo=UTC)


def test_weekly_delivers_on_its_local_day_only_and_catch_up_stays_within_that_day() -> None:
    la = sub("America/Los_Angeles", at="22:00", cadence=Cadence.WEEKLY, weekday=2)  # Wednesdays
    start = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
    assert due_days(la, start, 15) == {  # 22:00 PST = 06:00 UTC the next day
        "2026-11-25": datetime(2026, 11, 26, 6, 0, tzinfo=UTC),
        "2026-12-02": datetime(2026, 12, 3, 6, 0, tzinfo=UTC)}
    # Down all Wednesday evening: back at 23:50 it is still Wednesday there, so it goes out...
    assert due_date(la, datetime(2026, 11, 26, 7, 50, tzinfo=UTC), catch_up=True) == "2026-11-25"
    # ...but a missed week is not sent on Thursday, and without catch-up not long after the time.
    assert due_date(la, datetime(2026, 11, 26, 8, 5, tzinfo=UTC), catch_up=True) is None
    assert due_date(la, datetime(2026, 11, 26, 7, 50, tzinfo=UTC), catch_up=False) is None


@pytest.mark.parametrize("cadence, weekday, expected", [
    # Berlin springs forward on Sunday 29 March 2026: 02:30 that day is 03:30 CEST (01:30 UTC).
    (Cadence.WEEKLY, 6, ["2026-03-22T01:30", "2026-03-29T01:30", "2026-04-05T00:30"]),
    (Cadence.WEEKDAYS, 0, ["2026-03-23T01:30", "2026-03-24T01:30", "2026-03-25T01:30",
                           "2026-03-26T01:30", "2026-03-27T01:30", "2026-03-30T00:30",
                           "2026-03-31T00:30", "2026-04-01T00:30", "2026-04-02T00:30",
                           "2026-04-03T00:30"]),
], ids=["weekly-sunday", "weekdays"])
def test_each_cadence_keeps_its_local_time_across_spring_forward(cadence, weekday, expected) -> None:
    berlin = sub("Europe/Berlin", at="02:30", cadence=cadence, weekday=weekday)
    days = due_days(berlin, datetime(2026, 3, 21, 12, 0, tzinfo=UTC), 15, step=timedelta(minutes=10))
    assert [f"{when:%Y-%m-%dT%H:%M}" for when in days.values()] == expected


def test_weekly_at_a_repeated_fall_back_time_is_due_once_at_the_first() -> None:
    ny = sub("America/New_York", at="01:30", cadence=Cadence.WEEKLY, weekday=6)  # 1 Nov 2026, Sunday
    days = due_days(ny, datetime(2026, 10, 30, 0, 0, tzinfo=UTC), 10)
    assert days == {"2026-11-01": datetime(2026, 11, 1, 5, 30, tzinfo=UTC),  # 01:30 EDT
                    "2026-11-08": datetime(2026, 11, 8, 6, 30, tzinfo=UTC)}  # 01:30 EST


def test_next_delivery_skips_to_the_next_day_of_the_cadence() -> None:
    friday_evening = datetime(2026, 11, 27, 20, 0, tzinfo=UTC)
    weekdays = sub(cadence=Cadence.WEEKDAYS)
    assert next_delivery(weekdays, friday_evening, delivered_today=True) == datetime(
        2026, 11, 30, 8, 0, tzinfo=UTC)  # Monday
    weekly = sub("Europe/Berlin", cadence=Cadence.WEEKLY, weekday=4)  # Fridays 08:00 Berlin
    assert next_delivery(weekly, datetime(2026, 11, 27, 6, 0, tzinfo=UTC), delivered_today=False) == (
        datetime(2026, 11, 27, 7, 0, tzinfo=UTC))  # today, still to come
    when = next_delivery(weekly, friday_evening, delivered_today=True)
    assert when == datetime(2026, 12, 4, 7, 0, tzinfo=UTC) and str(when.tzinfo) == "Europe/Berlin"


def test_a_stored_subscriber_without_cadence_fields_loads_as_daily() -> None:
    from core.store.codec import from_doc, to_doc

    doc = to_doc(sub())
    for key in ("cadence", "delivery_weekday", "topics", "topic_vectors", "topic_model"):
        del doc[key]
    old = from_doc(Subscriber, doc)
    assert (old.cadence, old.delivery_weekday, old.topics) == (Cadence.DAILY, 0, ())
    assert from_doc(Subscriber, to_doc(sub(cadence=Cadence.WEEKLY, weekday=5))).cadence == Cadence.WEEKLY


def test_weekly_and_daily_subscribers_of_one_round_do_not_make_each_other_re_sort() -> None:
    import random

    from core.config import InsightSettings, Settings
    from core.digests import DigestBuilder, SentHistory
    from core.store.repos import Repos
    from tests.fakes.memory_store import FakeStore
    from tests.test_digests import NOW, TODAY, make_world

    catalog = make_world(random.Random(3))
    builder = DigestBuilder(Repos(FakeStore()), Settings(insights=InsightSettings(lookback_days=2)))
    weekly, daily = sub(cadence=Cadence.WEEKLY, weekday=5), sub()
    picks = {s.cadence: builder.choose(catalog, s, SentHistory(), NOW, TODAY) for s in (weekly, daily)}
    sorted_lists = [id(r._sorted) for r in catalog._rankings.values()]
    for s in (weekly, daily, weekly, daily):
        assert builder.choose(catalog, s, SentHistory(), NOW, TODAY) == picks[s.cadence]
    assert [id(r._sorted) for r in catalog._rankings.values()] == sorted_lists and len(sorted_lists) == 2
    week_ago = NOW - timedelta(days=7)
    assert any(i.created_at and i.created_at < NOW - timedelta(days=2) for i in picks[Cadence.WEEKLY])
    assert all(i.created_at is None or i.created_at >= week_ago for i in picks[Cadence.WEEKLY])
