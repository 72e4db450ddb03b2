"""The board: one row per clock that still owes, soonest due first.

Rows come from the same live evaluation as the REST incident list (`live_clocks`) and
the same reading of "next due" as owed work (`daemon.owed.clock_due`), so the board
never disagrees with the API. A row is `breach` once its SLO has passed, `warn` once the
first warning threshold of its policy has, else `ok`; the instants of those changes
travel with the row so the page can recolour it as its countdown runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from daemon.api.incidents import live_clocks
from daemon.owed import OWING_STATES, clock_due, incident_owes_sql
from daemon.store.models import Customer, Incident, MaintenanceWindow, Resource
from daemon.windows import covers

LIMIT = 500
"""At most this many incidents are read for the board: more would not fit any screen."""


@dataclass(frozen=True, slots=True)
class BoardRow:
    incident_id: int
    title: str
    severity: str
    customer: str
    plan: str
    resource: str
    clock: str
    state: str
    target: str | None
    due_at: datetime | None
    seconds_left: float | None
    warn_at: datetime | None
    slo_due: datetime | None
    sla_due: datetime | None
    level: str


def level_at(warn_at: datetime | None, slo_due: datetime | None, now: datetime) -> str:
    """`breach` past the SLO, `warn` past the first warning, else `ok`."""
    if slo_due is not None and now > slo_due:
        return "breach"
    if warn_at is not None and now >= warn_at:
        return "warn"
    return "ok"


def board_rows(session: Session, now: datetime, horizon: timedelta) -> list[BoardRow]:
    """Every owed clock at `now`, overdue first, then by due instant; clocks paused with
    no due instant (a window with no end yet) last."""
    incidents = list(
        session.scalars(
            select(Incident)
            .where(incident_owes_sql(), Incident.merged_into_id.is_(None))
            .options(selectinload(Incident.timeline), selectinload(Incident.clocks))
            .order_by(Incident.id)
            .limit(LIMIT)
        )
    )
    if not incidents:
        return []
    windows = list(
        session.scalars(select(MaintenanceWindow).where(MaintenanceWindow.status != "rejected"))
    )
    customers = {
        row.id: row.name
        for row in session.execute(
            select(Customer.id, Customer.name).where(
                Customer.id.in_({i.customer_id for i in incidents})
            )
        )
    }
    resources = {
        row.id: row.name
        for row in session.execute(
            select(Resource.id, Resource.name).where(
                Resource.id.in_({i.resource_id for i in incidents})
            )
        )
    }
    rows = []
    for incident in incidents:
        mine = [w for w in windows if covers(w, incident)]
        for clock in live_clocks(incident, mine, now, horizon):
            if clock.state not in OWING_STATES:
                continue
            due = clock_due(clock.name, clock.state, clock.slo_due, clock.sla_due, now)
            warn_at = min((w.at for w in clock.warnings if w.at is not None), default=None)
            rows.append(
                BoardRow(
                    incident_id=incident.id,
                    title=incident.title,
                    severity=incident.severity,
                    customer=customers.get(incident.customer_id, str(incident.customer_id)),
                    plan=incident.plan,
                    resource=resources.get(incident.resource_id, str(incident.resource_id)),
                    clock=clock.name,
                    state=clock.state,
                    target=due.target if due else None,
                    due_at=due.at if due else None,
                    seconds_left=due.seconds_left(now) if due else None,
                    warn_at=warn_at,
                    slo_due=clock.slo_due,
                    sla_due=clock.sla_due,
                    level=level_at(warn_at, clock.slo_due, now),
                )
            )
    return sorted(
        rows,
        key=lambda r: (r.due_at is None, r.due_at or now, r.incident_id, r.clock),
    )
