"""Requests from customers: reported incidents, operations requests, professional support.

Customer-reported incidents (障害受付) and operations requests (運用代行) carry no time
promise and are refused for plans that do not accept them. Professional-support
requests get the business-day `support_reply` clock when the contract has the option
and the channel is in scope; otherwise they are recorded with the reason they have none.
All of them hold what customers wrote to the provider, so even reading them needs an
operator (`docs/api-roles.md`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query, status
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from daemon import audit
from daemon.api.deps import NowDep, Operator, ReaderDep, ServicesDep, SessionDep, StrictQuery
from daemon.api.incidents import BREACHED, clock_out
from daemon.api.instants import ActionBody, resolve_at
from daemon.api.problems import Problem, not_found, problem_responses, unknown_reference
from daemon.api.schemas import (
    ActionIn,
    ServiceRequestIn,
    ServiceRequestOut,
    SupportRequestOut,
)
from daemon.api.types import Id
from daemon.clocks import evaluate_support_request, refresh_support_request
from daemon.services import Services
from daemon.store.models import Contract, ServiceRequest, SupportRequest
from sla_engine.policy import CalendarKind, clocks_for
from sla_engine.support import is_in_scope

router = APIRouter(prefix="/v1", tags=["requests"], dependencies=[StrictQuery])

Kind = Literal["customer_incident", "operations_request"]
_ACCEPTS = {
    "customer_incident": ("accepts_customer_incidents", "customer-reported incidents"),
    "operations_request": ("accepts_operations_requests", "operations requests"),
}


def _contract(session: Session, contract_id: int) -> Contract:
    contract = session.get(Contract, contract_id)
    if contract is None:
        raise unknown_reference("contract_id", "contract", contract_id)
    return contract


def _received(body: ServiceRequestIn, now: datetime, svc: Services) -> datetime:
    tolerance = timedelta(seconds=svc.config.server.past_tolerance_seconds)
    at, _ = resolve_at(body.received_at, body.reason, now, tolerance)
    return at


def service_out(r: ServiceRequest) -> ServiceRequestOut:
    return ServiceRequestOut(
        id=r.id,
        kind=r.kind,
        contract_id=r.contract_id,
        received_at=r.received_at,
        channel=r.channel,
        subject=r.subject,
        status=r.status,
        started_at=r.started_at,
        completed_at=r.completed_at,
    )


def _create_service(
    kind: Kind, body: ServiceRequestIn, session: Session, svc: Services, who: str, now: datetime
) -> ServiceRequestOut:
    contract = _contract(session, body.contract_id)
    plan = svc.config.plans[contract.plan]
    flag, label = _ACCEPTS[kind]
    if not getattr(plan, flag):
        raise Problem(
            422,
            "plan-not-eligible",
            f"the {plan.key} plan ({plan.name}) does not accept {label}",
            plan=plan.key,
        )
    request = ServiceRequest(
        kind=kind,
        contract_id=contract.id,
        received_at=_received(body, now, svc),
        channel=body.channel,
        subject=body.subject,
        status="open",
        created_at=now,
    )
    session.add(request)
    session.flush()
    audit.record(
        session,
        at=now,
        actor=who,
        action=f"{kind}.create",
        target_type=kind,
        target_id=request.id,
        reason=body.reason,
        detail=body.model_dump(mode="json"),
    )
    return service_out(request)


def _list_service(kind: Kind, session: Session, contract_id: int | None) -> list[ServiceRequestOut]:
    stmt = select(ServiceRequest).where(ServiceRequest.kind == kind).order_by(ServiceRequest.id)
    if contract_id is not None:
        stmt = stmt.where(ServiceRequest.contract_id == contract_id)
    return [service_out(r) for r in session.scalars(stmt)]


def _advance(
    kind: Kind,
    request_id: Id,
    step: Literal["start", "complete"],
    body: ActionIn,
    session: Session,
    svc: Services,
    who: str,
    now: datetime,
) -> ServiceRequestOut:
    request = session.get(ServiceRequest, request_id)
    if request is None or request.kind != kind:
        raise not_found(kind.replace("_", " "), request_id)
    tolerance = timedelta(seconds=svc.config.server.past_tolerance_seconds)
    at, _ = resolve_at(body.at, body.reason, now, tolerance)
    if at < request.received_at:
        raise Problem(422, "before-receipt", "the request cannot be handled before its receipt")
    if step == "start":
        if request.started_at is not None:
            raise Problem(409, "already-started", f"request {request_id} was started already")
        request.started_at, request.status = at, "in_progress"
    else:
        if request.completed_at is not None:
            raise Problem(409, "already-completed", f"request {request_id} is complete")
        request.completed_at, request.status = at, "completed"
        request.started_at = request.started_at or at
    audit.record(
        session,
        at=now,
        actor=who,
        action=f"{kind}.{step}",
        target_type=kind,
        target_id=request.id,
        reason=body.reason,
        detail={"at": at.isoformat()},
    )
    return service_out(request)


def _register(kind: Kind, path: str, doc: str) -> None:
    """The create, list and start/complete routes of one kind of service request."""

    def create(
        body: ServiceRequestIn, session: SessionDep, svc: ServicesDep, who: Operator, now: NowDep
    ) -> ServiceRequestOut:
        return _create_service(kind, body, session, svc, who.name, now)

    def list_requests(
        session: ReaderDep, _who: Operator, contract_id: Id | None = None
    ) -> list[ServiceRequestOut]:
        return _list_service(kind, session, contract_id)

    def advance(
        request_id: Id,
        step: Literal["start", "complete"],
        body: ActionBody,
        session: SessionDep,
        svc: ServicesDep,
        who: Operator,
        now: NowDep,
    ) -> ServiceRequestOut:
        return _advance(kind, request_id, step, body, session, svc, who.name, now)

    router.post(
        path,
        status_code=status.HTTP_201_CREATED,
        response_model=ServiceRequestOut,
        name=f"create_{kind}",
        description=doc,
    )(create)
    router.get(path, response_model=list[ServiceRequestOut], name=f"list_{kind}")(list_requests)
    router.post(
        f"{path}/{{request_id}}/{{step}}",
        response_model=ServiceRequestOut,
        name=f"advance_{kind}",
        responses=problem_responses(409),
    )(advance)


_register(
    "customer_incident",
    "/customer-incidents",
    "Record an incident the customer reported (not accepted on the basic plan).",
)
_register(
    "operations_request",
    "/operations-requests",
    "Record an operations request (not accepted on the basic plan).",
)


def support_out(r: SupportRequest, svc: Services, now: datetime) -> SupportRequestOut:
    evaluation = evaluate_support_request(r, svc.config.calendar, now)
    policy = r.policy[0] if r.policy else None
    return SupportRequestOut(
        id=r.id,
        contract_id=r.contract_id,
        received_at=r.received_at,
        channel=r.channel,
        subject=r.subject,
        in_scope=r.in_scope,
        scope_note=r.scope_note,
        replied_at=r.replied_at,
        clock=clock_out("support_reply", evaluation, policy) if r.policy else None,
    )


@router.post(
    "/support-requests", status_code=status.HTTP_201_CREATED, response_model=SupportRequestOut
)
def create_support_request(
    body: ServiceRequestIn, session: SessionDep, svc: ServicesDep, who: Operator, now: NowDep
) -> SupportRequestOut:
    """Record a professional-support request; its clock counts business days (Asia/Tokyo)."""
    contract = _contract(session, body.contract_id)
    plan = svc.config.plans[contract.plan]
    policies = [
        p for p in clocks_for(plan, contract.options) if p.calendar is CalendarKind.BUSINESS_DAYS
    ]
    note = ""
    if not contract.professional_support:
        note = "the contract has no professional-support option"
    elif not is_in_scope(body.channel):
        note = (
            f"channel {body.channel!r} is not a support channel "
            "(ticket, email, phone); no response time applies"
        )
    elif not policies:
        note = f"the support_reply clock is switched off for the {plan.key} plan"
    request = SupportRequest(
        contract_id=contract.id,
        received_at=_received(body, now, svc),
        channel=body.channel,
        subject=body.subject,
        in_scope=not note,
        scope_note=note,
        policy=[p.to_dict() for p in policies] if not note else [],
        created_at=now,
    )
    session.add(request)
    session.flush()
    refresh_support_request(request, svc.config.calendar, now, contract.plan)
    audit.record(
        session,
        at=now,
        actor=who.name,
        action="support_request.create",
        target_type="support_request",
        target_id=request.id,
        reason=body.reason,
        detail=body.model_dump(mode="json"),
    )
    return support_out(request, svc, now)


def _load_support(session: Session, request_id: int) -> SupportRequest:
    stmt = (
        select(SupportRequest)
        .where(SupportRequest.id == request_id)
        .options(selectinload(SupportRequest.clocks))
    )
    request = session.scalar(stmt)
    if request is None:
        raise not_found("support request", request_id)
    return request


def _breached(out: SupportRequestOut, now: datetime) -> bool:
    """Whether the request's clock missed a target: by its outcome once replied, or a
    running clock already past its SLO due instant."""
    clock = out.clock
    if clock is None:
        return False
    if clock.outcome is not None:
        return clock.outcome in BREACHED
    return clock.slo_due is not None and clock.slo_due < now


@router.get("/support-requests", response_model=list[SupportRequestOut])
def list_support_requests(
    session: ReaderDep,
    svc: ServicesDep,
    _who: Operator,
    now: NowDep,
    contract_id: Id | None = None,
    in_scope: bool | None = None,
    state: Annotated[
        Literal["running", "paused", "stopped"] | None,
        Query(description="the state of the `support_reply` clock now"),
    ] = None,
    breached: bool | None = None,
) -> list[SupportRequestOut]:
    """Oldest first, filtered; `state` and `breached` judge each clock as of now."""
    stmt = select(SupportRequest)
    if contract_id is not None:
        stmt = stmt.where(SupportRequest.contract_id == contract_id)
    if in_scope is not None:
        stmt = stmt.where(SupportRequest.in_scope == in_scope)
    items = [support_out(r, svc, now) for r in session.scalars(stmt.order_by(SupportRequest.id))]
    if state is not None:
        items = [i for i in items if i.clock is not None and i.clock.state == state]
    if breached is not None:
        items = [i for i in items if _breached(i, now) == breached]
    return items


@router.get("/support-requests/{request_id}", response_model=SupportRequestOut)
def get_support_request(
    request_id: Id, session: ReaderDep, svc: ServicesDep, _who: Operator, now: NowDep
) -> SupportRequestOut:
    return support_out(_load_support(session, request_id), svc, now)


@router.post(
    "/support-requests/{request_id}/reply",
    response_model=SupportRequestOut,
    responses=problem_responses(409),
)
def reply_support_request(
    request_id: Id,
    body: ActionBody,
    session: SessionDep,
    svc: ServicesDep,
    who: Operator,
    now: NowDep,
) -> SupportRequestOut:
    """Record the first reply; stops the `support_reply` clock."""
    request = _load_support(session, request_id)
    if request.replied_at is not None:
        raise Problem(409, "already-replied", f"request {request_id} was answered already")
    tolerance = timedelta(seconds=svc.config.server.past_tolerance_seconds)
    at, backdated = resolve_at(body.at, body.reason, now, tolerance)
    if at < request.received_at:
        raise Problem(422, "before-receipt", "the reply cannot precede the request")
    request.replied_at = at
    contract = session.get(Contract, request.contract_id)
    assert contract is not None
    refresh_support_request(request, svc.config.calendar, now, contract.plan)
    audit.record(
        session,
        at=now,
        actor=who.name,
        action="support_request.reply",
        target_type="support_request",
        target_id=request.id,
        reason=body.reason,
        detail={"at": at.isoformat(), "backdated": backdated},
    )
    return support_out(request, svc, now)
