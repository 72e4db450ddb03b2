"""The provider's business calendar: which days are business days and when it is open.

Professional-support deadlines are counted in business days, and the warnings before
them must reach people while someone is at work, so the engine needs one place that
knows the opening hours, the weekdays, the public holidays of the provider's country
and the provider's own closed days. All day arithmetic happens in the calendar's time
zone; instants may arrive in any zone and every result is the same instant whichever
zone the caller used. Intervals are measured in UTC so that a calendar in a zone with
daylight saving time still counts real elapsed time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

_ONE_DAY = timedelta(days=1)

# A calendar that closes every day would make "the next business day" loop for ever;
# ten years without a single business day can only be a configuration mistake.
_MAX_DAYS_WITHOUT_BUSINESS = 3660

_WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_ALL_WEEKDAYS = frozenset(range(7))

_TIME_PATTERN = re.compile(r"^(\d{2}):(\d{2})$")
_MONTH_DAY_PATTERN = re.compile(r"^(\d{2})-(\d{2})$")
_DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")

DEFAULT_TIMEZONE = ZoneInfo("Asia/Tokyo")
DEFAULT_OPENING = time(9, 30)
DEFAULT_CLOSING = time(18, 30)
DEFAULT_WEEKDAYS = frozenset(range(5))
DEFAULT_HOLIDAY_COUNTRY = "JP"
DEFAULT_CLOSED_DAYS = frozenset({(12, 29), (12, 30), (12, 31), (1, 1), (1, 2), (1, 3)})


def require_aware(instant: datetime, name: str) -> None:
    """Reject naive datetimes, whose meaning would depend on the host's local zone."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {instant!r}")


