"""A month's charges (SPEC §7, seed ch. 4), computed by hand for every case."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sla_engine.calendar import BusinessCalendar
from sla_engine.charges import (
    SEED_PRICES,
    BillingMonth,
    ChargeLine,
    ContractFacts,
    DiscountTier,
    HoursEntry,
    OptionPrices,
    ResourcePeriod,
    VolumeDiscount,
    adjustment_lines,
    invoice_date,
    month_lines,
    resolve_terms,
)

APRIL_2026 = BillingMonth(2026, 4)


def contract(
    plan: str = "standard",
    billing_start: date = date(2026, 4, 1),
    resources: tuple[tuple[date, date | None], ...] = ((date(2026, 4, 1), None),),
    options: tuple[str, ...] = (),
    discount: VolumeDiscount | None = None,
    hours: tuple[HoursEntry, ...] = (),
    contract_date: date | None = None,
    cancellation_date: date | None = None,
) -> ContractFacts:
    return ContractFacts(
        contract_id=1,
        billing_start=billing_start,
        terms=resolve_terms(SEED_PRICES, plan, options, discount=discount),
        resources=tuple(
            ResourcePeriod(i, f"vm{i}", added, retired)
            for i, (added, retired) in enumerate(resources, start=1)
        ),
        hours=hours,
        contract_date=contract_date,
        cancellation_date=cancellation_date,
    )


def amounts(lines: tuple[ChargeLine, ...]) -> list[tuple[str, int, int | None]]:
    return [(line.key, line.amount_yen, line.days_charged) for line in lines]


@pytest.mark.parametrize(
    ("facts", "month", "expected"),
    [
        pytest.param(
            contract(),
            APRIL_2026,
            [("initial_fee", 100_000, None), ("monthly_fee:resource:1", 30_000, 30)],
            id="billing start on the 1st: initial fee and a whole month",
        ),
        pytest.param(
            contract(billing_start=date(2026, 4, 30), resources=((date(2026, 4, 30), None),)),
            APRIL_2026,
            [("initial_fee", 100_000, None), ("monthly_fee:resource:1", 1_000, 1)],
            id="billing start on the last day: 1/30 of the fee",
        ),
        pytest.param(
            contract(billing_start=date(2026, 4, 15)),
            APRIL_2026,
            [("initial_fee", 100_000, None), ("monthly_fee:resource:1", 16_000, 16)],
            id="billing start mid-month: the resource added earlier counts from billing start",
        ),
        pytest.param(
            contract(contract_date=date(2026, 5, 10)),
            APRIL_2026,
            [("monthly_fee:resource:1", 30_000, 30)],
            id="contract date after billing start: no initial fee in the billing-start month",
        ),
        pytest.param(
            contract(contract_date=date(2026, 5, 10)),
            BillingMonth(2026, 5),
            [("initial_fee", 100_000, None), ("monthly_fee:resource:1", 30_000, 31)],
            id="...the initial fee falls in the month of the contract date",
        ),
        pytest.param(
            contract(contract_date=date(2026, 3, 20)),
            BillingMonth(2026, 3),
            [],
            id="contract date before billing start: nothing before billing start",
        ),
        pytest.param(
            contract(
                plan="basic",
                billing_start=date(2025, 4, 1),
                resources=((date(2028, 2, 15), None), (date(2027, 2, 15), None)),
            ),
            BillingMonth(2028, 2),
            [("monthly_fee:resource:1", 2_586, 15), ("monthly_fee:resource:2", 5_000, 29)],
            id="leap February: 15/29 of 5,000 = 2,586.2",
        ),
        pytest.param(
            contract(billing_start=date(2025, 4, 1), resources=((date(2027, 2, 15), None),)),
            BillingMonth(2027, 2),
            [("monthly_fee:resource:1", 15_000, 14)],
            id="February of 28 days: 14/28",
        ),
        pytest.param(
            contract(
                resources=(
                    (date(2026, 4, 1), None),
                    (date(2026, 6, 10), date(2026, 6, 19)),
                    (date(2026, 4, 1), date(2026, 6, 20)),
                    (date(2026, 6, 21), None),
                    (date(2026, 4, 1), date(2026, 5, 31)),
                )
            ),
            BillingMonth(2026, 6),
            [
                ("monthly_fee:resource:1", 30_000, 30),
                ("monthly_fee:resource:2", 10_000, 10),
                ("monthly_fee:resource:3", 20_000, 20),
                ("monthly_fee:resource:4", 10_000, 10),
            ],
            id="resources coming and going: added and retired in one month, replaced, gone",
        ),
        pytest.param(
            contract(
                billing_start=date(2025, 5, 1),
                resources=((date(2025, 5, 1), None), (date(2025, 5, 1), None)),
                cancellation_date=date(2026, 2, 28),
            ),
            BillingMonth(2026, 2),
            [
                ("monthly_fee:resource:1", 30_000, 28),
                ("monthly_fee:resource:2", 30_000, 28),
                ("early_cancellation_fee", 120_000, None),
            ],
            id="notice on 31 Jan, cancelled 28 Feb inside the term: Mar and Apr for 2 resources",
        ),
        pytest.param(
            contract(cancellation_date=date(2026, 9, 15)),
            BillingMonth(2026, 9),
            [("monthly_fee:resource:1", 15_000, 15), ("early_cancellation_fee", 195_000, None)],
            id="cancelled 15 Sep inside the term: 15/30 of Sep + Oct to Mar",
        ),
        pytest.param(
            contract(cancellation_date=date(2026, 9, 15)),
            BillingMonth(2026, 10),
            [],
            id="...and nothing after the cancellation month",
        ),
        pytest.param(
            contract(billing_start=date(2025, 4, 1), cancellation_date=date(2026, 4, 15)),
            APRIL_2026,
            [("monthly_fee:resource:1", 15_000, 15)],
            id="cancelled after the minimum term: no fee, the part month per day",
        ),
        pytest.param(
            contract(
                billing_start=date(2025, 4, 1),
                resources=((date(2025, 4, 1), None),),
                cancellation_date=date(2026, 3, 31),
            ),
            BillingMonth(2026, 3),
            [("monthly_fee:resource:1", 30_000, 31)],
            id="cancelled on the minimum term's last day: no fee",
        ),
        pytest.param(
            contract(
                options=("professional_support", "advisory"),
                hours=(
                    HoursEntry("professional_support", Decimal("8")),
                    HoursEntry("advisory", Decimal("1.5")),
                    HoursEntry("professional_support", Decimal("4.5")),
                ),
            ),
            BillingMonth(2026, 5),
            [
                ("monthly_fee:resource:1", 30_000, 31),
                ("option_monthly_fee:advisory", 30_000, 31),
                ("option_hours:advisory", 0, None),
                ("option_monthly_fee:professional_support", 100_000, 31),
                ("option_hours:professional_support", 0, None),
            ],
            id="options at list prices: monthly fees; hours shown, no rate in the seed",
        ),
    ],
)
def test_month_lines(facts: ContractFacts, month: BillingMonth, expected: list[object]) -> None:
    assert amounts(month_lines(month, facts)) == expected


def test_option_hours_beyond_the_included_ones_cost_the_hourly_rate() -> None:
    prices = OptionPrices(
        initial_fee_yen=100_000,
        monthly_fee_yen=100_000,
        included_hours=Decimal(10),
        hourly_rate_yen=15_000,
    )
    terms = resolve_terms(
        SEED_PRICES,
        "full_managed",
        ["professional_support"],
        plan_overrides={"monthly_fee_yen": 45_000},
        option_overrides={
            "professional_support": {"included_hours": 10, "hourly_rate_yen": 15_000}
        },
    )
    assert terms.options["professional_support"] == prices
    facts = ContractFacts(
        contract_id=7,
        billing_start=date(2026, 4, 16),
        terms=terms,
        resources=(ResourcePeriod(3, "db01", date(2026, 4, 16)),),
        hours=(
            HoursEntry("professional_support", Decimal("12.75")),
            HoursEntry("professional_support", Decimal("-0.25")),
        ),
    )
    lines = month_lines(APRIL_2026, facts)
    assert amounts(lines) == [
        ("initial_fee", 100_000, None),
        ("option_initial_fee:professional_support", 100_000, None),
        ("monthly_fee:resource:3", 22_500, 15),  # 15/30 of the negotiated 45,000
        ("option_monthly_fee:professional_support", 50_000, 15),
        ("option_hours:professional_support", 37_500, None),  # 12.5 - 10 = 2.5 h at 15,000
    ]
    assert lines[-1].quantity == Decimal("2.5")
    assert lines[-1].description == "professional_support hours: 12.5 h worked, 10 h included"


TIERS = VolumeDiscount(tiers=(DiscountTier(5, 5), DiscountTier(10, 10)))


@pytest.mark.parametrize(
    ("count", "discount"),
    [(4, None), (5, -12_500), (9, -22_500), (10, -50_000), (11, -55_000)],
)
def test_discount_tiers_at_their_boundaries(count: int, discount: int | None) -> None:
    facts = contract(
        plan="full_managed",
        billing_start=date(2025, 4, 1),
        resources=tuple((date(2025, 4, 1), None) for _ in range(count)),
        discount=TIERS,
    )
    lines = month_lines(APRIL_2026, facts)
    found = [line.amount_yen for line in lines if line.kind == "volume_discount"]
    assert found == ([] if discount is None else [discount])
    assert sum(line.amount_yen for line in lines) == count * 50_000 + (discount or 0)


def test_the_discount_counts_resources_on_one_day_and_rounds_for_the_customer() -> None:
    # Five resources, but never more than four on the same day: tier 5 is not reached.
    replaced = ((date(2026, 4, 1), date(2026, 4, 10)), (date(2026, 4, 11), None))
    four_at_a_time = contract(
        billing_start=date(2025, 4, 1),
        resources=((date(2025, 4, 1), None),) * 3 + replaced,
        discount=TIERS,
    )
    assert not [k for k in month_lines(APRIL_2026, four_at_a_time) if k.kind == "volume_discount"]
    # 15/29 of 30,000 is 15,517; 10% off leaves 13,965.3, charged 13,965: discount 1,552.
    fixed = contract(
        billing_start=date(2028, 2, 15),
        resources=((date(2028, 2, 15), None),),
        discount=VolumeDiscount(percent=10),
    )
    lines = month_lines(BillingMonth(2028, 2), fixed)
    assert [line.amount_yen for line in lines if line.kind != "initial_fee"] == [15_517, -1_552]


def test_basic_plan_has_no_volume_discount() -> None:
    with pytest.raises(ValueError, match="no volume discount"):
        resolve_terms(SEED_PRICES, "basic", [], discount=VolumeDiscount(percent=5))


@pytest.mark.parametrize(
    "discount",
    [
        {"percent": 101},
        {"percent": 5, "tiers": (DiscountTier(1, 5),)},
        {},
        {"tiers": (DiscountTier(5, 5), DiscountTier(5, 10))},
        {"tiers": (DiscountTier(0, 5),)},
    ],
)
def test_bad_discounts_are_refused(discount: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        VolumeDiscount(**discount)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("month", "expected"),
    [
        (BillingMonth(2026, 4), date(2026, 5, 8)),  # 1 May, then Golden Week 2-6, 7, 8
        (BillingMonth(2027, 4), date(2027, 5, 10)),  # 3-5 May holidays, 6, 7, then Monday
        (BillingMonth(2026, 12), date(2027, 1, 6)),  # closed 1-3 Jan: 4, 5, 6
        (BillingMonth(2025, 12), date(2026, 1, 7)),  # 1-3 Jan closed, 4 Sunday: 5, 6, 7
        (BillingMonth(2026, 10), date(2026, 11, 5)),  # 3 Nov Culture Day
        (BillingMonth(2026, 6), date(2026, 7, 3)),  # plain weekdays
    ],
)
def test_invoice_date_is_the_third_business_day_of_the_next_month(
    month: BillingMonth, expected: date
) -> None:
    assert invoice_date(month, BusinessCalendar()) == expected


def test_month_parsing() -> None:
    assert BillingMonth.parse("2026-02") == BillingMonth(2026, 2)
    assert str(BillingMonth(2026, 12).shifted(1)) == "2027-01"
    for bad in ("2026-13", "2026-2", "26-02", "2026-00", "2026-02-01"):
        with pytest.raises(ValueError):
            BillingMonth.parse(bad)


def test_a_backdated_retirement_becomes_an_adjustment_with_its_reason() -> None:
    billed = month_lines(BillingMonth(2026, 10), contract(resources=((date(2026, 4, 1), None),)))
    now = month_lines(
        BillingMonth(2026, 10), contract(resources=((date(2026, 4, 1), date(2026, 10, 14)),))
    )
    (line,) = adjustment_lines(
        BillingMonth(2026, 10),
        billed,
        now,
        {(1, "monthly_fee:resource:1"): "decommissioned on 14 Oct, told us late"},
    )
    assert (line.kind, line.key, line.adjusts_month) == (
        "adjustment",
        "monthly_fee:resource:1",
        "2026-10",
    )
    assert line.amount_yen == 30_000 * 14 // 31 - 30_000 == -16_452
    assert line.days_charged == -17
    assert line.reason == "decommissioned on 14 Oct, told us late"
    assert "31 → 14 days" in line.description
    # Billed together with its adjustment, the month now stands as recomputed: nothing more.
    assert adjustment_lines(BillingMonth(2026, 10), (*billed, line), now) == ()


# --- properties -------------------------------------------------------------------

starts = st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 12, 31))
offsets = st.integers(min_value=0, max_value=500)
resource_spans = st.lists(
    st.tuples(st.integers(min_value=-60, max_value=500), st.none() | offsets), max_size=6
)


@st.composite
def contracts(draw: st.DrawFn) -> ContractFacts:
    billing_start = draw(starts)
    cancel_after = draw(st.none() | offsets)
    resources = []
    for index, (added, length) in enumerate(draw(resource_spans), start=1):
        added_on = billing_start + timedelta(days=added)
        retired = None if length is None else added_on + timedelta(days=length)
        resources.append(ResourcePeriod(index, f"r{index}", added_on, retired))
    hours = draw(
        st.lists(
            st.builds(
                HoursEntry,
                st.sampled_from(["professional_support", "advisory"]),
                st.decimals(min_value=0, max_value=40, places=2),
            ),
            max_size=5,
        )
    )
    plan = draw(st.sampled_from(["basic", "standard", "full_managed"]))
    return ContractFacts(
        contract_id=1,
        billing_start=billing_start,
        terms=resolve_terms(
            SEED_PRICES,
            plan,
            draw(st.sets(st.sampled_from(["professional_support", "advisory"]))),
            discount=None if plan == "basic" else TIERS,
        ),
        contract_date=billing_start + timedelta(days=draw(st.integers(-40, 40))),
        cancellation_date=(
            None if cancel_after is None else billing_start + timedelta(days=cancel_after)
        ),
        resources=tuple(resources),
        hours=tuple(hours),
    )


@given(contracts(), st.integers(min_value=2026, max_value=2027))
def test_days_charged_over_a_year_are_the_days_under_contract(
    facts: ContractFacts, year: int
) -> None:
    charged = sum(
        line.days_charged or 0
        for month in range(1, 13)
        for line in month_lines(BillingMonth(year, month), facts)
        if line.kind == "monthly_fee"
    )
    under_contract = 0
    day = date(year, 1, 1)
    while day.year == year:
        under_contract += facts.resources_on(day)
        day += timedelta(days=1)
    assert charged == under_contract


@given(contracts(), st.integers(min_value=1, max_value=14), st.randoms(use_true_random=False))
def test_a_months_charges_do_not_depend_on_the_order_of_the_facts(
    facts: ContractFacts, offset: int, shuffler: object
) -> None:
    month = BillingMonth.of(facts.billing_start).shifted(offset - 1)
    resources, hours = list(facts.resources), list(facts.hours)
    shuffler.shuffle(resources)  # type: ignore[attr-defined]
    shuffler.shuffle(hours)  # type: ignore[attr-defined]
    reordered = ContractFacts(
        contract_id=facts.contract_id,
        billing_start=facts.billing_start,
        terms=facts.terms,
        contract_date=facts.contract_date,
        cancellation_date=facts.cancellation_date,
        resources=tuple(resources),
        hours=tuple(hours),
    )
    assert month_lines(month, reordered) == month_lines(month, facts)


@given(contracts(), contracts(), st.integers(min_value=0, max_value=14))
def test_adjustments_bring_a_closed_month_to_its_recomputed_total(
    before: ContractFacts, after: ContractFacts, offset: int
) -> None:
    month = BillingMonth.of(before.billing_start).shifted(offset)
    billed = month_lines(month, before)
    now = month_lines(month, after)
    adjustments = adjustment_lines(month, billed, now)
    assert sum(x.amount_yen for x in (*billed, *adjustments)) == sum(x.amount_yen for x in now)
    assert adjustment_lines(month, (*billed, *adjustments), now) == ()
