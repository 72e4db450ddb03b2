from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from sla_engine.intervals import Interval, IntervalSet
from sla_engine.recurrence import RecurringWindow, expand, normalise_rrule, parse_rrule

TOKYO = ZoneInfo("Asia/Tokyo")
NEW_YORK = ZoneInfo("America/New_York")
# 2026-01-04 is a Sunday.
SUNDAY_0200 = datetime(2026, 1, 4, 2, 0, tzinfo=TOKYO)
SUNDAYS = RecurringWindow(SUNDAY_0200, timedelta(hours=2), "FREQ=WEEKLY;BYDAY=SU")


def tokyo(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=TOKYO)


def test_sunday_windows_over_two_weeks() -> None:
    result = expand(SUNDAYS, tokyo(2026, 3, 2), tokyo(2026, 3, 16))
    assert list(result) == [
        Interval(tokyo(2026, 3, 8, 2), tokyo(2026, 3, 8, 4)),
        Interval(tokyo(2026, 3, 15, 2), tokyo(2026, 3, 15, 4)),
    ]
    # Sunday 02:00 JST is Saturday 17:00 UTC.
    assert next(iter(result)).start == datetime(2026, 3, 7, 17, 0, tzinfo=UTC)


def test_occurrence_open_at_range_start_is_included_whole() -> None:
    result = expand(SUNDAYS, tokyo(2026, 3, 8, 3), tokyo(2026, 3, 8, 12))
    assert list(result) == [Interval(tokyo(2026, 3, 8, 2), tokyo(2026, 3, 8, 4))]


@pytest.mark.parametrize(
    ("range_start", "range_end", "count"),
    [
        (tokyo(2026, 3, 8, 4), tokyo(2026, 3, 14), 0),  # starts as the window closes
        (tokyo(2026, 3, 7), tokyo(2026, 3, 8, 2), 0),  # ends as the window opens
        (tokyo(2026, 3, 7), tokyo(2026, 3, 8, 2, 0, 1), 1),
        (tokyo(2026, 3, 8, 3, 59), tokyo(2026, 3, 8, 5), 1),
        (tokyo(2026, 3, 9), tokyo(2026, 3, 9), 0),  # empty range
        (tokyo(2025, 12, 1), tokyo(2026, 1, 10), 1),  # nothing before dtstart
    ],
)
def test_range_bounds(range_start: datetime, range_end: datetime, count: int) -> None:
    assert len(expand(SUNDAYS, range_start, range_end)) == count


def test_range_may_be_given_in_utc() -> None:
    in_utc = expand(
        SUNDAYS,
        tokyo(2026, 3, 2).astimezone(UTC),
        tokyo(2026, 3, 16).astimezone(UTC),
    )
    assert in_utc == expand(SUNDAYS, tokyo(2026, 3, 2), tokyo(2026, 3, 16))


def test_prefix_and_case_are_accepted() -> None:
    window = RecurringWindow(SUNDAY_0200, timedelta(hours=2), " RRULE:FREQ=WEEKLY;BYDAY=SU ")
    assert window.rrule == "FREQ=WEEKLY;BYDAY=SU"
    assert window == SUNDAYS
    assert normalise_rrule("rrule:FREQ=DAILY") == "FREQ=DAILY"


def test_count_limits_occurrences() -> None:
    window = RecurringWindow(SUNDAY_0200, timedelta(hours=2), "FREQ=WEEKLY;BYDAY=SU;COUNT=2")
    assert len(expand(window, tokyo(2026, 1, 1), tokyo(2026, 12, 31))) == 2


def test_until_in_utc_limits_occurrences() -> None:
    window = RecurringWindow(
        SUNDAY_0200, timedelta(hours=2), "FREQ=WEEKLY;BYDAY=SU;UNTIL=20260115T000000Z"
    )
    assert len(expand(window, tokyo(2026, 1, 1), tokyo(2026, 12, 31))) == 2


def test_occurrences_follow_the_local_wall_clock_across_dst() -> None:
    # Daily 01:00 in New York: 06:00 UTC in winter, 05:00 UTC once DST starts (8 March 2026, 02:00).
    window = RecurringWindow(
        datetime(2026, 3, 6, 1, 0, tzinfo=NEW_YORK), timedelta(minutes=30), "FREQ=DAILY"
    )
    starts = [
        i.start
        for i in expand(window, datetime(2026, 3, 6, tzinfo=UTC), datetime(2026, 3, 10, tzinfo=UTC))
    ]
    assert starts == [
        datetime(2026, 3, 6, 6, 0, tzinfo=UTC),
        datetime(2026, 3, 7, 6, 0, tzinfo=UTC),
        datetime(2026, 3, 8, 6, 0, tzinfo=UTC),
        datetime(2026, 3, 9, 5, 0, tzinfo=UTC),
    ]


def test_overlapping_occurrences_merge() -> None:
    window = RecurringWindow(
        datetime(2026, 1, 1, 0, 0, tzinfo=UTC), timedelta(hours=30), "FREQ=DAILY"
    )
    result = expand(window, datetime(2026, 1, 2, tzinfo=UTC), datetime(2026, 1, 3, tzinfo=UTC))
    assert result == IntervalSet.of(
        Interval(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 3, 6, tzinfo=UTC))
    )


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("", "empty"),
        ("RRULE:", "empty"),
        ("BYDAY=SU", "no FREQ"),
        ("FREQ=WEEKLY;BYDAY=XX", "invalid recurrence rule"),
        ("FREQ=FORTNIGHTLY", "invalid recurrence rule"),
        ("FREQ=WEEKLY;FOO=1", "invalid recurrence rule"),
        ("FREQ=WEEKLY;BYHOUR=25", "invalid recurrence rule"),
        ("FREQ=WEEKLY;UNTIL=20260301T000000", "invalid recurrence rule"),
        ("FREQ=WEEKLY;COUNT=2;UNTIL=20260301T000000Z", "both COUNT and UNTIL"),
        ("FREQ=MINUTELY", "more often than hourly"),
        ("FREQ=SECONDLY;INTERVAL=30", "more often than hourly"),
        ("DTSTART:20260101T000000Z\nRRULE:FREQ=DAILY", "single RRULE"),
        ("FREQ=DAILY\nEXDATE:20260102T000000Z", "single RRULE"),
    ],
)
def test_bad_rules_are_refused_with_a_clear_message(rule: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RecurringWindow(SUNDAY_0200, timedelta(hours=2), rule)
    with pytest.raises(ValueError, match=message):
        parse_rrule(rule, SUNDAY_0200)


@pytest.mark.parametrize("duration", [timedelta(0), timedelta(minutes=-5)])
def test_duration_must_be_positive(duration: timedelta) -> None:
    with pytest.raises(ValueError, match="duration must be positive"):
        RecurringWindow(SUNDAY_0200, duration, "FREQ=WEEKLY;BYDAY=SU")


def test_dtstart_must_be_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        RecurringWindow(datetime(2026, 1, 4, 2, 0), timedelta(hours=2), "FREQ=WEEKLY;BYDAY=SU")


def test_expand_rejects_naive_range() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        expand(SUNDAYS, datetime(2026, 3, 2), tokyo(2026, 3, 16))
