"""Monitoring faults: spans in which slad or a source could not observe (SPEC section 4).

They are maintenance windows of the kind `monitoring_fault`, authored by slad,
audited with why they were opened, and open to an administrator's review over REST.
Opening one re-derives the clocks it touches. A source instance slad cannot reach has at
most one open fault (scope `source`, source ``<source>:<instance>``), opened at its first
failure and closed when it answers again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from daemon import audit
from daemon.clocks import recompute_for_window
from daemon.store.models import MaintenanceWindow


def record_fault(
    session: Session,
    *,
    source: str | None,
    start: datetime,
    end: datetime | None,
    description: str,
    why: str,
    action: str,
    now: datetime,
    horizon: timedelta,
    detail: dict[str, Any] | None = None,
) -> MaintenanceWindow:
    """Store a fault window (`end` None while it lasts), audit it, recompute clocks.

    `source` is what could not be observed (a source, or ``source:instance``); None means
    every source (slad itself was down).
    """
    window = MaintenanceWindow(
        scope="all" if source is None else "source",
        source=source,
        kind="monitoring_fault",
        description=description[:2000],
        start_at=start,
        end_at=end,
        status="active",
        author="slad",
        created_at=now,
        updated_at=now,
    )
    session.add(window)
    session.flush()
    audit.record(
        session,
        at=now,
        actor="slad",
        action="window.create",
        target_type="window",
        target_id=window.id,
        reason=why,
        detail={
            "start": start.isoformat(),
            "end": end.isoformat() if end else None,
            **(detail or {}),
        },
    )
    recompute_for_window(
        session, window, now, horizon, {"actor": "slad", "action": action, "reason": why}
    )
    return window


def current_fault(session: Session, source: str) -> MaintenanceWindow | None:
    """The open monitoring fault of a source instance (`source`), if it has one."""
    return session.scalars(
        select(MaintenanceWindow)
        .where(
            MaintenanceWindow.kind == "monitoring_fault",
            MaintenanceWindow.scope == "source",
            MaintenanceWindow.source == source,
            MaintenanceWindow.author == "slad",
            MaintenanceWindow.end_at.is_(None),
            MaintenanceWindow.rrule.is_(None),
        )
        .order_by(MaintenanceWindow.id)
    ).first()


def open_fault(
    session: Session,
    source: str,
    since: datetime,
    failures: int,
    error: str,
    now: datetime,
    horizon: timedelta,
) -> MaintenanceWindow:
    """The open monitoring fault of the instance, opened at `since` if there is none yet."""
    return open_instance_fault(
        session,
        source,
        since,
        description=f"slad cannot reach {source}: {error}",
        why=f"{failures} consecutive failures to reach {source}",
        now=now,
        horizon=horizon,
        detail={"error": error[:2000]},
    )


def open_instance_fault(
    session: Session,
    source: str,
    since: datetime,
    *,
    description: str,
    why: str,
    now: datetime,
    horizon: timedelta,
    detail: dict[str, Any] | None = None,
) -> MaintenanceWindow:
    """The instance's open fault, opened at `since` for `why` if it has none yet (whatever
    the cause, an instance has one fault at a time)."""
    existing = current_fault(session, source)
    if existing is not None:
        return existing
    return record_fault(
        session,
        source=source,
        start=since,
        end=None,
        description=description,
        why=why,
        action="fault.opened",
        now=now,
        horizon=horizon,
        detail=detail,
    )


def close_fault(
    session: Session, source: str, now: datetime, horizon: timedelta, why: str | None = None
) -> MaintenanceWindow | None:
    """End the instance's open monitoring fault at `now`: it answered again, or (`why`)
    the source said it delivers again."""
    window = current_fault(session, source)
    if window is None:
        return None
    window.end_at = now
    window.updated_at = now
    session.flush()
    why = why or f"{source} answered again"
    audit.record(
        session,
        at=now,
        actor="slad",
        action="window.update",
        target_type="window",
        target_id=window.id,
        reason=why,
        detail={"end": now.isoformat()},
    )
    recompute_for_window(
        session,
        window,
        now,
        horizon,
        {"actor": "slad", "action": "fault.closed", "reason": why},
        since=window.start_at,
    )
    return window
