"""What a customer owes for one calendar month (SPEC §7, seed ch. 4).

The seed prices every managed service per resource and month, charges a month that
starts or ends mid-month per day, bills the initial fee in the month of the later of
the contract date and the billing start, and charges the rest of the minimum term when
a customer cancels inside it. Options (professional support, advisory) add a monthly
fee and the hours worked beyond those the fee includes; standard and full-managed
contracts may carry a volume discount. This module turns the registry's facts about
one contract into the invoice lines of one month, and the difference between what a
closed month billed and what its facts say now into adjustment lines.

Everything is integer yen. Every amount is rounded down once, at the end of its own
computation (`contract_terms`), so no yen is charged that the daily rate does not
justify; a discount is the part of the discounted total rounded down, so it never
costs the customer a yen either. Lines come out in a fixed order whatever order the
facts arrive in, so a month's invoice depends only on the facts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from sla_engine.calendar import BusinessCalendar
from sla_engine.contract_terms import (
    add_months,
    days_active_in_month,
    early_cancellation_fee,
    last_day_of_month,
    minimum_term_end,
    prorated_monthly_fee,
)

PLANS = ("basic", "standard", "full_managed")
OPTIONS = ("professional_support", "advisory")
DISCOUNTABLE_PLANS = frozenset({"standard", "full_managed"})
INVOICE_BUSINESS_DAY = 3

_MONTH_PATTERN = re.compile(r"^(\d{4})-(\d{2})$")
_HUNDRED = Decimal(100)


def _check_yen(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a whole number of yen, 0 or more, got {value!r}")


def _check_percent(value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise ValueError(f"a discount percent is a whole number from 0 to 100, got {value!r}")


def _check_hours(name: str, value: Decimal, *, allow_negative: bool) -> None:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ValueError(f"{name} must be a finite decimal, got {value!r}")
    if value != value.quantize(Decimal("0.01")):
        raise ValueError(f"{name} are counted in hundredths of an hour, got {value}")
    if not allow_negative and value < 0:
        raise ValueError(f"{name} cannot be negative, got {value}")


@dataclass(frozen=True, slots=True, order=True)
class BillingMonth:
    """One calendar month, written YYYY-MM."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12 or not 1 <= self.year <= 9998:
            raise ValueError(f"no such month: {self.year:04d}-{self.month:02d}")

    @classmethod
    def parse(cls, text: str) -> BillingMonth:
        match = _MONTH_PATTERN.match(text)
        if match is None:
            raise ValueError(f"a month is written YYYY-MM, got {text!r}")
        return cls(int(match[1]), int(match[2]))

    @classmethod
    def of(cls, day: date) -> BillingMonth:
        return cls(day.year, day.month)

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        return last_day_of_month(self.year, self.month)

    @property
    def days(self) -> int:
        return self.last_day.day

    def shifted(self, months: int) -> BillingMonth:
        return BillingMonth(*add_months(self.year, self.month, months))

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def invoice_date(month: BillingMonth, calendar: BusinessCalendar) -> date:
    """The day the month's invoice is due out: the 3rd business day of the next month
    (翌月第3営業日), on the provider's business calendar."""
    return calendar.add_business_days(month.last_day, INVOICE_BUSINESS_DAY)


@dataclass(frozen=True, slots=True)
class OptionPrices:
    """An option's fees: `included_hours` of work a month are in the monthly fee, each
    hour beyond costs `hourly_rate_yen` (hours in hundredths, so 0.25 h is exact)."""

    initial_fee_yen: int = 0
    monthly_fee_yen: int = 0
    included_hours: Decimal = Decimal(0)
    hourly_rate_yen: int = 0

    def __post_init__(self) -> None:
        _check_yen("initial_fee_yen", self.initial_fee_yen)
        _check_yen("monthly_fee_yen", self.monthly_fee_yen)
        _check_yen("hourly_rate_yen", self.hourly_rate_yen)
        _check_hours("included_hours", self.included_hours, allow_negative=False)


@dataclass(frozen=True, slots=True)
class PlanPrices:
    """A plan's initial fee and monthly fee per resource."""

    initial_fee_yen: int
    monthly_fee_yen: int

    def __post_init__(self) -> None:
        _check_yen("initial_fee_yen", self.initial_fee_yen)
        _check_yen("monthly_fee_yen", self.monthly_fee_yen)


