"""Compliance reports and the audit log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import select

from daemon.api.deps import Admin, NowDep, ReaderDep, ServicesDep, StrictQuery, Viewer
from daemon.api.pages import newest_first
from daemon.api.problems import Problem
from daemon.api.schemas import AuditOut, Page
from daemon.api.types import Id, Text
from daemon.api.utc import Instant
from daemon.reports import monthly_report
from daemon.store.models import AuditEntry

router = APIRouter(prefix="/v1", tags=["reports"], dependencies=[StrictQuery])


@router.get("/reports/sla")
def sla_report(
    session: ReaderDep,
    svc: ServicesDep,
    _who: Viewer,
    now: NowDep,
    month: Annotated[str, Query(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM, Asia/Tokyo")],
    customer: Id | None = None,
) -> dict[str, Any]:
    """Per plan and clock: count, met, slo_breached, sla_breached, ratios, median, p95."""
    try:
        return monthly_report(session, month, svc.config.calendar.timezone, now, customer)
    except ValueError as exc:
        raise Problem(422, "invalid-month", f"month: {exc}") from exc


@router.get("/audit", response_model=Page[AuditOut], tags=["audit"])
def list_audit(
    session: ReaderDep,
    _who: Admin,
    target_type: Text | None = None,
    target_id: Text | None = None,
    since: Instant | None = None,
    cursor: Text | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Page[AuditOut]:
    """Newest first."""
    stmt = select(AuditEntry)
    if target_type is not None:
        stmt = stmt.where(AuditEntry.target_type == target_type)
    if target_id is not None:
        stmt = stmt.where(AuditEntry.target_id == target_id)
    if since is not None:
        stmt = stmt.where(AuditEntry.at >= since)
    rows, next_cursor = newest_first(session, stmt, AuditEntry.id, cursor, limit)
    items = [
        AuditOut(
            id=a.id,
            at=a.at,
            actor=a.actor,
            action=a.action,
            target_type=a.target_type,
            target_id=a.target_id,
            reason=a.reason,
            detail=a.detail,
        )
        for a in rows
    ]
    return Page[AuditOut](items=items, next_cursor=next_cursor)
