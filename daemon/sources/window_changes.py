"""Held window changes: what a source's sync would change in the past, for an admin to decide.

A source sync may create, move or delete a window so that time already past counts
differently. When that past part touches a clock already judged (stopped with an
outcome, or with a warning or breach recorded) the sync does not rewrite it: the future
part applies at once and the past part waits as a pending `WindowChange` that an
administrator accepts or rejects (SPEC section 4: recorded outcomes never change
silently). Until then the past stays as it was judged:

- **create**: the window is stored with ``effective_from = now``; accepting makes its
  past part count (``effective_from`` cleared).
- **delete**: the window is cut at now (``end``/``until``) and detached from the source
  (no ``external_ref``), so it keeps excluding only what it excluded before; accepting
  rejects it (it excludes nothing, and stays for the record).
- **update**: the old shape is kept up to now as a detached window, the new shape
  applies from now (``effective_from = now``); accepting rejects the old part and lets
  the new shape cover the past too.

Rejecting keeps things as they are. Holding, accepting and rejecting are audited, and
an accepted change recomputes the clocks it touches.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from daemon import audit
from daemon.clocks import recompute_for_window
from daemon.store.models import Clock, Incident, MaintenanceWindow, WindowChange
from daemon.windows import incident_scope, window_intervals
from sla_engine.intervals import IntervalSet


def past_change(
    before: MaintenanceWindow | None, after: MaintenanceWindow | None, now: datetime
) -> IntervalSet:
    """The time before `now` that `before` and `after` exclude differently."""
    starts = [w.start_at for w in (before, after) if w is not None]
    if not starts or min(starts) >= now:
        return IntervalSet()
    lo = min(starts)
    old = window_intervals(before, lo, now) if before is not None else IntervalSet()
    new = window_intervals(after, lo, now) if after is not None else IntervalSet()
    return old.subtract(new).union(new.subtract(old)).clip(lo, now)


def touches_judged(session: Session, window: MaintenanceWindow, span: IntervalSet) -> bool:
    """Whether a clock of an incident the window covers was judged inside `span`."""
    if not span:
        return False
    start, end = span.starts[0], span.ends[-1]
    stmt = select(Clock).join(Incident, Clock.incident_id == Incident.id)
    condition = incident_scope(window)
    if condition is not None:
        stmt = stmt.where(condition)
    stmt = stmt.where(Clock.start_at.is_not(None), Clock.start_at < end)
    for clock in session.scalars(stmt):
        judged = clock.outcome is not None or bool(clock.recorded)
        if judged and (clock.stop_at is None or clock.stop_at > start):
            return True
    return False


def hold(
    session: Session,
    kind: str,
    window: MaintenanceWindow,
    previous: MaintenanceWindow | None,
    author: str,
    span: IntervalSet,
    now: datetime,
    detail: dict[str, Any],
) -> WindowChange:
    """Record a pending change (`window` carries the future part) and audit it."""
    change = WindowChange(
        kind=kind,
        status="pending",
        window_id=window.id,
        previous_window_id=None if previous is None else previous.id,
        author=author,
        past_start=span.starts[0],
        past_end=span.ends[-1],
        detail=detail,
        created_at=now,
    )
    session.add(change)
    session.flush()
    audit.record(
        session,
        at=now,
        actor=author,
        action="window_change.hold",
        target_type="window",
        target_id=window.id,
        reason=f"{author} would change time already judged; held for an administrator",
        detail={"change_id": change.id, "kind": kind, **detail},
    )
    return change


def decide(
    session: Session,
    change: WindowChange,
    accept: bool,
    actor: str,
    reason: str | None,
    now: datetime,
    horizon: timedelta,
) -> int:
    """Accept or reject a pending change; returns how many incidents' clocks moved."""
    change.status = "accepted" if accept else "rejected"
    change.decided_at = now
    change.decided_by = actor
    change.decision_reason = reason
    audit.record(
        session,
        at=now,
        actor=actor,
        action=f"window_change.{change.status.removesuffix('ed')}",
        target_type="window",
        target_id=change.window_id,
        reason=reason,
        detail={"change_id": change.id, "kind": change.kind},
    )
    if not accept:
        return 0
    why: dict[str, object] = {
        "actor": actor,
        "action": f"window_change.{change.kind}",
        "reason": reason,
    }
    window = session.get(MaintenanceWindow, change.window_id)
    changed = 0
    if change.kind == "delete":
        if window is not None:
            window.status = "rejected"
            window.updated_at = now
            changed += recompute_for_window(session, window, now, horizon, why)
        return changed
    previous = (
        session.get(MaintenanceWindow, change.previous_window_id)
        if change.previous_window_id is not None
        else None
    )
    if previous is not None:
        previous.status = "rejected"
        previous.updated_at = now
        changed += recompute_for_window(session, previous, now, horizon, why)
    if window is not None:
        window.effective_from = None
        window.updated_at = now
        changed += recompute_for_window(session, window, now, horizon, why)
    return changed