@dataclass(frozen=True, slots=True)
class PriceList:
    """The provider's list prices: per plan and per option. The seed's figures are the
    defaults; its "from ¥…" prices are the floor of a negotiation, which a contract's
    own prices override."""

    plans: Mapping[str, PlanPrices]
    options: Mapping[str, OptionPrices]

    def __post_init__(self) -> None:
        if set(self.plans) != set(PLANS):
            raise ValueError(f"a price list prices exactly the plans {', '.join(PLANS)}")
        if set(self.options) != set(OPTIONS):
            raise ValueError(f"a price list prices exactly the options {', '.join(OPTIONS)}")


def price_list_from_config(raw: Mapping[str, object], base: PriceList) -> PriceList:
    """`base` with the fees a `[prices.<plan or option>]` config table sets, so a typo
    fails at start-up: unknown tables or keys, fractions of a yen and negatives are
    refused. `included_hours` may be fractional (to the hundredth)."""
    unknown = set(raw) - set(PLANS) - set(OPTIONS)
    if unknown:
        raise ValueError(f"[prices] unknown plan or option: {', '.join(sorted(unknown))}")
    plans = dict(base.plans)
    options = dict(base.options)
    for name, table in raw.items():
        if not isinstance(table, Mapping):
            raise ValueError(f"[prices.{name}] must be a table")
        try:
            if name in PLANS:
                _check_keys(name, table, set(PlanPrices.__dataclass_fields__))
                plans[name] = PlanPrices(
                    initial_fee_yen=_yen(table, "initial_fee_yen", plans[name].initial_fee_yen),
                    monthly_fee_yen=_yen(table, "monthly_fee_yen", plans[name].monthly_fee_yen),
                )
            else:
                options[name] = _option_prices(options[name], table)
        except ValueError as exc:
            raise ValueError(f"[prices.{name}] {exc}") from exc
    return PriceList(plans=plans, options=options)


def _check_keys(name: str, table: Mapping[str, object], allowed: set[str]) -> None:
    unknown = set(table) - allowed
    if unknown:
        raise ValueError(f"unknown key(s): {', '.join(sorted(unknown))}")


SEED_PRICES = PriceList(
    plans={
        "basic": PlanPrices(initial_fee_yen=30_000, monthly_fee_yen=5_000),
        "standard": PlanPrices(initial_fee_yen=100_000, monthly_fee_yen=30_000),
        "full_managed": PlanPrices(initial_fee_yen=100_000, monthly_fee_yen=50_000),
    },
    options={
        "professional_support": OptionPrices(initial_fee_yen=100_000, monthly_fee_yen=100_000),
        "advisory": OptionPrices(monthly_fee_yen=30_000),
    },
)


@dataclass(frozen=True, slots=True)
class DiscountTier:
    """From `min_resources` resources on, monthly fees cost `percent` less."""

    min_resources: int
    percent: int


@dataclass(frozen=True, slots=True)
class VolumeDiscount:
    """A contract's volume discount: a fixed `percent`, or `tiers` by resource count.

    The count is the most resources under contract on any one day of the month, so a
    resource replaced mid-month does not count twice.
    """

    percent: int | None = None
    tiers: tuple[DiscountTier, ...] = ()

    def __post_init__(self) -> None:
        if (self.percent is None) == (not self.tiers):
            raise ValueError("a volume discount has either a percent or tiers, not both")
        for percent in [self.percent] if self.percent is not None else []:
            _check_percent(percent)
        previous = 0
        for tier in self.tiers:
            if tier.min_resources <= previous:
                raise ValueError("tiers need min_resources of 1 or more, strictly increasing")
            _check_percent(tier.percent)
            previous = tier.min_resources

    def percent_for(self, resources: int) -> int:
        """The discount in percent for a month with `resources` resources."""
        if self.percent is not None:
            return self.percent
        reached = [tier.percent for tier in self.tiers if tier.min_resources <= resources]
        return reached[-1] if reached else 0


@dataclass(frozen=True, slots=True)
class ContractTerms:
    """The prices one contract pays: the list prices with its own negotiated ones."""

    plan: str
    initial_fee_yen: int
    monthly_fee_yen: int
    options: Mapping[str, OptionPrices] = field(default_factory=dict)
    discount: VolumeDiscount | None = None

    def __post_init__(self) -> None:
        if self.plan not in PLANS:
            raise ValueError(f"unknown plan {self.plan!r}")
        unknown = set(self.options) - set(OPTIONS)
        if unknown:
            raise ValueError(f"unknown option(s): {', '.join(sorted(unknown))}")
        if self.discount is not None and self.plan not in DISCOUNTABLE_PLANS:
            raise ValueError(f"plan {self.plan!r} carries no volume discount")
        _check_yen("initial_fee_yen", self.initial_fee_yen)
        _check_yen("monthly_fee_yen", self.monthly_fee_yen)


