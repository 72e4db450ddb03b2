"""Business calendar: Japanese holidays, provider closed days and [09:30, 18:30) hours."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sla_engine.calendar import BusinessCalendar

JST = ZoneInfo("Asia/Tokyo")
CAL = BusinessCalendar()


def jst(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=JST)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


ZONES = [
    UTC,
    JST,
    ZoneInfo("America/New_York"),
    ZoneInfo("Europe/London"),
    timezone(timedelta(hours=5, minutes=45)),
]
instants = st.datetimes(
    min_value=datetime(2025, 11, 1),
    max_value=datetime(2028, 2, 1),
    timezones=st.sampled_from(ZONES),
)
days = st.dates(min_value=date(2025, 1, 1), max_value=date(2030, 12, 31))


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 6, 1), True),  # ordinary Monday
        (date(2026, 6, 6), False),  # Saturday
        (date(2026, 6, 7), False),  # Sunday
        (date(2026, 9, 18), True),  # Friday before Silver Week
        (date(2026, 9, 21), False),  # 敬老の日
        (date(2026, 9, 22), False),  # 国民の休日 between two holidays
        (date(2026, 9, 23), False),  # 秋分の日
        (date(2026, 9, 24), True),
        (date(2026, 4, 29), False),  # 昭和の日 (Wednesday)
        (date(2026, 4, 30), True),
        (date(2026, 5, 1), True),
        (date(2026, 5, 4), False),
        (date(2026, 5, 5), False),
        (date(2026, 5, 6), False),  # 振替休日 for Sunday 3 May
        (date(2026, 5, 7), True),
        (date(2025, 11, 24), False),  # 振替休日 for Sunday 23 Nov 2025
        (date(2026, 11, 23), False),  # 勤労感謝の日 (Monday)
        (date(2026, 11, 24), True),
        (date(2026, 12, 28), True),
        (date(2026, 12, 29), False),  # provider closed days start
        (date(2026, 12, 31), False),
        (date(2027, 1, 1), False),
        (date(2026, 1, 2), False),  # Friday, provider closed day
        (date(2027, 1, 4), True),
        (date(2027, 1, 11), False),  # 成人の日
    ],
)
def test_is_business_day(day: date, expected: bool) -> None:
    assert CAL.is_business_day(day) is expected


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 6, 1), date(2026, 6, 2)),
        (date(2026, 6, 5), date(2026, 6, 8)),
        (date(2026, 9, 18), date(2026, 9, 24)),
        (date(2026, 4, 28), date(2026, 4, 30)),
        (date(2026, 5, 1), date(2026, 5, 7)),
        (date(2026, 12, 25), date(2026, 12, 28)),
        (date(2026, 12, 28), date(2027, 1, 4)),
        (date(2026, 12, 30), date(2027, 1, 4)),
    ],
)
def test_next_business_day(day: date, expected: date) -> None:
    assert CAL.next_business_day(day) == expected


@pytest.mark.parametrize(
    ("day", "count", "expected"),
    [
        (date(2026, 6, 1), 0, date(2026, 6, 1)),
        (date(2026, 6, 6), 0, date(2026, 6, 6)),
        (date(2026, 6, 1), 2, date(2026, 6, 3)),
        (date(2026, 6, 1), 5, date(2026, 6, 8)),
        (date(2026, 9, 18), 1, date(2026, 9, 24)),
        (date(2026, 9, 18), 5, date(2026, 9, 30)),
        (date(2026, 4, 28), 3, date(2026, 5, 7)),
        (date(2026, 12, 25), 2, date(2027, 1, 4)),
        (date(2026, 12, 28), 5, date(2027, 1, 8)),
        (date(2027, 1, 8), 1, date(2027, 1, 12)),
    ],
)
def test_add_business_days(day: date, count: int, expected: date) -> None:
    assert CAL.add_business_days(day, count) == expected


def test_add_business_days_rejects_negative_count() -> None:
    with pytest.raises(ValueError, match="negative"):
        CAL.add_business_days(date(2026, 6, 1), -1)


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        (jst(2026, 6, 2, 9, 29, 59), False),
        (jst(2026, 6, 2, 9, 30), True),
        (jst(2026, 6, 2, 18, 29, 59) + timedelta(microseconds=999_999), True),
        (jst(2026, 6, 2, 18, 30), False),
        (jst(2026, 6, 2, 3, 0), False),
        (jst(2026, 6, 6, 12, 0), False),  # Saturday
        (jst(2026, 9, 22, 12, 0), False),  # 国民の休日
        (jst(2026, 12, 29, 12, 0), False),  # year-end closure
        (utc(2026, 11, 24, 0, 30), True),  # Tue 09:30 JST
        (utc(2026, 11, 24, 0, 29, 59), False),
        (utc(2026, 11, 23, 15, 30), False),  # Tue 00:30 JST
        (utc(2026, 11, 23, 3, 0), False),  # Mon 12:00 JST, a holiday
        (utc(2026, 11, 24, 9, 29, 59), True),  # Tue 18:29:59 JST
        (utc(2026, 11, 24, 9, 30), False),  # Tue 18:30 JST
    ],
)
def test_is_open(instant: datetime, expected: bool) -> None:
    assert CAL.is_open(instant) is expected


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        (jst(2026, 6, 2, 10, 15), jst(2026, 6, 2, 10, 15)),
        (jst(2026, 6, 2, 8, 0), jst(2026, 6, 2, 9, 30)),
        (jst(2026, 6, 2, 18, 30), jst(2026, 6, 3, 9, 30)),
        (jst(2026, 6, 5, 19, 0), jst(2026, 6, 8, 9, 30)),
        (utc(2026, 11, 23, 15, 30), jst(2026, 11, 24, 9, 30)),
        (utc(2026, 11, 22, 15, 0), jst(2026, 11, 24, 9, 30)),  # Mon 00:00 JST, a holiday
        (jst(2026, 9, 18, 18, 45), jst(2026, 9, 24, 9, 30)),
        (jst(2026, 12, 28, 18, 30), jst(2027, 1, 4, 9, 30)),
    ],
)
def test_next_opening(instant: datetime, expected: datetime) -> None:
    result = CAL.next_opening(instant)
    assert result == expected
    assert result.tzinfo == JST


@pytest.mark.parametrize(
    ("received", "expected"),
    [
        (jst(2026, 6, 2, 8, 0), date(2026, 6, 2)),  # Tue 08:00 → Tue
        (jst(2026, 6, 2, 19, 0), date(2026, 6, 3)),  # Tue 19:00 → Wed
        (jst(2026, 6, 2, 9, 30), date(2026, 6, 2)),
        (jst(2026, 6, 2, 18, 29, 59), date(2026, 6, 2)),
        (jst(2026, 6, 2, 18, 30), date(2026, 6, 3)),
        (jst(2026, 6, 5, 19, 0), date(2026, 6, 8)),  # Fri 19:00 → Mon
        (jst(2026, 6, 6, 11, 0), date(2026, 6, 8)),  # Saturday
        (jst(2026, 6, 2, 0, 0), date(2026, 6, 2)),
        (utc(2026, 11, 23, 15, 30), date(2026, 11, 24)),  # Tue 00:30 JST
        (utc(2026, 11, 23, 14, 59), date(2026, 11, 24)),  # Mon 23:59 JST, a holiday
        (utc(2026, 11, 24, 9, 29), date(2026, 11, 24)),  # Tue 18:29 JST
        (utc(2026, 11, 24, 9, 30), date(2026, 11, 25)),  # Tue 18:30 JST
        (utc(2026, 11, 24, 14, 59, 59), date(2026, 11, 25)),  # Tue 23:59:59 JST
        (jst(2026, 9, 19, 10, 0), date(2026, 9, 24)),  # Silver Week
        (jst(2026, 5, 2, 10, 0), date(2026, 5, 7)),  # Golden Week
        (jst(2026, 12, 28, 18, 30), date(2027, 1, 4)),  # year-end closure
    ],
)
def test_counting_day(received: datetime, expected: date) -> None:
    assert CAL.counting_day(received) == expected


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (jst(2026, 6, 1, 10, 0), jst(2026, 6, 3, 18, 30), timedelta(hours=26, minutes=30)),
        (jst(2026, 6, 1, 10, 0), jst(2026, 6, 1, 10, 0), timedelta()),
        (jst(2026, 6, 1, 12, 0), jst(2026, 6, 1, 10, 0), timedelta()),
        (jst(2026, 6, 5, 17, 0), jst(2026, 6, 8, 10, 30), timedelta(hours=2, minutes=30)),
        (jst(2026, 6, 2, 6, 0), jst(2026, 6, 2, 23, 0), timedelta(hours=9)),
        (jst(2026, 9, 18, 18, 0), jst(2026, 9, 24, 10, 0), timedelta(hours=1)),
        (jst(2026, 12, 28, 18, 0), jst(2027, 1, 4, 9, 45), timedelta(minutes=45)),
        (utc(2026, 11, 23, 15, 30), utc(2026, 11, 24, 1, 30), timedelta(hours=1)),
    ],
)
def test_business_time_between(start: datetime, end: datetime, expected: timedelta) -> None:
    assert CAL.business_time_between(start, end) == expected


@pytest.mark.parametrize(
    ("start", "amount", "expected"),
    [
        (jst(2026, 6, 1, 10, 0), timedelta(), jst(2026, 6, 1, 10, 0)),
        (jst(2026, 6, 1, 10, 0), timedelta(hours=1), jst(2026, 6, 1, 11, 0)),
        (jst(2026, 6, 1, 10, 0), timedelta(hours=8, minutes=30), jst(2026, 6, 1, 18, 30)),
        (jst(2026, 6, 1, 10, 0), timedelta(hours=8, minutes=31), jst(2026, 6, 2, 9, 31)),
        (jst(2026, 6, 6, 10, 0), timedelta(hours=9), jst(2026, 6, 8, 18, 30)),
        (jst(2026, 9, 18, 18, 0), timedelta(hours=1), jst(2026, 9, 24, 10, 0)),
        (jst(2026, 12, 28, 20, 0), timedelta(seconds=1), jst(2027, 1, 4, 9, 30, 1)),
        (utc(2026, 11, 23, 15, 30), timedelta(minutes=30), jst(2026, 11, 24, 10, 0)),
    ],
)
def test_instant_after_business_time(
    start: datetime, amount: timedelta, expected: datetime
) -> None:
    result = CAL.instant_after_business_time(start, amount)
    assert result == expected
    assert result.tzinfo == JST


def test_instant_after_business_time_rejects_negative_amount() -> None:
    with pytest.raises(ValueError, match="negative"):
        CAL.instant_after_business_time(jst(2026, 6, 1, 10), timedelta(seconds=-1))


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        (jst(2026, 6, 2, 3, 0), jst(2026, 6, 2, 9, 30)),
        (jst(2026, 6, 2, 12, 0), jst(2026, 6, 2, 12, 0)),
        (jst(2026, 6, 2, 18, 30), jst(2026, 6, 3, 9, 30)),
        (jst(2026, 9, 20, 12, 0), jst(2026, 9, 24, 9, 30)),
    ],
)
def test_defer_into_business_hours(instant: datetime, expected: datetime) -> None:
    assert CAL.defer_into_business_hours(instant) == expected


@pytest.mark.parametrize(
    "call",
    [
        lambda: CAL.is_open(datetime(2026, 6, 2, 10, 0)),
        lambda: CAL.next_opening(datetime(2026, 6, 2, 10, 0)),
        lambda: CAL.counting_day(datetime(2026, 6, 2, 10, 0)),
        lambda: CAL.business_time_between(datetime(2026, 6, 2, 10, 0), jst(2026, 6, 3)),
        lambda: CAL.business_time_between(jst(2026, 6, 2), datetime(2026, 6, 3, 10, 0)),
        lambda: CAL.instant_after_business_time(datetime(2026, 6, 2), timedelta(hours=1)),
        lambda: CAL.defer_into_business_hours(datetime(2026, 6, 2, 10, 0)),
    ],
)
def test_naive_instants_are_rejected(call: object) -> None:
    assert callable(call)
    with pytest.raises(ValueError, match="timezone-aware"):
        call()


def test_default_calendar_values() -> None:
    assert CAL.timezone == JST
    assert (CAL.opening, CAL.closing) == (time(9, 30), time(18, 30))
    assert CAL.weekdays == frozenset({0, 1, 2, 3, 4})
    assert CAL.holiday_country == "JP"
    assert CAL.closed_days == {(12, 29), (12, 30), (12, 31), (1, 1), (1, 2), (1, 3)}
    assert CAL.extra_closed_dates == frozenset()


def test_calendar_is_a_hashable_value() -> None:
    assert BusinessCalendar.from_config() == CAL
    assert len({CAL, BusinessCalendar(), BusinessCalendar.from_config(opening="10:00")}) == 2


def test_from_config_builds_a_custom_calendar() -> None:
    cal = BusinessCalendar.from_config(
        timezone="Europe/London",
        opening="08:00",
        closing="17:00",
        weekdays=["Mon", "tue", "WED", "thu", "fri", "sat"],
        holiday_country="",
        closed_days=["08-15"],
        extra_closed_dates=["2026-06-03"],
    )
    assert cal.timezone == ZoneInfo("Europe/London")
    assert (cal.opening, cal.closing) == (time(8), time(17))
    assert cal.weekdays == frozenset(range(6))
    assert cal.holiday_country is None
    assert cal.closed_days == {(8, 15)}
    assert cal.extra_closed_dates == {date(2026, 6, 3)}
    assert cal.is_business_day(date(2026, 11, 23))  # JP holiday ignored
    assert cal.is_business_day(date(2026, 6, 6))  # Saturday works
    assert not cal.is_business_day(date(2026, 6, 3))
    assert not cal.is_business_day(date(2026, 8, 15))  # a working Saturday, but closed
    assert cal.is_business_day(date(2027, 8, 16))  # Monday after it
    # 07:59 UTC on a June day is 08:59 in London (BST), inside hours.
    assert cal.is_open(utc(2026, 6, 2, 7, 59))
    assert not cal.is_open(utc(2026, 6, 2, 16, 0))


def test_extra_closed_dates_close_the_day() -> None:
    cal = BusinessCalendar(extra_closed_dates=frozenset({date(2026, 6, 3)}))
    assert cal.next_business_day(date(2026, 6, 2)) == date(2026, 6, 4)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"opening": "9:30"}, "HH:MM"),
        ({"closing": "25:00"}, "not a time of day"),
        ({"opening": "18:30", "closing": "09:30"}, "before closing"),
        ({"opening": "09:30", "closing": "09:30"}, "before closing"),
        ({"weekdays": ["mon", "mun"]}, "unknown weekday"),
        ({"weekdays": []}, "at least one business weekday"),
        ({"weekdays": "mon"}, "list of strings"),
        ({"closed_days": ["13-01"]}, "not a day of the year"),
        ({"closed_days": ["02-30"]}, "not a day of the year"),
        ({"closed_days": ["12/29"]}, "MM-DD"),
        ({"extra_closed_dates": ["2026-02-30"]}, "not a calendar date"),
        ({"extra_closed_dates": ["2026-6-3"]}, "YYYY-MM-DD"),
        ({"holiday_country": "XX"}, "unknown holiday country"),
    ],
)
def test_from_config_rejects_bad_values(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BusinessCalendar.from_config(**kwargs)  # type: ignore[arg-type]


def test_leap_day_is_accepted_as_recurring_closed_day() -> None:
    cal = BusinessCalendar.from_config(closed_days=["02-29"])
    assert not cal.is_business_day(date(2028, 2, 29))
    assert cal.is_business_day(date(2028, 2, 28))


def test_calendar_without_any_business_day_fails_clearly() -> None:
    every_day = frozenset(
        (d.month, d.day) for d in (date(2000, 1, 1) + timedelta(n) for n in range(366))
    )
    cal = BusinessCalendar(closed_days=every_day)
    with pytest.raises(ValueError, match="no business day"):
        cal.next_business_day(date(2026, 6, 1))


@given(days, st.integers(min_value=1, max_value=30))
def test_add_business_days_lands_on_business_days(day: date, count: int) -> None:
    result = CAL.add_business_days(day, count)
    assert CAL.is_business_day(result)
    between = [day + timedelta(n) for n in range(1, (result - day).days + 1)]
    assert sum(CAL.is_business_day(d) for d in between) == count


@given(instants)
def test_next_opening_is_open_and_not_earlier(instant: datetime) -> None:
    opening = CAL.next_opening(instant)
    assert opening >= instant
    assert CAL.is_open(opening)
    assert CAL.business_time_between(instant, opening) == timedelta()
    if CAL.is_open(instant):
        assert opening == instant
    else:
        assert opening.timetz() == time(9, 30, tzinfo=JST)


@given(instants, instants, instants)
def test_business_time_is_additive(a: datetime, b: datetime, c: datetime) -> None:
    a, b, c = sorted((a, b, c))
    assert CAL.business_time_between(a, c) == CAL.business_time_between(
        a, b
    ) + CAL.business_time_between(b, c)


@given(instants, st.timedeltas(min_value=timedelta(), max_value=timedelta(days=20)))
def test_instant_after_business_time_inverts_business_time_between(
    start: datetime, amount: timedelta
) -> None:
    end = CAL.instant_after_business_time(start, amount)
    assert end >= start
    assert CAL.business_time_between(start, end) == amount
    if amount:
        # The first such instant: one microsecond earlier the amount is not yet reached.
        assert CAL.business_time_between(start, end - timedelta(microseconds=1)) < amount


@given(instants, st.sampled_from(ZONES))
def test_results_do_not_depend_on_the_callers_zone(instant: datetime, zone: object) -> None:
    assert isinstance(zone, (ZoneInfo, timezone))
    moved = instant.astimezone(zone)
    assert CAL.counting_day(moved) == CAL.counting_day(instant)
    assert CAL.is_open(moved) == CAL.is_open(instant)
    assert CAL.next_opening(moved) == CAL.next_opening(instant)
    assert CAL.defer_into_business_hours(moved) == CAL.defer_into_business_hours(instant)
