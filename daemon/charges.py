"""A month's charges from the registry, and closing a month once it is invoiced.

The engine (`sla_engine.charges`) prices one contract's month from its facts; this
module reads those facts from the store, assembles every contract's lines into the
month's statement and keeps closed months immutable.

**Closing.** A month is *open* (a draft that follows every change to the registry)
until an administrator closes it (`POST /v1/charges/{month}/close`) once it has ended,
which is what a provider does when the invoices have gone out: it is the 締め of the
seed's 当月末に締め. Closing is explicit rather than automatic at the invoice date
because the provider, not the calendar, decides when invoices are final: a draft
checked and corrected on the 2nd business day must not be frozen half-way, and a
month must never close before someone has looked at it. Months close in order, so
every closed month has been the open month after the previous one.

A closed month's statement is stored as it was invoiced (lines and the prices each
contract was charged at) and is answered from storage ever after. A later change of
its *dated* facts (a resource retired back-dated, a cancellation or contract date
moved, hours recorded late) does not change it: the first open month after the last
closed one carries, per changed item, an adjustment line of the difference with its
reason. A change of prices, plan or options applies from the first open month:
closed months are recomputed with the prices they were invoiced at. A change whose
dates fall inside a closed month needs a reason, which the audit log keeps and the
adjustment line quotes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from daemon import audit
from daemon.store.models import AuditEntry, ClosedMonth, Contract, OptionHours, Resource
from sla_engine.calendar import BusinessCalendar
from sla_engine.charges import (
    OPTIONS,
    BillingMonth,
    ChargeLine,
    ContractFacts,
    ContractTerms,
    DiscountTier,
    HoursEntry,
    OptionPrices,
    PriceList,
    ResourcePeriod,
    VolumeDiscount,
    adjustment_lines,
    charged_period,
    invoice_date,
    month_lines,
    resolve_terms,
)
from sla_engine.contract_terms import earliest_cancellation_date

CLOSE_ACTION = "charges.close"


class ChargesRefused(ValueError):
    """A charges request or registry change that must be refused (HTTP status, slug)."""

    def __init__(self, status: int, slug: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.detail = detail


# --- terms and facts from the registry ----------------------------------------------


def discount_from_stored(stored: Mapping[str, Any] | None) -> VolumeDiscount | None:
    if not stored:
        return None
    tiers = tuple(
        DiscountTier(int(t["min_resources"]), int(t["percent"])) for t in stored.get("tiers") or ()
    )
    percent = stored.get("percent")
    return VolumeDiscount(percent=None if percent is None else int(percent), tiers=tiers)


def contract_terms(contract: Contract, prices: PriceList) -> ContractTerms:
    """The prices `contract` pays now: the list prices with its negotiated ones.

    Raises ValueError naming what is wrong (e.g. a discount on a basic contract).
    """
    own = dict(contract.prices or {})
    return resolve_terms(
        prices,
        contract.plan,
        contract.options,
        plan_overrides={k: v for k, v in own.items() if k not in OPTIONS},
        option_overrides={k: v for k, v in own.items() if k in OPTIONS},
        discount=discount_from_stored(contract.volume_discount),
    )


def check_contract(
    contract: Contract, prices: PriceList, today: date, *, cancellation_changed: bool
) -> None:
    """Refuse a contract whose dates or prices the charges could not honour.

    The cancellation date must not lie before billing start nor, when it or the notice
    date is being set, before the earliest one the notice allows (SPEC §7: the day
    before the same day of the next month); a cancellation set without a notice date
    is taken as notice given `today`. A contract cancelled before slad knew notice
    dates keeps its cancellation date through unrelated changes.
    """
    cancellation = contract.cancellation_date
    if cancellation is not None and cancellation < contract.billing_start:
        raise ChargesRefused(422, "invalid-dates", "cancellation_date lies before billing_start")
    if cancellation is not None and cancellation_changed:
        if contract.notice_date is None:
            contract.notice_date = today
        earliest = earliest_cancellation_date(contract.notice_date)
        if cancellation < earliest:
            raise ChargesRefused(
                422,
                "cancellation-too-early",
                f"cancellation_date {cancellation} lies before {earliest}, the earliest"
                f" cancellation date for notice given on {contract.notice_date}"
                " (the day before the same day of the next month)",
            )
    try:
        contract_terms(contract, prices)
    except ValueError as exc:
        raise ChargesRefused(422, "invalid-prices", str(exc)) from exc


def _facts(
    contract: Contract, terms: ContractTerms, hours: Sequence[HoursEntry] = ()
) -> ContractFacts:
    return ContractFacts(
        contract_id=contract.id,
        billing_start=contract.billing_start,
        terms=terms,
        contract_date=contract.contract_date,
        cancellation_date=contract.cancellation_date,
        resources=tuple(
            ResourcePeriod(r.id, r.name, r.added_on, r.retired_on) for r in contract.resources
        ),
        hours=tuple(hours),
    )


def _hours(session: Session, month: BillingMonth) -> dict[int, list[HoursEntry]]:
    found: dict[int, list[HoursEntry]] = defaultdict(list)
    rows = session.execute(
        select(OptionHours.contract_id, OptionHours.option, OptionHours.centihours).where(
            OptionHours.month == str(month)
        )
    )
    for contract_id, option, centihours in rows:
        found[contract_id].append(HoursEntry(option, Decimal(centihours) / 100))
    return found


def _contracts(session: Session) -> list[Contract]:
    return list(
        session.scalars(
            select(Contract)
            .options(selectinload(Contract.resources), selectinload(Contract.customer))
            .order_by(Contract.id)
        )
    )


# --- statements -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Closed:
    month: BillingMonth
    row: ClosedMonth

    @property
    def contracts(self) -> list[dict[str, Any]]:
        contracts: list[dict[str, Any]] = self.row.statement["contracts"]
        return contracts


def _closed_months(session: Session) -> list[_Closed]:
    rows = session.scalars(select(ClosedMonth).order_by(ClosedMonth.month))
    return [_Closed(BillingMonth.parse(row.month), row) for row in rows]


def statement(
    session: Session,
    month: BillingMonth,
    prices: PriceList,
    calendar: BusinessCalendar,
    customer_id: int | None = None,
) -> dict[str, Any]:
    """The month's charges per contract: the stored statement of a closed month, else
    the draft computed from the registry as it is now (see the module docstring)."""
    closed = _closed_months(session)
    for done in closed:
        if done.month == month:
            return _document(
                month,
                done.row.invoice_date,
                _filtered(done.contracts, customer_id),
                {
                    "status": "closed",
                    "closed_at": done.row.closed_at,
                    "closed_by": done.row.closed_by,
                },
            )
    contracts = _open_month(session, month, prices, closed)
    return _document(
        month,
        invoice_date(month, calendar),
        _filtered(contracts, customer_id),
        {"status": "open", "closed_at": None, "closed_by": None},
    )


def close_month(
    session: Session,
    month: BillingMonth,
    prices: PriceList,
    calendar: BusinessCalendar,
    now: datetime,
    actor: str,
) -> dict[str, Any]:
    """Close `month` for good: store its statement as it stands now, audited.

    Refused before the month has ended, twice, or out of order (the month after the
    last closed one must be closed next).
    """
    today = now.astimezone(calendar.timezone).date()
    if today <= month.last_day:
        raise ChargesRefused(
            409,
            "month-not-ended",
            f"{month} has not ended yet; it can be closed from {month.shifted(1)}-01",
        )
    closed = _closed_months(session)
    if any(done.month == month for done in closed):
        raise ChargesRefused(409, "month-closed", f"{month} is closed already")
    if closed and month != closed[-1].month.shifted(1):
        expected = closed[-1].month.shifted(1)
        raise ChargesRefused(
            409,
            "month-out-of-order",
            f"months close in order: the last closed month is {closed[-1].month},"
            f" so {expected} closes next",
        )
    contracts = _open_month(session, month, prices, closed)
    row = ClosedMonth(
        month=str(month),
        closed_at=now,
        closed_by=actor,
        invoice_date=invoice_date(month, calendar),
        statement={"contracts": contracts},
    )
    session.add(row)
    session.flush()
    total = sum(c["total_yen"] for c in contracts)
    audit.record(
        session,
        at=now,
        actor=actor,
        action=CLOSE_ACTION,
        target_type="month",
        target_id=str(month),
        detail={"total_yen": total, "contracts": len([c for c in contracts if c["lines"]])},
    )
    return statement(session, month, prices, calendar)


def _open_month(
    session: Session, month: BillingMonth, prices: PriceList, closed: Sequence[_Closed]
) -> list[dict[str, Any]]:
    """Every contract's lines for an open month, with the adjustments of closed months
    if it is the month after the last closed one."""
    registry = _contracts(session)
    hours = _hours(session, month)
    entries: dict[int, dict[str, Any]] = {}
    for contract in registry:
        try:
            terms = contract_terms(contract, prices)
        except ValueError as exc:
            raise ChargesRefused(
                409, "invalid-prices", f"contract {contract.id} cannot be priced: {exc}"
            ) from exc
        entries[contract.id] = _entry(
            contract.id,
            contract.customer_id,
            contract.customer.name,
            contract.plan,
            terms,
            month_lines(month, _facts(contract, terms, hours.get(contract.id, ()))),
        )
    if closed and month == closed[-1].month.shifted(1):
        for contract_id, adjustments in _adjustments(session, registry, prices, closed).items():
            entry = entries.get(contract_id)
            if entry is None:  # a contract deleted since: its credit still belongs to someone
                entry = entries[contract_id] = _entry_of_closed(closed, contract_id)
            entry["lines"] += [_line_out(line) for line in adjustments]
            entry["total_yen"] = sum(line["amount_yen"] for line in entry["lines"])
    return [entries[key] for key in sorted(entries)]


def _adjustments(
    session: Session,
    registry: Sequence[Contract],
    prices: PriceList,
    closed: Sequence[_Closed],
) -> dict[int, list[ChargeLine]]:
    """Per contract, the adjustment lines of every closed month whose facts changed."""
    reasons = _reasons_since(session, closed[-1].month, registry)
    found: dict[int, list[ChargeLine]] = defaultdict(list)
    for index, done in enumerate(closed):
        billed = [
            line
            for c in done.contracts
            for line in (_line_in(c["contract_id"], raw) for raw in c["lines"])
            if line.adjusts_month is None
        ]
        for later in closed[index + 1 :]:
            billed += [
                line
                for c in later.contracts
                for line in (_line_in(c["contract_id"], raw) for raw in c["lines"])
                if line.adjusts_month == str(done.month)
            ]
        terms_then = {c["contract_id"]: _terms_in(c["terms"]) for c in done.contracts}
        hours = _hours(session, done.month)
        recomputed = [
            line
            for contract in registry
            for line in month_lines(
                done.month,
                _facts(
                    contract,
                    terms_then.get(contract.id) or contract_terms(contract, prices),
                    hours.get(contract.id, ()),
                ),
            )
        ]
        for line in adjustment_lines(done.month, billed, recomputed, reasons):
            found[line.contract_id].append(line)
    return found


def _reasons_since(
    session: Session, last_closed: BillingMonth, registry: Sequence[Contract]
) -> dict[tuple[int, str], str]:
    """The reasons given for changes since the last close, by the item they touch: a
    resource's own for its monthly fee, and for every other item of the contract (the
    discount follows the resource count) those of the contract and its resources."""
    by_target: dict[tuple[str, str], list[str]] = defaultdict(list)
    closing = (
        select(AuditEntry.id)
        .where(AuditEntry.action == CLOSE_ACTION, AuditEntry.target_id == str(last_closed))
        .scalar_subquery()
    )
    rows = session.execute(
        select(AuditEntry.target_type, AuditEntry.target_id, AuditEntry.reason)
        .where(AuditEntry.id > closing, AuditEntry.reason.is_not(None))
        .where(AuditEntry.target_type.in_(("contract", "resource")))
        .order_by(AuditEntry.id)
    )
    for target_type, target_id, reason in rows:
        if reason and reason not in by_target[(target_type, target_id)]:
            by_target[(target_type, target_id)].append(reason)
    reasons: dict[tuple[int, str], str] = {}
    for contract in registry:
        general = list(by_target.get(("contract", str(contract.id)), []))
        for member in contract.resources:
            general += [
                r for r in by_target.get(("resource", str(member.id)), []) if r not in general
            ]
        for key in _item_keys(contract):
            _, _, resource_id = key.partition(":resource:")
            own = by_target.get(("resource", resource_id), []) if resource_id else general
            if own or general:
                reasons[(contract.id, key)] = "; ".join(own or general)
    return reasons


def _item_keys(contract: Contract) -> list[str]:
    keys = [
        "initial_fee",
        "early_cancellation_fee",
        "volume_discount",
        *(f"{kind}:{option}" for option in OPTIONS for kind in _OPTION_KINDS),
    ]
    return keys + [f"monthly_fee:resource:{r.id}" for r in contract.resources]


_OPTION_KINDS = ("option_initial_fee", "option_monthly_fee", "option_hours")


def _entry(
    contract_id: int,
    customer_id: int,
    customer: str,
    plan: str,
    terms: ContractTerms,
    lines: Iterable[ChargeLine],
) -> dict[str, Any]:
    out = [_line_out(line) for line in lines]
    return {
        "contract_id": contract_id,
        "customer_id": customer_id,
        "customer": customer,
        "plan": plan,
        "terms": _terms_out(terms),
        "lines": out,
        "total_yen": sum(line["amount_yen"] for line in out),
    }


def _entry_of_closed(closed: Sequence[_Closed], contract_id: int) -> dict[str, Any]:
    for done in reversed(closed):
        for contract in done.contracts:
            if contract["contract_id"] == contract_id:
                return {**contract, "lines": [], "total_yen": 0}
    raise LookupError(f"contract {contract_id} is in no closed month")


def _filtered(contracts: Iterable[dict[str, Any]], customer_id: int | None) -> list[dict[str, Any]]:
    return [
        c
        for c in contracts
        if c["lines"] and (customer_id is None or c["customer_id"] == customer_id)
    ]


def _document(
    month: BillingMonth, invoiced: date, contracts: list[dict[str, Any]], status: dict[str, Any]
) -> dict[str, Any]:
    return {
        "month": str(month),
        "invoice_date": invoiced,
        **status,
        "contracts": [{k: v for k, v in c.items() if k != "terms"} for c in contracts],
        "total_yen": sum(c["total_yen"] for c in contracts),
    }


# --- stored forms ---------------------------------------------------------------------


def _line_out(line: ChargeLine) -> dict[str, Any]:
    return {
        "kind": line.kind,
        "key": line.key,
        "description": line.description,
        "quantity": str(line.quantity),
        "unit_price_yen": line.unit_price_yen,
        "days_charged": line.days_charged,
        "days_in_month": line.days_in_month,
        "amount_yen": line.amount_yen,
        "adjusts_month": line.adjusts_month,
        "reason": line.reason,
    }


def _line_in(contract_id: int, raw: Mapping[str, Any]) -> ChargeLine:
    return ChargeLine(
        contract_id=contract_id,
        kind=raw["kind"],
        key=raw["key"],
        description=raw["description"],
        quantity=Decimal(raw["quantity"]),
        unit_price_yen=raw["unit_price_yen"],
        amount_yen=raw["amount_yen"],
        days_charged=raw["days_charged"],
        days_in_month=raw["days_in_month"],
        adjusts_month=raw["adjusts_month"],
        reason=raw["reason"],
    )


def _terms_out(terms: ContractTerms) -> dict[str, Any]:
    discount = terms.discount
    return {
        "plan": terms.plan,
        "initial_fee_yen": terms.initial_fee_yen,
        "monthly_fee_yen": terms.monthly_fee_yen,
        "options": {
            name: {
                "initial_fee_yen": o.initial_fee_yen,
                "monthly_fee_yen": o.monthly_fee_yen,
                "included_hours": str(o.included_hours),
                "hourly_rate_yen": o.hourly_rate_yen,
            }
            for name, o in terms.options.items()
        },
        "discount": None
        if discount is None
        else {
            "percent": discount.percent,
            "tiers": [
                {"min_resources": t.min_resources, "percent": t.percent} for t in discount.tiers
            ],
        },
    }


def _terms_in(raw: Mapping[str, Any]) -> ContractTerms:
    return ContractTerms(
        plan=raw["plan"],
        initial_fee_yen=raw["initial_fee_yen"],
        monthly_fee_yen=raw["monthly_fee_yen"],
        options={
            name: OptionPrices(
                initial_fee_yen=o["initial_fee_yen"],
                monthly_fee_yen=o["monthly_fee_yen"],
                included_hours=Decimal(o["included_hours"]),
                hourly_rate_yen=o["hourly_rate_yen"],
            )
            for name, o in raw["options"].items()
        },
        discount=discount_from_stored(raw["discount"]),
    )


# --- guarding closed months -----------------------------------------------------------


def last_closed_day(session: Session) -> date | None:
    """The last day of the last closed month, or None while no month is closed."""
    month = session.scalar(select(ClosedMonth.month).order_by(ClosedMonth.month.desc()).limit(1))
    return None if month is None else BillingMonth.parse(month).last_day


def require_reason_for_closed(
    session: Session, touched: Iterable[date | None], reason: str | None, what: str
) -> None:
    """Refuse, without a reason, a change whose dates reach into a closed month: it will
    be invoiced as an adjustment, and the customer is owed the why."""
    closed_until = last_closed_day(session)
    if closed_until is None or (reason and reason.strip()):
        return
    inside = sorted(day for day in touched if day is not None and day <= closed_until)
    if inside:
        raise ChargesRefused(
            422,
            "reason-required",
            f"{what} reaches {inside[0]}, inside a closed month (months are closed up to"
            f" {closed_until}); give a reason: it is quoted on next month's adjustment",
        )


def charged_in_closed_month(session: Session, resource: Resource) -> bool:
    """Whether a closed month charged `resource` (its history must then be kept)."""
    closed_until = last_closed_day(session)
    if closed_until is None:
        return False
    contract = resource.contract
    period = charged_period(
        ResourcePeriod(resource.id, resource.name, resource.added_on, resource.retired_on),
        contract.billing_start,
        contract.cancellation_date,
    )
    return period is not None and period[0] <= closed_until


def record_hours(
    session: Session,
    contract: Contract,
    month: BillingMonth,
    option: str,
    hours: Decimal,
    note: str,
    reason: str | None,
    actor: str,
    now: datetime,
    today: date,
) -> tuple[OptionHours, int]:
    """Record hours worked for an option of `contract` in `month`, audited; returns the
    entry and the month's total for the option, in hundredths of an hour.

    Refused for an option the contract does not have, for a month outside its term or
    still to come, and when the month's total would fall below zero.
    """
    if option not in contract.options:
        raise ChargesRefused(
            422, "option-not-contracted", f"contract {contract.id} has no {option} option"
        )
    if month < BillingMonth.of(contract.billing_start) or (
        contract.cancellation_date is not None
        and month > BillingMonth.of(contract.cancellation_date)
    ):
        raise ChargesRefused(
            422, "outside-term", f"{month} lies outside contract {contract.id}'s term"
        )
    if month > BillingMonth.of(today):
        raise ChargesRefused(
            422, "future-month", f"{month} has not begun; hours are recorded as worked"
        )
    if hours == 0 or hours != hours.quantize(Decimal("0.01")):
        raise ChargesRefused(
            422, "invalid-hours", "hours must be non-zero, in hundredths of an hour at most"
        )
    require_reason_for_closed(session, [month.last_day], reason, f"hours for {month}")
    centihours = int(hours * 100)
    recorded = session.scalars(
        select(OptionHours.centihours).where(
            OptionHours.contract_id == contract.id,
            OptionHours.month == str(month),
            OptionHours.option == option,
        )
    )
    total = sum(recorded) + centihours
    if total < 0:
        raise ChargesRefused(
            422,
            "invalid-hours",
            f"the correction would leave {Decimal(total) / 100} hours of {option} in {month}",
        )
    entry = OptionHours(
        contract_id=contract.id,
        month=str(month),
        option=option,
        centihours=centihours,
        note=note,
        actor=actor,
        recorded_at=now,
    )
    session.add(entry)
    session.flush()
    audit.record(
        session,
        at=now,
        actor=actor,
        action="contract.hours",
        target_type="contract",
        target_id=contract.id,
        reason=reason,
        detail={"month": str(month), "option": option, "hours": str(hours), "note": note},
    )
    return entry, total