def resolve_terms(
    prices: PriceList,
    plan: str,
    options: Iterable[str],
    plan_overrides: Mapping[str, object] | None = None,
    option_overrides: Mapping[str, Mapping[str, object]] | None = None,
    discount: VolumeDiscount | None = None,
) -> ContractTerms:
    """A contract's terms: the list prices of its plan and options, with the fees the
    contract overrides (`initial_fee_yen`, `monthly_fee_yen`; per option any field of
    `OptionPrices`) in their place."""
    if plan not in PLANS:
        raise ValueError(f"unknown plan {plan!r}")
    base = prices.plans[plan]
    own = dict(plan_overrides or {})
    unknown_keys = set(own) - {"initial_fee_yen", "monthly_fee_yen"}
    if unknown_keys:
        raise ValueError(f"unknown price key(s): {', '.join(sorted(unknown_keys))}")
    chosen: dict[str, OptionPrices] = {}
    for option in sorted(set(options)):
        if option not in OPTIONS:
            raise ValueError(f"unknown option {option!r}")
        chosen[option] = _option_prices(
            prices.options[option], (option_overrides or {}).get(option, {})
        )
    return ContractTerms(
        plan=plan,
        initial_fee_yen=_yen(own, "initial_fee_yen", base.initial_fee_yen),
        monthly_fee_yen=_yen(own, "monthly_fee_yen", base.monthly_fee_yen),
        options=chosen,
        discount=discount,
    )


def _option_prices(base: OptionPrices, own: Mapping[str, object]) -> OptionPrices:
    unknown = set(own) - set(OptionPrices.__dataclass_fields__)
    if unknown:
        raise ValueError(f"unknown option price key(s): {', '.join(sorted(unknown))}")
    return OptionPrices(
        initial_fee_yen=_yen(own, "initial_fee_yen", base.initial_fee_yen),
        monthly_fee_yen=_yen(own, "monthly_fee_yen", base.monthly_fee_yen),
        included_hours=_hours_value(own.get("included_hours", base.included_hours)),
        hourly_rate_yen=_yen(own, "hourly_rate_yen", base.hourly_rate_yen),
    )


def _yen(own: Mapping[str, object], key: str, default: int) -> int:
    value = own.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{key} must be a whole number of yen, got {value!r}")
    return value


def _hours_value(value: object) -> Decimal:
    """Hours as a decimal; a float from TOML or JSON is read by its shortest spelling."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"hours must be a number, got {value!r}")
    try:
        return Decimal(str(value))
    except ArithmeticError as exc:
        raise ValueError(f"hours must be a number, got {value!r}") from exc


@dataclass(frozen=True, slots=True)
class ResourcePeriod:
    """A resource and the days it is under contract: from `added_on` to `retired_on`
    inclusive (None: not retired)."""

    resource_id: int
    name: str
    added_on: date
    retired_on: date | None = None

    def __post_init__(self) -> None:
        if self.retired_on is not None and self.retired_on < self.added_on:
            raise ValueError(
                f"resource {self.name!r} is retired on {self.retired_on},"
                f" before it was added on {self.added_on}"
            )


@dataclass(frozen=True, slots=True)
class HoursEntry:
    """Hours worked for an option in the month (a negative entry corrects an earlier one)."""

    option: str
    hours: Decimal

    def __post_init__(self) -> None:
        if self.option not in OPTIONS:
            raise ValueError(f"unknown option {self.option!r}")
        _check_hours("hours", self.hours, allow_negative=True)


def charged_period(
    resource: ResourcePeriod, billing_start: date, cancellation: date | None
) -> tuple[date, date | None] | None:
    """The days a resource is charged for, first and last (None: open-ended): its own
    days within the contract's term from billing start to cancellation; None if none."""
    start = max(resource.added_on, billing_start)
    ends = [d for d in (resource.retired_on, cancellation) if d is not None]
    end = min(ends) if ends else None
    if end is not None and end < start:
        return None
    return start, end


