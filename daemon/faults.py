"""Monitoring faults: spans in which slad or a source could not observe (SPEC section 4).

They are maintenance windows of the kind `monitoring_fault`, authored by slad,
audited with why they were opened, and open to an administrator's review over REST.
Opening one re-derives the clocks it touches.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

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
