"""Console pages beside the board: the unassigned-alert queue (with "assign to
resource"), maintenance windows and faults per customer and resource, provider notices
and source health. They read what the REST API reads and act through its functions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from starlette.responses import RedirectResponse, Response

from daemon.api import incidents
from daemon.api.deps import ServicesDep
from daemon.api.notices import summary as notice_summary
from daemon.api.problems import Problem
from daemon.console.calendar_view import DAYS, calendar_days, first_day, upcoming_windows
from daemon.console.web import PREFIX, Acting, Form, Refused, User, view
from daemon.sources.status import source_status
from daemon.store.models import (
    Alert,
    Contract,
    Customer,
    MaintenanceWindow,
    ProviderNoticeRecord,
    Resource,
)

router = APIRouter(prefix=PREFIX, include_in_schema=False)

LIMIT = 200
"""Rows a list page shows (newest first); the REST API pages through the rest."""


@dataclass(frozen=True, slots=True)
class ResourceChoice:
    id: int
    label: str
    customer_id: int
    contract_id: int


def resource_choices(session: Session) -> list[ResourceChoice]:
    """Every resource, labelled `customer / resource (kind)`, by customer then name."""
    rows = session.execute(
        select(Resource, Contract.customer_id, Customer.name)
        .join(Contract, Resource.contract_id == Contract.id)
        .join(Customer, Contract.customer_id == Customer.id)
        .order_by(Customer.name, Resource.name, Resource.id)
    )
    return [
        ResourceChoice(r.id, f"{customer} / {r.name} ({r.kind})", customer_id, r.contract_id)
        for r, customer_id, customer in rows
    ]


@router.get("/alerts")
def unassigned_alerts(
    request: Request, svc: ServicesDep, user: User, done: int | None = None
) -> Response:
    with svc.readers() as session:
        alerts = list(
            session.scalars(
                select(Alert)
                .where(Alert.assignment == "unassigned", Alert.incident_id.is_(None))
                .order_by(Alert.id.desc())
                .limit(LIMIT)
            )
        )
        choices = resource_choices(session) if user.may("operator") else []
    return view(request, svc, user, "alerts.html", alerts=alerts, choices=choices, done=done)


@router.post("/alerts/{alert_id}/assign")
def assign_alert(alert_id: int, svc: ServicesDep, user: Acting, form: Form) -> Response:
    """Assign as `POST /v1/alerts/{id}/assign` does; then back to the queue."""
    try:
        resource_id = int(form.get("resource_id", ""))
    except ValueError:
        raise Refused(422, "error.not_found", "resource_id") from None
    try:
        with svc.sessions.begin() as session:
            incidents.assign(session, svc, alert_id, resource_id, user.principal.name, svc.clock())
    except Problem as problem:
        raise Refused(problem.status, f"problem.{problem.slug}", problem.detail) from None
    return RedirectResponse(f"{PREFIX}/alerts?done={alert_id}", status_code=303)


def _covers(window: MaintenanceWindow, choice: ResourceChoice) -> bool:
    ref = window.scope_ref
    match window.scope:
        case "all" | "source":
            return True
        case "customer":
            return ref == choice.customer_id
        case "contract":
            return ref == choice.contract_id
        case "resource":
            return ref == choice.id
    return False


@router.get("/windows")
def windows_page(
    request: Request,
    svc: ServicesDep,
    user: User,
    customer: int | None = None,
    resource: int | None = None,
) -> Response:
    """Windows and faults, newest first; for a customer or resource, those that cover
    it (everything-wide and source-wide ones included)."""
    with svc.readers() as session:
        choices = resource_choices(session)
        customers = list(session.scalars(select(Customer).order_by(Customer.name)))
        windows = list(
            session.scalars(
                select(MaintenanceWindow).order_by(MaintenanceWindow.start_at.desc()).limit(LIMIT)
            )
        )
        start = first_day(svc.clock(), svc.config.calendar.timezone)
        upcoming = upcoming_windows(session, start, start + timedelta(days=DAYS + 1))
    names = {c.id: c.label for c in choices}
    customer_names = {c.id: c.name for c in customers}
    picked = [
        c for c in choices if c.id == resource or (resource is None and c.customer_id == customer)
    ]
    if resource is not None or customer is not None:
        windows = [w for w in windows if any(_covers(w, c) for c in picked)]
        upcoming = [w for w in upcoming if any(_covers(w, c) for c in picked)]
    days = calendar_days(upcoming, start, svc.config.calendar.timezone)
    return view(
        request,
        svc,
        user,
        "windows.html",
        windows=windows,
        choices=choices,
        customers=customers,
        customer=customer,
        resource=resource,
        scope_name=lambda w: _scope_name(w, names, customer_names),
        days=days,
    )


def _scope_name(
    window: MaintenanceWindow, resources: dict[int, str], customers: dict[int, str]
) -> str:
    ref = window.scope_ref
    if window.scope == "resource" and ref is not None:
        return resources.get(ref, f"resource {ref}")
    if window.scope == "customer" and ref is not None:
        return customers.get(ref, f"customer {ref}")
    if window.scope == "source":
        return f"source {window.source}"
    if window.scope == "contract":
        return f"contract {ref}"
    return window.scope


@router.get("/notices")
def notices_page(request: Request, svc: ServicesDep, user: User) -> Response:
    with svc.readers() as session:
        rows = list(
            session.scalars(
                select(ProviderNoticeRecord)
                .options(selectinload(ProviderNoticeRecord.resources))
                .order_by(ProviderNoticeRecord.id.desc())
                .limit(LIMIT)
            )
        )
        notices = [notice_summary(n) for n in rows]
        customers = {c.id: c.name for c in session.scalars(select(Customer))}
    return view(request, svc, user, "notices.html", notices=notices, customers=customers)


@router.get("/sources")
def sources_page(request: Request, svc: ServicesDep, user: User) -> Response:
    configured = [(s, i, r.polls()) for (s, i), r in svc.sources.runners.items()]
    with svc.readers() as session:
        entries: list[dict[str, Any]] = source_status(session, configured)
    return view(request, svc, user, "sources.html", sources=entries)