@dataclass(frozen=True, slots=True)
class ContractFacts:
    """What the registry knows about one contract that a month's charges depend on."""

    contract_id: int
    billing_start: date
    terms: ContractTerms
    contract_date: date | None = None
    cancellation_date: date | None = None
    resources: tuple[ResourcePeriod, ...] = ()
    hours: tuple[HoursEntry, ...] = ()

    def __post_init__(self) -> None:
        if self.cancellation_date is not None and self.cancellation_date < self.billing_start:
            raise ValueError(
                f"cancellation date {self.cancellation_date} lies before billing start"
                f" {self.billing_start}"
            )

    @property
    def initial_fee_month(self) -> BillingMonth:
        """The month of the later of the contract date and the billing start."""
        return BillingMonth.of(max(self.contract_date or self.billing_start, self.billing_start))

    def charged_period(self, resource: ResourcePeriod) -> tuple[date, date | None] | None:
        return charged_period(resource, self.billing_start, self.cancellation_date)

    def resources_on(self, day: date) -> int:
        """How many resources are charged for `day`."""
        count = 0
        for resource in self.resources:
            period = self.charged_period(resource)
            if period is not None and period[0] <= day and (period[1] is None or day <= period[1]):
                count += 1
        return count


@dataclass(frozen=True, slots=True)
class ChargeLine:
    """One line of an invoice.

    `key` names the item within its contract (`monthly_fee:resource:12`), so an
    adjustment can name the line of the closed month it corrects; `adjusts_month` is
    that month, and `reason` says why it changed. `days_charged` of an adjustment is
    the change in days charged.
    """

    contract_id: int
    kind: str
    key: str
    description: str
    quantity: Decimal
    unit_price_yen: int
    amount_yen: int
    days_charged: int | None = None
    days_in_month: int | None = None
    adjusts_month: str | None = None
    reason: str | None = None


def month_lines(month: BillingMonth, facts: ContractFacts) -> tuple[ChargeLine, ...]:
    """The lines one contract is charged for `month`, in a fixed order.

    Initial fees (plan, then options) in the initial-fee month; each resource's monthly
    fee, per day where the month is not covered whole; each option's monthly fee (per
    day for the contract's part months) and its hours beyond the included ones; the
    early-cancellation fee in the month of a cancellation inside the minimum term; the
    volume discount on the resources' monthly fees as its own line.
    """
    terms = facts.terms
    lines: list[ChargeLine] = []
    cid = facts.contract_id
    if month == facts.initial_fee_month:
        if terms.initial_fee_yen:
            lines.append(
                ChargeLine(
                    cid,
                    "initial_fee",
                    "initial_fee",
                    f"{terms.plan} initial fee",
                    Decimal(1),
                    terms.initial_fee_yen,
                    terms.initial_fee_yen,
                )
            )
        for option, prices in terms.options.items():
            if prices.initial_fee_yen:
                lines.append(
                    ChargeLine(
                        cid,
                        "option_initial_fee",
                        f"option_initial_fee:{option}",
                        f"{option} initial fee",
                        Decimal(1),
                        prices.initial_fee_yen,
                        prices.initial_fee_yen,
                    )
                )
    resource_lines = _resource_lines(month, facts)
    lines += resource_lines
    term_days = days_active_in_month(
        month.year, month.month, facts.billing_start, facts.cancellation_date
    )
    for option, prices in terms.options.items():
        lines += _option_lines(month, facts, option, prices, term_days)
    cancellation = _early_cancellation_line(month, facts)
    if cancellation is not None:
        lines.append(cancellation)
    discount = _discount_line(month, facts, resource_lines)
    if discount is not None:
        lines.append(discount)
    return tuple(lines)


def _resource_lines(month: BillingMonth, facts: ContractFacts) -> list[ChargeLine]:
    fee = facts.terms.monthly_fee_yen
    lines = []
    for resource in sorted(facts.resources, key=lambda r: r.resource_id):
        period = facts.charged_period(resource)
        if period is None:
            continue
        days = days_active_in_month(month.year, month.month, *period)
        if days == 0:
            continue
        lines.append(
            ChargeLine(
                facts.contract_id,
                "monthly_fee",
                f"monthly_fee:resource:{resource.resource_id}",
                f"{resource.name} monthly fee",
                Decimal(1),
                fee,
                prorated_monthly_fee(fee, month.year, month.month, *period),
                days_charged=days,
                days_in_month=month.days,
            )
        )
    return lines


