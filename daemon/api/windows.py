"""Maintenance windows and monitoring faults; every change recomputes the clocks it touches."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Query, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from daemon import audit
from daemon.api.deps import NowDep, Operator, ReaderDep, ServicesDep, SessionDep, Viewer
from daemon.api.problems import Problem, not_found
from daemon.api.schemas import WindowIn, WindowOut, WindowPatch
from daemon.clocks import recompute_for_window
from daemon.services import Services
from daemon.store.models import Contract, Customer, MaintenanceWindow, Resource
from daemon.windows import recurring_window
from sla_engine.recurrence import expand

router = APIRouter(prefix="/v1/maintenance-windows", tags=["maintenance windows"])


def window_out(w: MaintenanceWindow, recomputed: int | None = None) -> WindowOut:
    return WindowOut(
        id=w.id,
        scope=w.scope,
        scope_ref=w.scope_ref,
        reason=w.reason,
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


def _check_scope(session: Session, scope: str, ref: str | None) -> None:
    if scope == "all":
        if ref:
            raise Problem(422, "invalid-scope", "scope 'all' takes no scope_ref")
        return
    if not ref:
        raise Problem(422, "invalid-scope", f"scope {scope!r} needs a scope_ref")
    model = {"customer": Customer, "contract": Contract, "resource": Resource}.get(scope)
    if model is None:
        return
    if not ref.isdigit() or session.get(model, int(ref)) is None:
        raise Problem(422, "invalid-scope", f"{scope} {ref!r} does not exist")


def _check_shape(w: MaintenanceWindow) -> None:
    """Refuse a window the engine could not expand, with the engine's own reason."""
    if w.end_at is not None and w.end_at <= w.start_at:
        raise Problem(422, "invalid-window", "end must lie after start")
    if w.rrule is None:
        if w.duration_seconds is not None:
            raise Problem(422, "invalid-window", "duration_minutes is only for recurring windows")
        if w.end_at is None and w.reason != "monitoring_fault":
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


def _require_justification(
    earliest: datetime, justification: str | None, now: datetime, svc: Services
) -> bool:
    past = earliest < now - timedelta(seconds=svc.config.server.past_tolerance_seconds)
    if past and not (justification and justification.strip()):
        raise Problem(
            422,
            "reason-required",
            "the window covers time already past; a justification is required",
        )
    return past


@router.post("", status_code=status.HTTP_201_CREATED, response_model=WindowOut)
def create_window(
    body: WindowIn, session: SessionDep, svc: ServicesDep, who: Operator, now: NowDep
) -> WindowOut:
    _check_scope(session, body.scope, body.scope_ref)
    window = MaintenanceWindow(
        scope=body.scope,
        scope_ref=body.scope_ref,
        reason=body.reason,
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
    past = _require_justification(body.start, body.justification, now, svc)
    session.add(window)
    session.flush()
    audit.record(
        session,
        at=now,
        actor=who.name,
        action="window.create",
        target_type="window",
        target_id=window.id,
        reason=body.justification,
        detail={**body.model_dump(mode="json"), "covers_past": past},
    )
    changed = recompute_for_window(
        session,
        window,
        now,
        svc.horizon,
        {"actor": who.name, "action": "window.create", "justification": body.justification},
    )
    return window_out(window, changed)


@router.get("", response_model=list[WindowOut])
def list_windows(
    session: ReaderDep,
    _who: Viewer,
    reason: Literal["maintenance", "provider_maintenance", "monitoring_fault"] | None = None,
    status_: Annotated[Literal["active", "rejected"] | None, Query(alias="status")] = None,
) -> list[WindowOut]:
    stmt = select(MaintenanceWindow).order_by(MaintenanceWindow.id)
    if reason is not None:
        stmt = stmt.where(MaintenanceWindow.reason == reason)
    if status_ is not None:
        stmt = stmt.where(MaintenanceWindow.status == status_)
    return [window_out(w) for w in session.scalars(stmt)]


def _load(session: Session, window_id: int) -> MaintenanceWindow:
    window = session.get(MaintenanceWindow, window_id)
    if window is None:
        raise not_found("maintenance window", window_id)
    return window


@router.get("/{window_id}", response_model=WindowOut)
def get_window(window_id: int, session: ReaderDep, _who: Viewer) -> WindowOut:
    return window_out(_load(session, window_id))


@router.patch("/{window_id}", response_model=WindowOut)
def patch_window(
    window_id: int,
    body: WindowPatch,
    session: SessionDep,
    svc: ServicesDep,
    who: Operator,
    now: NowDep,
) -> WindowOut:
    """Edit or reject a window (e.g. review a recorded monitoring fault); audited."""
    window = _load(session, window_id)
    before = window_out(window).model_dump(mode="json")
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
    _require_justification(earliest, body.justification, now, svc)
    window.updated_at = now
    audit.record(
        session,
        at=now,
        actor=who.name,
        action="window.update",
        target_type="window",
        target_id=window.id,
        reason=body.justification,
        detail={"before": before, "changes": body.model_dump(mode="json", exclude_unset=True)},
    )
    changed = recompute_for_window(
        session,
        window,
        now,
        svc.horizon,
        {"actor": who.name, "action": "window.update", "justification": body.justification},
        since=earliest,
    )
    return window_out(window, changed)


@router.delete("/{window_id}", status_code=status.HTTP_200_OK, response_model=WindowOut)
def delete_window(
    window_id: int,
    session: SessionDep,
    svc: ServicesDep,
    who: Operator,
    now: NowDep,
    justification: str | None = None,
) -> WindowOut:
    """Delete a window; its excluded time counts again, so a justification may be needed."""
    window = _load(session, window_id)
    _require_justification(window.start_at, justification, now, svc)
    out = window_out(window)
    window.status = "rejected"
    changed = recompute_for_window(
        session,
        window,
        now,
        svc.horizon,
        {"actor": who.name, "action": "window.delete", "justification": justification},
    )
    audit.record(
        session,
        at=now,
        actor=who.name,
        action="window.delete",
        target_type="window",
        target_id=window.id,
        reason=justification,
        detail=out.model_dump(mode="json"),
    )
    session.delete(window)
    return out.model_copy(update={"incidents_recomputed": changed})
