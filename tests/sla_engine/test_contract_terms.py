"""Contract dates and fees (SPEC §7)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sla_engine.contract_terms import (
    earliest_cancellation_date,
    early_cancellation_fee,
    minimum_term_end,
    prorated_monthly_fee,
)

days = st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31))
fees = st.integers(min_value=0, max_value=10_000_000)


@pytest.mark.parametrize(
    ("notice", "expected"),
    [
        (date(2026, 3, 15), date(2026, 4, 14)),  # SPEC example
        (date(2026, 1, 31), date(2026, 2, 28)),  # SPEC example
        (date(2028, 1, 31), date(2028, 2, 29)),  # SPEC example, leap year
        (date(2026, 3, 1), date(2026, 3, 31)),
        (date(2026, 12, 31), date(2027, 1, 30)),
        (date(2026, 1, 30), date(2026, 2, 28)),  # no 30 Feb: last day of February
        (date(2028, 1, 30), date(2028, 2, 29)),
        (date(2026, 1, 29), date(2026, 2, 28)),  # no 29 Feb in 2026
        (date(2028, 1, 29), date(2028, 2, 28)),  # day before 29 Feb 2028
        (date(2026, 1, 28), date(2026, 2, 27)),
        (date(2026, 3, 31), date(2026, 4, 30)),  # no 31 Apr
        (date(2026, 3, 30), date(2026, 4, 29)),
        (date(2026, 2, 28), date(2026, 3, 27)),
        (date(2028, 2, 29), date(2028, 3, 28)),
        (date(2026, 11, 30), date(2026, 12, 29)),
        (date(2026, 12, 1), date(2026, 12, 31)),
    ],
)
def test_earliest_cancellation_date(notice: date, expected: date) -> None:
    assert earliest_cancellation_date(notice) == expected


@given(days)
def test_earliest_cancellation_date_is_monotone_and_about_a_month_later(notice: date) -> None:
    result = earliest_cancellation_date(notice)
    assert 27 <= (result - notice).days <= 30
    assert earliest_cancellation_date(notice + timedelta(days=1)) >= result


@pytest.mark.parametrize(
    ("billing_start", "years", "expected"),
    [
        (date(2026, 4, 1), 1, date(2027, 3, 31)),  # SPEC example
        (date(2024, 2, 29), 1, date(2025, 2, 28)),  # no 29 Feb 2025
        (date(2026, 4, 15), 1, date(2027, 4, 14)),
        (date(2026, 1, 1), 1, date(2026, 12, 31)),
        (date(2026, 4, 1), 2, date(2028, 3, 31)),
        (date(2024, 2, 29), 4, date(2028, 2, 28)),
        (date(2027, 3, 1), 1, date(2028, 2, 29)),
    ],
)
def test_minimum_term_end(billing_start: date, years: int, expected: date) -> None:
    assert minimum_term_end(billing_start, years) == expected


def test_minimum_term_end_default_is_one_year() -> None:
    assert minimum_term_end(date(2026, 4, 1)) == date(2027, 3, 31)


def test_minimum_term_needs_a_year() -> None:
    with pytest.raises(ValueError, match="at least one year"):
        minimum_term_end(date(2026, 4, 1), 0)


@pytest.mark.parametrize(
    ("fee", "year", "month", "active_from", "active_to", "expected"),
    [
        (30_000, 2026, 5, date(2026, 4, 1), None, 30_000),  # full month
        (30_000, 2026, 4, date(2026, 4, 1), None, 30_000),  # starts on the 1st
        (30_000, 2026, 4, date(2026, 4, 15), None, 16_000),  # 16 of 30 days
        (50_000, 2026, 2, date(2025, 4, 1), date(2026, 2, 10), 17_857),  # 10/28 of 50,000
        (5_000, 2026, 1, date(2026, 1, 20), None, 1_935),  # 12/31 of 5,000 = 1,935.48
        (30_000, 2026, 1, date(2025, 1, 1), date(2026, 1, 1), 967),  # one day of 31
        (30_000, 2026, 6, date(2026, 6, 10), date(2026, 6, 19), 10_000),
        (30_000, 2028, 2, date(2028, 2, 15), None, 15_517),  # 15/29 of 30,000
        (30_000, 2026, 3, date(2026, 4, 1), None, 0),  # before billing start
        (30_000, 2026, 7, date(2026, 4, 1), date(2026, 6, 30), 0),  # after cancellation
        (30_000, 2026, 6, date(2026, 4, 1), date(2026, 6, 30), 30_000),  # cancelled on month end
        (0, 2026, 4, date(2026, 4, 15), None, 0),
    ],
)
def test_prorated_monthly_fee(
    fee: int, year: int, month: int, active_from: date, active_to: date | None, expected: int
) -> None:
    assert prorated_monthly_fee(fee, year, month, active_from, active_to) == expected


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((-1, 2026, 4, date(2026, 4, 1), None), "negative"),
        ((30_000, 2026, 13, date(2026, 4, 1), None), "month"),
        ((30_000, 2026, 0, date(2026, 4, 1), None), "month"),
        ((30_000, 2026, 4, date(2026, 4, 10), date(2026, 4, 9)), "before active_from"),
    ],
)
def test_prorated_monthly_fee_rejects_bad_input(
    args: tuple[int, int, int, date, date | None], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        prorated_monthly_fee(*args)


@pytest.mark.parametrize(
    ("fee", "billing_start", "cancellation", "expected"),
    [
        (30_000, date(2026, 4, 1), date(2027, 3, 31), 0),  # on the last day of the term
        (30_000, date(2026, 4, 1), date(2027, 5, 31), 0),  # after it
        (30_000, date(2026, 4, 1), date(2026, 9, 30), 180_000),  # Oct-Mar
        (30_000, date(2026, 4, 1), date(2026, 9, 15), 195_000),  # 15/30 of Sep + Oct-Mar
        (30_000, date(2026, 4, 1), date(2026, 4, 1), 359_000),  # 29/30 of Apr + 11 months
        (30_000, date(2026, 4, 1), date(2027, 3, 30), 967),  # only 31 Mar: 1/31
        (30_000, date(2026, 4, 15), date(2026, 6, 20), 294_000),  # 10/30 + 9 months + 14/30
        (50_000, date(2024, 2, 29), date(2025, 1, 31), 50_000),  # Feb 2025 to its 28th: full
        (50_000, date(2024, 2, 29), date(2025, 2, 27), 1_785),  # 28 Feb: 1/28 of 50,000
    ],
)
def test_early_cancellation_fee(
    fee: int, billing_start: date, cancellation: date, expected: int
) -> None:
    assert early_cancellation_fee(fee, billing_start, cancellation) == expected


def test_early_cancellation_fee_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="before billing start"):
        early_cancellation_fee(30_000, date(2026, 4, 1), date(2026, 3, 31))
    with pytest.raises(ValueError, match="negative"):
        early_cancellation_fee(-5, date(2026, 4, 1), date(2026, 5, 1))


@given(fees, days, st.integers(min_value=0, max_value=400), st.integers(min_value=1, max_value=400))
def test_early_cancellation_fee_never_grows_with_a_later_cancellation(
    fee: int, billing_start: date, offset: int, extra: int
) -> None:
    cancellation = billing_start + timedelta(days=offset)
    earlier = early_cancellation_fee(fee, billing_start, cancellation)
    later = early_cancellation_fee(fee, billing_start, cancellation + timedelta(days=extra))
    assert 0 <= later <= earlier <= 12 * fee


@given(fees, days)
def test_a_whole_term_costs_about_twelve_fees(fee: int, billing_start: date) -> None:
    # The first and last part months are the same calendar month a year apart; only a
    # February of 28 days against one of 29 makes their day fractions differ (by at most
    # 1/29 of a fee), and each of the two rounds down by less than a yen.
    term_end = minimum_term_end(billing_start)
    months = [
        (
            billing_start.year + (billing_start.month - 1 + i) // 12,
            (billing_start.month - 1 + i) % 12 + 1,
        )
        for i in range(13)
    ]
    charged = sum(prorated_monthly_fee(fee, y, m, billing_start, term_end) for y, m in months)
    assert abs(charged - 12 * fee) < fee / 29 + 2
    if billing_start.month != 2 and billing_start.day != 1:
        assert 12 * fee - 2 < charged <= 12 * fee
    if billing_start.day == 1:
        assert charged == 12 * fee


@given(
    fees,
    st.integers(min_value=2020, max_value=2035),
    st.integers(min_value=1, max_value=12),
    days,
    days,
)
def test_prorated_fee_is_between_zero_and_the_full_fee(
    fee: int, year: int, month: int, first: date, second: date
) -> None:
    active_from, active_to = sorted((first, second))
    charged = prorated_monthly_fee(fee, year, month, active_from, active_to)
    assert 0 <= charged <= fee