def _option_lines(
    month: BillingMonth,
    facts: ContractFacts,
    option: str,
    prices: OptionPrices,
    term_days: int,
) -> list[ChargeLine]:
    cid = facts.contract_id
    lines = []
    if term_days and prices.monthly_fee_yen:
        lines.append(
            ChargeLine(
                cid,
                "option_monthly_fee",
                f"option_monthly_fee:{option}",
                f"{option} monthly fee",
                Decimal(1),
                prices.monthly_fee_yen,
                prorated_monthly_fee(
                    prices.monthly_fee_yen,
                    month.year,
                    month.month,
                    facts.billing_start,
                    facts.cancellation_date,
                ),
                days_charged=term_days,
                days_in_month=month.days,
            )
        )
    worked = sum((entry.hours for entry in facts.hours if entry.option == option), Decimal(0))
    if worked > 0:
        billable = max(Decimal(0), worked - prices.included_hours)
        lines.append(
            ChargeLine(
                cid,
                "option_hours",
                f"option_hours:{option}",
                f"{option} hours: {_hours(worked)} h worked, {_hours(prices.included_hours)} h"
                " included",
                billable,
                prices.hourly_rate_yen,
                int(billable * _HUNDRED) * prices.hourly_rate_yen // 100,
            )
        )
    return lines


def _early_cancellation_line(month: BillingMonth, facts: ContractFacts) -> ChargeLine | None:
    cancellation = facts.cancellation_date
    if cancellation is None or BillingMonth.of(cancellation) != month:
        return None
    term_end = minimum_term_end(facts.billing_start)
    per_resource = early_cancellation_fee(
        facts.terms.monthly_fee_yen, facts.billing_start, cancellation
    )
    resources = facts.resources_on(cancellation)
    if per_resource == 0 or resources == 0:
        return None
    return ChargeLine(
        facts.contract_id,
        "early_cancellation_fee",
        "early_cancellation_fee",
        f"early cancellation: monthly fees from {cancellation + timedelta(days=1)}"
        f" to the minimum term's end {term_end}, per resource",
        Decimal(resources),
        per_resource,
        per_resource * resources,
    )


def _discount_line(
    month: BillingMonth, facts: ContractFacts, resource_lines: Sequence[ChargeLine]
) -> ChargeLine | None:
    discount = facts.terms.discount
    base = sum(line.amount_yen for line in resource_lines)
    if discount is None or base == 0:
        return None
    count = max(
        facts.resources_on(month.first_day + timedelta(days=offset)) for offset in range(month.days)
    )
    percent = discount.percent_for(count)
    if percent == 0:
        return None
    amount = base * (100 - percent) // 100 - base
    return ChargeLine(
        facts.contract_id,
        "volume_discount",
        "volume_discount",
        f"volume discount {percent}% on monthly fees of ¥{base:,} ({count} resources)",
        Decimal(1),
        amount,
        amount,
    )


def adjustment_lines(
    adjusted: BillingMonth,
    billed: Iterable[ChargeLine],
    recomputed: Iterable[ChargeLine],
    reasons: Mapping[tuple[int, str], str] | None = None,
) -> tuple[ChargeLine, ...]:
    """Lines that bring what `adjusted` (a closed month) billed to what its facts say now.

    `billed` are the month's own lines and every adjustment of it billed since;
    `recomputed` the lines its facts give today. Each item whose amount differs gets one
    line of the difference, with the change in days charged and a reason: the one
    `reasons` gives for (contract id, item key), else what changed.
    """
    was = _totals(billed)
    now = _totals(recomputed)
    lines = []
    for item in sorted(set(was) | set(now)):
        before = was.get(item, _Total())
        after = now.get(item, _Total())
        difference = after.amount - before.amount
        if difference == 0:
            continue
        contract_id, key = item
        what = after.description or before.description
        change = (
            f"{before.days} → {after.days} days"
            if before.days is not None or after.days is not None
            else f"¥{before.amount:,} → ¥{after.amount:,}"
        )
        lines.append(
            ChargeLine(
                contract_id,
                "adjustment",
                key,
                f"adjustment of {adjusted}: {what} ({change})",
                Decimal(1),
                difference,
                difference,
                days_charged=(
                    None
                    if before.days is None and after.days is None
                    else (after.days or 0) - (before.days or 0)
                ),
                adjusts_month=str(adjusted),
                reason=(reasons or {}).get(item) or f"{what} changed after {adjusted} closed",
            )
        )
    return tuple(lines)


@dataclass(slots=True)
class _Total:
    amount: int = 0
    days: int | None = None
    description: str = ""


def _totals(lines: Iterable[ChargeLine]) -> dict[tuple[int, str], _Total]:
    totals: dict[tuple[int, str], _Total] = {}
    for line in lines:
        total = totals.setdefault((line.contract_id, line.key), _Total())
        total.amount += line.amount_yen
        if line.days_charged is not None:
            total.days = (total.days or 0) + line.days_charged
        if line.kind != "adjustment":
            total.description = line.description
    return totals


def _hours(value: Decimal) -> str:
    return f"{value.normalize():f}"
