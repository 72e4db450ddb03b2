"""Contract dates and fees of the managed-service common terms (SPEC §7).

The registry must tell an operator the earliest date a customer may cancel, when the
minimum term ends, what a part month costs and what cancelling early costs. Periods
follow the way Japanese contracts reckon months (民法第143条): a period of months from
a day ends on the day before the corresponding day, and when the final month has no
corresponding day it ends on that month's last day. Fees are whole yen, and every
division rounds down once, at the end, so no yen is charged that the daily rate does
not justify.
"""

from __future__ import annotations

from datetime import date, timedelta

_ONE_DAY = timedelta(days=1)


def earliest_cancellation_date(notice: date) -> date:
    """The earliest cancellation date for notice given on `notice` (翌月同日の前日).

    It is the day before the same day of the next month: 15 Mar → 14 Apr, 1 Mar → 31
    Mar, 31 Dec → 30 Jan. When the next month has no such day, the period ends on that
    month's last day: 31 Jan → 28 Feb (29 Feb in a leap year), and likewise 30 Jan, and
    29 Jan outside leap years, → the last day of February; 29 Jan in a leap year → 28 Feb
    (the day before 29 Feb). Several notice days can therefore share one earliest
    cancellation date, but a later notice never gives an earlier date.
    """
    return _period_end(notice, months=1)


def minimum_term_end(billing_start: date, years: int = 1) -> date:
    """The last day of the minimum term of `years` years from `billing_start`.

    Reckoned like the cancellation period: billing start 2026-04-01 → 2027-03-31, and
    2024-02-29 → 2025-02-28 because February 2025 has no 29th.
    """
    if years < 1:
        raise ValueError(f"a minimum term lasts at least one year, got {years}")
    return _period_end(billing_start, months=12 * years)


def prorated_monthly_fee(
    monthly_fee_yen: int,
    year: int,
    month: int,
    active_from: date,
    active_to: date | None,
) -> int:
    """The fee for one calendar month of a contract active from `active_from` to `active_to`.

    `active_to` is the cancellation date and is inclusive; None means not cancelled. A
    month the contract covers entirely costs the full fee; a part month costs the fee
    times the active days divided by the days of that month, rounded down to the yen
    (one rounding on the total, not a rounded daily rate times days); a month without
    an active day costs nothing.
    """
    _check_fee(monthly_fee_yen)
    if active_to is not None and active_to < active_from:
        raise ValueError(f"active_to {active_to} is before active_from {active_from}")
    active_days = days_active_in_month(year, month, active_from, active_to)
    return monthly_fee_yen * active_days // last_day_of_month(year, month).day


def days_active_in_month(year: int, month: int, active_from: date, active_to: date | None) -> int:
    """How many days of one calendar month lie in [`active_from`, `active_to`] (inclusive;
    `active_to` None means open-ended): the days a part month is charged for."""
    if not 1 <= month <= 12:
        raise ValueError(f"month must be 1 to 12, got {month}")
    lower = max(date(year, month, 1), active_from)
    upper = last_day_of_month(year, month)
    if active_to is not None:
        upper = min(upper, active_to)
    return max(0, (upper - lower).days + 1)


def early_cancellation_fee(monthly_fee_yen: int, billing_start: date, cancellation: date) -> int:
    """What cancelling on `cancellation` costs: the fees of the rest of the minimum term.

    The remaining term runs from the day after the cancellation date to the minimum
    term's last day; each calendar month of it is charged as `prorated_monthly_fee`
    charges it (the cancellation month's days up to the cancellation date are billed as
    usual, not here). Cancelling on or after the minimum term's last day costs nothing.
    """
    _check_fee(monthly_fee_yen)
    if cancellation < billing_start:
        raise ValueError(f"cancellation {cancellation} is before billing start {billing_start}")
    term_end = minimum_term_end(billing_start)
    if cancellation >= term_end:
        return 0
    remaining_from = cancellation + _ONE_DAY
    total = 0
    year, month = remaining_from.year, remaining_from.month
    while date(year, month, 1) <= term_end:
        total += prorated_monthly_fee(monthly_fee_yen, year, month, remaining_from, term_end)
        year, month = add_months(year, month, 1)
    return total


def _period_end(start: date, months: int) -> date:
    """Last day of a period of `months` months from `start` (民法第143条第2項)."""
    year, month = add_months(start.year, start.month, months)
    last = last_day_of_month(year, month)
    if start.day > last.day:
        return last
    return date(year, month, start.day) - _ONE_DAY


def add_months(year: int, month: int, months: int) -> tuple[int, int]:
    """The (year, month) `months` calendar months after (year, month); negative goes back."""
    index = year * 12 + month - 1 + months
    return index // 12, index % 12 + 1


def last_day_of_month(year: int, month: int) -> date:
    """The last day of one calendar month (28 Feb, 29 Feb in a leap year, 30 or 31)."""
    next_year, next_month = add_months(year, month, 1)
    return date(next_year, next_month, 1) - _ONE_DAY


def _check_fee(monthly_fee_yen: int) -> None:
    if monthly_fee_yen < 0:
        raise ValueError(f"a monthly fee cannot be negative, got {monthly_fee_yen}")
