"""Window sync: the maintenances a source instance holds become maintenance windows.

The source is the truth for its own maintenances: each (window ref, resource) pair
becomes one window row keyed ``<source>:<instance>:<ref>:<resource id>``, authored
``<source>:<instance>``, and every sync makes the rows match the source again, creating,
updating and deleting them with an audit entry and a recompute of the clocks they touch.
An administrator may reject a synchronised window; a later sync keeps the rejection.

A change whose past part would rewrite a clock already judged is applied from now on
only, and its past part held for an administrator (`daemon.sources.window_changes`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.source import SourceWindow
from daemon import audit
from daemon.clocks import recompute_for_window
from daemon.registry import resolve_resource
from daemon.sources.window_changes import hold, past_change, touches_judged
from daemon.store.models import MaintenanceWindow
from daemon.windows import as_it_was

_SHAPE = (
    "scope_ref",
    "description",
    "start_at",
    "end_at",
    "rrule",
    "timezone",
    "duration_seconds",
    "until_at",
)


@dataclass(frozen=True)
class _Wanted:
    """The shape one window row should have, as the source describes it now."""

    external_ref: str
    scope_ref: int
    description: str
    start_at: datetime
    end_at: datetime | None
    rrule: str | None
    timezone: str
    duration_seconds: int | None
    until_at: datetime | None

    def shape(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _SHAPE}


def sync_windows(
    session: Session,
    source: str,
    title: str,
    instance: str,
    windows: Iterable[SourceWindow],
    now: datetime,
    horizon: timedelta,
) -> None:
    """Make the instance's window rows equal what `windows` describe."""
    author = f"{source}:{instance}"
    why = f"synchronised from {title}"
    wanted = {w.external_ref: w for window in windows for w in _rows(session, author, window)}
    existing = {
        w.external_ref: w
        for w in session.scalars(
            select(MaintenanceWindow).where(MaintenanceWindow.author == author)
        )
        if w.external_ref is not None
    }
    for ref, want in wanted.items():
        row = existing.get(ref)
        if row is None:
            _create(session, want, author, why, now, horizon)
        elif _shape(row) != want.shape():
            _update(session, row, want, author, why, now, horizon)
    for ref, row in existing.items():
        if ref not in wanted:
            _delete(session, row, author, why, now, horizon)


def _rows(session: Session, author: str, window: SourceWindow) -> list[_Wanted]:
    """One wanted row per resource the window's targets map to."""
    resources: set[int] = set()
    for target in window.targets:
        resource = resolve_resource(session, target)
        if resource is not None:
            resources.add(resource.id)
    return [
        _Wanted(
            f"{author}:{window.ref}:{resource_id}",
            resource_id,
            window.description,
            window.start,
            window.end,
            window.rrule,
            window.timezone,
            window.duration_seconds,
            window.until,
        )
        for resource_id in sorted(resources)
    ]


def _shape(row: MaintenanceWindow) -> dict[str, Any]:
    return {name: getattr(row, name) for name in _SHAPE}


def _json(shape: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in shape.items()}


def _new_row(want: _Wanted, author: str, now: datetime) -> MaintenanceWindow:
    return MaintenanceWindow(
        scope="resource",
        kind="maintenance",
        status="active",
        external_ref=want.external_ref,
        author=author,
        created_at=now,
        updated_at=now,
        **want.shape(),
    )


def _recompute(
    session: Session,
    window: MaintenanceWindow,
    action: str,
    author: str,
    why: str,
    now: datetime,
    horizon: timedelta,
    since: datetime | None = None,
    before: MaintenanceWindow | None = None,
) -> None:
    why_detail: dict[str, object] = {"actor": author, "action": action, "reason": why}
    recompute_for_window(session, window, now, horizon, why_detail, since, before)


def _cut_at(window: MaintenanceWindow, now: datetime) -> None:
    """Keep only the part of `window` before `now`, detached from its source."""
    window.external_ref = None
    if window.rrule is not None:
        window.until_at = now if window.until_at is None else min(window.until_at, now)
    else:
        window.end_at = now if window.end_at is None else min(window.end_at, now)
    window.updated_at = now


def _create(
    session: Session, want: _Wanted, author: str, why: str, now: datetime, horizon: timedelta
) -> None:
    window = _new_row(want, author, now)
    span = past_change(None, window, now)
    held = touches_judged(session, window, span)
    if held:
        window.effective_from = now
    session.add(window)
    session.flush()
    detail = {"external_ref": want.external_ref, **_json(want.shape())}
    audit.record(
        session,
        at=now,
        actor=author,
        action="window.create",
        target_type="window",
        target_id=window.id,
        reason=why,
        detail={**detail, "past_held": held},
    )
    _recompute(session, window, "window.create", author, why, now, horizon)
    if held:
        hold(session, "create", window, None, author, span, now, detail)


def _update(
    session: Session,
    window: MaintenanceWindow,
    want: _Wanted,
    author: str,
    why: str,
    now: datetime,
    horizon: timedelta,
) -> None:
    """Make the row match the source; a change to judged past time is held (see above)."""
    before = _shape(window)
    wanted = _new_row(want, author, now)
    wanted.effective_from = window.effective_from
    span = past_change(window, wanted, now)
    held = touches_judged(session, window, span)
    detail = {"before": _json(before), "after": _json(want.shape())}
    since = min(before["start_at"], want.start_at)
    if held and window.start_at < now:
        _cut_at(window, now)
        session.flush()
        wanted.effective_from = now
        session.add(wanted)
        session.flush()
        _audit_update(session, window, author, why, now, {**detail, "past_held": True})
        _recompute(session, window, "window.update", author, why, now, horizon, since)
        _recompute(session, wanted, "window.update", author, why, now, horizon, since)
        hold(session, "update", wanted, window, author, span, now, detail)
        return
    was = as_it_was(window)
    for name, value in want.shape().items():
        setattr(window, name, value)
    if held:
        window.effective_from = now
    window.updated_at = now
    session.flush()
    _audit_update(session, window, author, why, now, {**detail, "past_held": held})
    _recompute(session, window, "window.update", author, why, now, horizon, since, was)
    if held:
        hold(session, "create", window, None, author, span, now, detail)


def _audit_update(
    session: Session,
    window: MaintenanceWindow,
    author: str,
    why: str,
    now: datetime,
    detail: dict[str, Any],
) -> None:
    audit.record(
        session,
        at=now,
        actor=author,
        action="window.update",
        target_type="window",
        target_id=window.id,
        reason=why,
        detail=detail,
    )


def _delete(
    session: Session,
    window: MaintenanceWindow,
    author: str,
    why: str,
    now: datetime,
    horizon: timedelta,
) -> None:
    """Remove a window the source no longer has; the time it excluded counts again.

    When that time was already judged, only the future part goes; the past part is held.
    """
    span = past_change(window, None, now)
    held = touches_judged(session, window, span)
    detail = {"external_ref": window.external_ref, **_json(_shape(window))}
    audit.record(
        session,
        at=now,
        actor=author,
        action="window.delete",
        target_type="window",
        target_id=window.id,
        reason=why,
        detail={**detail, "past_held": held},
    )
    if held:
        _cut_at(window, now)
        session.flush()
        _recompute(session, window, "window.delete", author, why, now, horizon)
        hold(session, "delete", window, None, author, span, now, detail)
        return
    session.delete(window)
    session.flush()
    _recompute(session, window, "window.delete", author, why, now, horizon)
