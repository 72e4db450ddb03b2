"""Maintenance windows and monitoring faults; every change recomputes the clocks it touches."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Query, Response, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from daemon import audit
from daemon.api.deps import (
    NowDep,
    Operator,
    ReaderDep,
    ServicesDep,
    SessionDep,
    StrictQuery,
    Viewer,
)
from daemon.api.dry_run import DryRun, WindowImpactOut, rehearse
from daemon.api.problems import Problem, not_found
from daemon.api.schemas import ScopeKind, WindowIn, WindowKind, WindowOut, WindowPatch
from daemon.api.types import Id, Text
from daemon.api.utc import Instant
from daemon.clocks import recompute_for_window
from daemon.services import Services
from daemon.store.models import Contract, Customer, MaintenanceWindow, Resource
from daemon.windows import as_it_was, recurring_window, window_intervals
from sla_engine.recurrence import expand

router = APIRouter(
    prefix="/v1/maintenance-windows", tags=["maintenance windows"], dependencies=[StrictQuery]
)
_INSTANT = timedelta(microseconds=1)  # the span `active_at` asks about


def window_out(w: MaintenanceWindow, recomputed: int | None = None) -> WindowOut:
    return WindowOut(
        id=w.id,
        scope=w.scope,
        scope_ref=w.scope_ref,
        source=w.source,
        kind=w.kind,
        description=w.description,
        start=w.start_at,
        end=w.end_at,
        rrule=w.rrule,
        duration_minutes=w.duration_seconds // 60 if w.duration_seconds else None,
        until=w.until_at,
        timezone=w.timezone,
        status=w.status,
        external_ref=w.external_ref,
        author=w.author,
        created_at=w.created_at,
        updated_at=w.updated_at,
        incidents_recomputed=recomputed,
    )


def _check_scope(session: Session, body: WindowIn) -> None:
    """A scope names exactly what it needs: nothing, a source, or an existing row's id."""
    scope, ref, source = body.scope, body.scope_ref, body.source
    if scope != "source" and source is not None:
        raise Problem(422, "invalid-scope", f"scope {scope!r} takes no source")
    if scope in ("all", "source") and ref is not None:
        raise Problem(422, "invalid-scope", f"scope {scope!r} takes no scope_ref")
    if scope == "source" and not (source and source.strip()):
        raise Problem(422, "invalid-scope", "scope 'source' needs a source, e.g. 'zabbix:main'")
    model = {"customer": Customer, "contract": Contract, "resource": Resource}.get(scope)
    if model is None:
        return
    if ref is None:
        raise Problem(422, "invalid-scope", f"scope {scope!r} needs a scope_ref (the {scope} id)")
    if session.get(model, ref) is None:
        raise Problem(422, "invalid-scope", f"{scope} {ref} does not exist")


def _check_shape(w: MaintenanceWindow) -> None:
    """Refuse a window the engine could not expand, with the engine's own reason."""
    if w.end_at is not None and w.end_at <= w.start_at:
        raise Problem(422, "invalid-window", "end must lie after start")
    if w.rrule is None:
        if w.duration_seconds is not None:
            raise Problem(422, "invalid-window", "duration_minutes is only for recurring windows")
        if w.end_at is None and w.kind != "monitoring_fault":
            raise Problem(422, "invalid-window", "a one-off window needs an end")
        return
    if w.end_at is not None or w.duration_seconds is None:
        raise Problem(
            422, "invalid-window", "a recurring window takes rrule and duration_minutes, not end"
        )
    try:
        ZoneInfo(w.timezone)
        rule = recurring_window(w)
        assert rule is not None
        expand(rule, w.start_at, w.start_at + timedelta(days=1))
    except (ValueError, ZoneInfoNotFoundError) as exc:
        raise Problem(422, "invalid-window", f"recurrence rejected: {exc}") from exc


def _require_reason(earliest: datetime, reason: str | None, now: datetime, svc: Services) -> bool:
    past = earliest < now - timedelta(seconds=svc.config.server.past_tolerance_seconds)
    if past and not (reason and reason.strip()):
        raise Problem(
            422, "reason-required", "the window covers time already past; a reason is required"
        )
    return past


@router.post("", status_code=status.HTTP_201_CREATED, response_model=WindowOut | WindowImpactOut)
def create_window(
    body: WindowIn,
    session: SessionDep,
    svc: ServicesDep,
    who: Operator,
    now: NowDep,
    response: Response,
    dry_run: DryRun = False,
) -> WindowOut | WindowImpactOut:
    """Create a window; `dry_run=true` answers which clocks would move, storing nothing."""
    if dry_run:
        response.status_code = status.HTTP_200_OK
        return rehearse(session, lambda: create_window(body, session, svc, who, now, response))
    _check_scope(session, body)
    window = MaintenanceWindow(
        scope=body.scope,
        scope_ref=body.scope_ref,
        source=body.source.strip() if body.source else None,
        kind=body.kind,
        description=body.description,
        start_at=body.start,
        end_at=body.end,
        rrule=body.rrule,
        timezone=body.timezone,
        duration_seconds=body.duration_minutes * 60 if body.duration_minutes else None,
        until_at=body.until,
        status="active",
        author=who.name,
        created_at=now,
        updated_at=now,
    )
    _check_shape(window)
    past = _require_reason(body.start, body.reason, now, svc)
    session.add(window)
    session.flush()
    audit.record(
        session,
        at=now,
        actor=who.name,
        action="window.create",
        target_type="window",
        target_id=window.id,
        reason=body.reason,
        detail={**body.model_dump(mode="json"), "covers_past": past},
    )
    changed = recompute_for_window(
        session,
        window,
        now,
        svc.horizon,
        {"actor": who.name, "action": "window.create", "reason": body.reason},
    )
    return window_out(window, changed)