@lru_cache(maxsize=256)
def _public_holidays(country: str, year: int) -> frozenset[date]:
    """Public holidays of one country and year, cached because every day test asks."""
    return frozenset(holidays.country_holidays(country, years=year))


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    """When the provider is at work.

    Business hours are the half-open interval [`opening`, `closing`) in `timezone` on
    every date whose weekday is in `weekdays` (Monday is 0, as in `date.weekday`) and
    which is neither a public holiday of `holiday_country` (substitute holidays and
    国民の休日 included, as the `holidays` package provides them), nor a recurring
    provider closed day (`closed_days`, (month, day) pairs), nor one of
    `extra_closed_dates`. `holiday_country` None means no public holidays apply.
    """

    timezone: ZoneInfo = DEFAULT_TIMEZONE
    opening: time = DEFAULT_OPENING
    closing: time = DEFAULT_CLOSING
    weekdays: frozenset[int] = DEFAULT_WEEKDAYS
    holiday_country: str | None = DEFAULT_HOLIDAY_COUNTRY
    closed_days: frozenset[tuple[int, int]] = DEFAULT_CLOSED_DAYS
    extra_closed_dates: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if self.opening.tzinfo is not None or self.closing.tzinfo is not None:
            raise ValueError("opening and closing are local times and must carry no tzinfo")
        if not self.opening < self.closing:
            raise ValueError(
                f"opening {self.opening} must be before closing {self.closing} on the same day"
            )
        if not self.weekdays:
            raise ValueError("a business calendar needs at least one business weekday")
        if not self.weekdays <= _ALL_WEEKDAYS:
            raise ValueError(f"weekdays must be 0 (Monday) to 6 (Sunday), got {self.weekdays}")
        for month, day in self.closed_days:
            _check_month_day(month, day)
        if (
            self.holiday_country is not None
            and self.holiday_country not in holidays.list_supported_countries()
        ):
            raise ValueError(f"unknown holiday country {self.holiday_country!r}")

    @classmethod
    def from_config(
        cls,
        *,
        timezone: str = "Asia/Tokyo",
        opening: str = "09:30",
        closing: str = "18:30",
        weekdays: Iterable[str] = _WEEKDAY_NAMES[:5],
        holiday_country: str | None = DEFAULT_HOLIDAY_COUNTRY,
        closed_days: Iterable[str] = ("12-29", "12-30", "12-31", "01-01", "01-02", "01-03"),
        extra_closed_dates: Iterable[str] = (),
    ) -> BusinessCalendar:
        """Build a calendar from plain config values, so a typo fails at start-up.

        `timezone` is an IANA name, `opening`/`closing` are "HH:MM", `weekdays` are
        three-letter English names ("mon" ... "sun", any case), `closed_days` are
        "MM-DD" and `extra_closed_dates` are "YYYY-MM-DD". An empty `holiday_country`
        or None switches public holidays off.
        """
        for name, values in (
            ("weekdays", weekdays),
            ("closed_days", closed_days),
            ("extra_closed_dates", extra_closed_dates),
        ):
            if isinstance(values, str):
                raise ValueError(f"{name} must be a list of strings, not the string {values!r}")
        return cls(
            timezone=_parse_timezone(timezone),
            opening=_parse_time(opening, "opening"),
            closing=_parse_time(closing, "closing"),
            weekdays=frozenset(_parse_weekday(name) for name in weekdays),
            holiday_country=holiday_country or None,
            closed_days=frozenset(_parse_month_day(text) for text in closed_days),
            extra_closed_dates=frozenset(_parse_date(text) for text in extra_closed_dates),
        )

    def is_business_day(self, day: date) -> bool:
        """Whether the provider works on `day` (a date in the calendar's zone)."""
        if day.weekday() not in self.weekdays:
            return False
        if (day.month, day.day) in self.closed_days or day in self.extra_closed_dates:
            return False
        return self.holiday_country is None or day not in _public_holidays(
            self.holiday_country, day.year
        )

    def next_business_day(self, day: date) -> date:
        """The first business day strictly after `day`."""
        candidate = day
        for _ in range(_MAX_DAYS_WITHOUT_BUSINESS):
            candidate += _ONE_DAY
            if self.is_business_day(candidate):
                return candidate
        raise ValueError(f"no business day within ten years after {day}; check the calendar")

    def add_business_days(self, day: date, count: int) -> date:
        """The `count`-th business day after `day`; `day` itself when `count` is zero.

        `day` need not be a business day: the count starts with the first business
        day after it, which is what "N business days after D" means in the SPEC.
        """
        if count < 0:
            raise ValueError(f"count must not be negative, got {count}")
        result = day
        for _ in range(count):
            result = self.next_business_day(result)
        return result

    def opening_on(self, day: date) -> datetime:
        """The opening instant of `day`, in the calendar's zone."""
        return datetime.combine(day, self.opening, tzinfo=self.timezone)

    def closing_on(self, day: date) -> datetime:
        """The closing instant of `day`, in the calendar's zone (the end of its hours)."""
        return datetime.combine(day, self.closing, tzinfo=self.timezone)

    def in_zone(self, instant: datetime) -> datetime:
        """The same instant expressed in the calendar's zone.

        Going through UTC drops a `fold` the caller's datetime may carry, so equal
        instants always come back as identical values whichever zone they arrived in.
        """
        require_aware(instant, "instant")
        return instant.astimezone(UTC).astimezone(self.timezone)

    def is_open(self, instant: datetime) -> bool:
        """Whether `instant` lies inside business hours ([opening, closing) on a business day)."""
        require_aware(instant, "instant")
        day = self._local_date(instant)
        if not self.is_business_day(day):
            return False
        opens, closes = self._hours_utc(day)
        return opens <= instant < closes

    def next_opening(self, instant: datetime) -> datetime:
        """`instant` itself when the provider is open then, else the next opening.

        The result is expressed in the calendar's zone.
        """
        require_aware(instant, "instant")
        day = self._local_date(instant)
        if self.is_business_day(day):
            opens, closes = self._hours_utc(day)
            if instant < opens:
                return opens.astimezone(self.timezone)
            if instant < closes:
                return self.in_zone(instant)
        return self.opening_on(self.next_business_day(day))

    def counting_day(self, received: datetime) -> date:
        """The business day a request counts from (SPEC §5, 翌営業日からの起算).

        Inside business hours on business day D it is D; before opening on a business
        day it is that day; at or after closing, or on a closed day, it is the next
        business day. That is exactly the date of the next opening.
        """
        return self.next_opening(received).date()

    def business_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Business time within [start, end); zero when `end` is not after `start`."""
        require_aware(start, "start")
        require_aware(end, "end")
        start_utc, end_utc = start.astimezone(UTC), end.astimezone(UTC)
        total = timedelta()
        if end_utc <= start_utc:
            return total
        day, last = self._local_date(start_utc), self._local_date(end_utc)
        while day <= last:
            if self.is_business_day(day):
                opens, closes = self._hours_utc(day)
                lower, upper = max(opens, start_utc), min(closes, end_utc)
                if upper > lower:
                    total += upper - lower
            day += _ONE_DAY
        return total

    def instant_after_business_time(self, start: datetime, amount: timedelta) -> datetime:
        """The first instant at which business time counted from `start` reaches `amount`.

        It is the inverse of `business_time_between`, used to place warnings and due
        instants. An amount that uses up a day exactly ends at that day's closing, not
        at the next opening. The result is expressed in the calendar's zone.
        """
        require_aware(start, "start")
        if amount < timedelta():
            raise ValueError(f"amount must not be negative, got {amount}")
        cursor = start.astimezone(UTC)
        remaining = amount
        if not remaining:
            return self.in_zone(cursor)
        day = self._local_date(cursor)
        if not self.is_business_day(day):
            day = self.next_business_day(day)
        while True:
            opens, closes = self._hours_utc(day)
            lower = max(opens, cursor)
            available = closes - lower
            if available > timedelta():
                if remaining <= available:
                    return self.in_zone(lower + remaining)
                remaining -= available
            day = self.next_business_day(day)

    def defer_into_business_hours(self, instant: datetime) -> datetime:
        """Where a notice meant for `instant` is delivered: never at night.

        An instant inside business hours stays; one outside moves to the next opening
        (SPEC §5: a warning that would fall at night is sent at the next opening).
        """
        return self.next_opening(instant)

    def _local_date(self, instant: datetime) -> date:
        return instant.astimezone(self.timezone).date()

    def _hours_utc(self, day: date) -> tuple[datetime, datetime]:
        """Opening and closing of `day` in UTC, so differences are real elapsed time."""
        return self.opening_on(day).astimezone(UTC), self.closing_on(day).astimezone(UTC)


def _check_month_day(month: int, day: int) -> None:
    # 2000 is a leap year, so 29 February is accepted as a recurring closed day.
    try:
        date(2000, month, day)
    except ValueError:
        raise ValueError(f"closed day {month:02d}-{day:02d} is not a day of the year") from None


def _parse_timezone(text: str) -> ZoneInfo:
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {text!r}; use an IANA name such as Asia/Tokyo"
        ) from None


def _parse_time(text: str, name: str) -> time:
    match = _TIME_PATTERN.fullmatch(text)
    if match is None:
        raise ValueError(f"{name} must be a local time as HH:MM, got {text!r}")
    try:
        return time(int(match[1]), int(match[2]))
    except ValueError:
        raise ValueError(f"{name} {text!r} is not a time of day") from None


def _parse_weekday(text: str) -> int:
    key = text.strip().lower()
    if key not in _WEEKDAY_NAMES:
        raise ValueError(f"unknown weekday {text!r}; use one of {', '.join(_WEEKDAY_NAMES)}")
    return _WEEKDAY_NAMES.index(key)


def _parse_month_day(text: str) -> tuple[int, int]:
    match = _MONTH_DAY_PATTERN.fullmatch(text)
    if match is None:
        raise ValueError(f"a recurring closed day must be MM-DD, got {text!r}")
    month, day = int(match[1]), int(match[2])
    _check_month_day(month, day)
    return month, day


def _parse_date(text: str) -> date:
    if _DATE_PATTERN.fullmatch(text) is None:
        raise ValueError(f"a closed date must be YYYY-MM-DD, got {text!r}")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"closed date {text!r} is not a calendar date") from None
