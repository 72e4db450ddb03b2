"""Monthly charges: the statement of a month, closing it, and option hours."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Path, Query, Request, status
from fastapi.responses import JSONResponse
from sqlalchemy import select

from daemon import charges
from daemon.api.charge_schemas import ChargesOut, HoursIn, HoursOut
from daemon.api.deps import (
    Admin,
    NowDep,
    Operator,
    ReaderDep,
    ServicesDep,
    SessionDep,
    StrictQuery,
    Viewer,
)
from daemon.api.problems import Problem, not_found, problem_response, problem_responses
from daemon.api.types import Id
from daemon.charges import ChargesRefused
from daemon.store.models import Contract, Customer, OptionHours
from sla_engine.charges import BillingMonth

router = APIRouter(prefix="/v1", tags=["charges"], dependencies=[StrictQuery])

MonthText = Annotated[str, Query(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM")]


def install(app: FastAPI) -> None:
    """Answer a refused charges request or registry change with its problem+json."""

    async def refused(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ChargesRefused)
        return problem_response(exc.status, exc.slug, exc.detail)

    app.add_exception_handler(ChargesRefused, refused)


def _month(text: str, field: str = "month") -> BillingMonth:
    try:
        return BillingMonth.parse(text)
    except ValueError as exc:
        raise Problem(422, "invalid-month", f"{field}: {exc}") from exc


@router.get("/charges", response_model=ChargesOut, responses=problem_responses(404))
def get_charges(
    session: ReaderDep,
    svc: ServicesDep,
    _who: Viewer,
    month: MonthText,
    customer: Id | None = None,
) -> dict[str, Any]:
    """The month's charges, contract by contract and line by line.

    A closed month answers as it was invoiced; an open month is a draft computed from
    the registry now, and the month after the last closed one carries the adjustments
    of closed months whose facts changed since.
    """
    billing_month = _month(month)
    if customer is not None and session.get(Customer, customer) is None:
        raise not_found("customer", customer)
    return charges.statement(
        session, billing_month, svc.config.prices, svc.config.calendar, customer
    )


@router.post("/charges/{month}/close", response_model=ChargesOut, responses=problem_responses(409))
def close_charges(
    month: Annotated[str, Path(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM")],
    session: SessionDep,
    svc: ServicesDep,
    who: Admin,
    now: NowDep,
) -> dict[str, Any]:
    """Close an ended month once its invoices are out: its statement never changes
    again, and later changes to its facts become adjustments next month. Months close
    in order."""
    return charges.close_month(
        session, _month(month), svc.config.prices, svc.config.calendar, now, who.name
    )


def _hours_out(entry: OptionHours, total_centihours: int) -> HoursOut:
    return HoursOut(
        id=entry.id,
        contract_id=entry.contract_id,
        option=entry.option,
        month=entry.month,
        hours=float(Decimal(entry.centihours) / 100),
        note=entry.note,
        actor=entry.actor,
        recorded_at=entry.recorded_at,
        month_total_hours=float(Decimal(total_centihours) / 100),
    )


@router.post(
    "/contracts/{contract_id}/hours",
    status_code=status.HTTP_201_CREATED,
    response_model=HoursOut,
)
def record_hours(
    contract_id: Id,
    body: HoursIn,
    session: SessionDep,
    svc: ServicesDep,
    who: Operator,
    now: NowDep,
) -> HoursOut:
    """Record hours worked for an option (professional support, advisory) in a month;
    those beyond the included hours are charged at the hourly rate. Audited."""
    contract = session.get(Contract, contract_id)
    if contract is None:
        raise not_found("contract", contract_id)
    entry, total = charges.record_hours(
        session,
        contract,
        _month(body.month),
        body.option,
        body.hours,
        body.note,
        body.reason,
        who.name,
        now,
        now.astimezone(svc.config.calendar.timezone).date(),
    )
    return _hours_out(entry, total)


@router.get("/contracts/{contract_id}/hours", response_model=list[HoursOut])
def list_hours(
    contract_id: Id, session: ReaderDep, _who: Viewer, month: MonthText
) -> list[HoursOut]:
    """The hours recorded for a contract's options in a month, oldest first."""
    if session.get(Contract, contract_id) is None:
        raise not_found("contract", contract_id)
    _month(month)
    entries = session.scalars(
        select(OptionHours)
        .where(OptionHours.contract_id == contract_id, OptionHours.month == month)
        .order_by(OptionHours.id)
    ).all()
    totals: dict[str, int] = {}
    for entry in entries:
        totals[entry.option] = totals.get(entry.option, 0) + entry.centihours
    return [_hours_out(entry, totals[entry.option]) for entry in entries]