@router.get("", response_model=list[WindowOut])
def list_windows(
    session: ReaderDep,
    _who: Viewer,
    scope: ScopeKind | None = None,
    scope_ref: Id | None = None,
    source: Annotated[Text | None, Query(min_length=1, max_length=200)] = None,
    kind: WindowKind | None = None,
    status_: Annotated[Literal["active", "rejected"] | None, Query(alias="status")] = None,
    active_at: Annotated[
        Instant | None,
        Query(description="only windows that exclude this instant (RFC 3339 with offset)"),
    ] = None,
) -> list[WindowOut]:
    """Windows by id, filtered; `active_at` keeps those that exclude that instant (an
    occurrence of a recurring window, or an open fault, included; rejected ones never)."""
    stmt = select(MaintenanceWindow).order_by(MaintenanceWindow.id)
    for column, value in (
        (MaintenanceWindow.scope, scope),
        (MaintenanceWindow.scope_ref, scope_ref),
        (MaintenanceWindow.source, source),
        (MaintenanceWindow.kind, kind),
        (MaintenanceWindow.status, status_),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if active_at is not None:
        stmt = stmt.where(MaintenanceWindow.start_at <= active_at)
    rows = list(session.scalars(stmt))
    if active_at is not None:
        rows = [w for w in rows if window_intervals(w, active_at, active_at + _INSTANT)]
    return [window_out(w) for w in rows]


def _load(session: Session, window_id: int) -> MaintenanceWindow:
    window = session.get(MaintenanceWindow, window_id)
    if window is None:
        raise not_found("maintenance window", window_id)
    return window


@router.get("/{window_id}", response_model=WindowOut)
def get_window(window_id: Id, session: ReaderDep, _who: Viewer) -> WindowOut:
    return window_out(_load(session, window_id))


@router.patch("/{window_id}", response_model=WindowOut | WindowImpactOut)
def patch_window(
    window_id: Id,
    body: WindowPatch,
    session: SessionDep,
    svc: ServicesDep,
    who: Operator,
    now: NowDep,
    dry_run: DryRun = False,
) -> WindowOut | WindowImpactOut:
    """Edit or reject a window (e.g. review a recorded monitoring fault); audited.
    `dry_run=true` answers which clocks would move, storing nothing."""
    if dry_run:
        return rehearse(session, lambda: patch_window(window_id, body, session, svc, who, now))
    window = _load(session, window_id)
    before = window_out(window).model_dump(mode="json")
    was = as_it_was(window)
    earliest = window.start_at
    changes = body.model_dump(exclude_unset=True)
    for key, column in (("start", "start_at"), ("end", "end_at"), ("until", "until_at")):
        if key in changes:
            setattr(window, column, changes[key])
            if changes[key] is not None:
                earliest = min(earliest, changes[key])
    for key in ("description", "status"):
        if key in changes:
            setattr(window, key, changes[key])
    _check_shape(window)
    _require_reason(earliest, body.reason, now, svc)
    window.updated_at = now
    audit.record(
        session,
        at=now,
        actor=who.name,
        action="window.update",
        target_type="window",
        target_id=window.id,
        reason=body.reason,
        detail={"before": before, "changes": body.model_dump(mode="json", exclude_unset=True)},
    )
    changed = recompute_for_window(
        session,
        window,
        now,
        svc.horizon,
        {"actor": who.name, "action": "window.update", "reason": body.reason},
        since=earliest,
        before=was,
    )
    return window_out(window, changed)


@router.delete("/{window_id}", status_code=status.HTTP_200_OK, response_model=WindowOut)
def delete_window(
    window_id: Id,
    session: SessionDep,
    svc: ServicesDep,
    who: Operator,
    now: NowDep,
    reason: Annotated[Text | None, Query(max_length=2000)] = None,
) -> WindowOut:
    """Delete a window; its excluded time counts again, so a reason may be needed."""
    window = _load(session, window_id)
    _require_reason(window.start_at, reason, now, svc)
    out = window_out(window)
    window.status = "rejected"
    changed = recompute_for_window(
        session,
        window,
        now,
        svc.horizon,
        {"actor": who.name, "action": "window.delete", "reason": reason},
    )
    audit.record(
        session,
        at=now,
        actor=who.name,
        action="window.delete",
        target_type="window",
        target_id=window.id,
        reason=reason,
        detail=out.model_dump(mode="json"),
    )
    session.delete(window)
    return out.model_copy(update={"incidents_recomputed": changed})
