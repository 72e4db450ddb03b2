"""Owed work: which clocks still owe the customer something, and what falls due next.

An incident owes while any of its clocks runs (the contact not made, the report not
delivered), whether or not its source has recovered: recovery closes an incident but
never the promise to tell the customer and report on it. A clock paused by a window
still owes; a clock not started yet (the report before the first contact) does not.

A clock's next due is its next target still reachable: the SLO while countable time has
not passed it (targets are inclusive, so a clock exactly at its SLO due still has it),
else the SLA. Once both are passed the SLA due stays the next due, in the past: the
clock is overdue, its time left negative, and it sorts before everything still on time.
A paused clock without due instants (a window with no end yet) owes but has no next due.

The same reading serves the REST list (in SQL, to filter and sort a page), the incident
summaries and the CLI (from due instants), and the metrics (in SQL, at scrape time).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.sql.selectable import ScalarSelect

from daemon.store.models import Clock, Incident

OWING_STATES = ("running", "paused")
"""Clock states that still owe: started and not stopped."""

Target = Literal["slo", "sla"]


@dataclass(frozen=True, slots=True)
class Due:
    """The next target a clock owes: which clock, which target, and when it falls due."""

    clock: str
    target: Target
    at: datetime

    def seconds_left(self, now: datetime) -> float:
        """Wall seconds from `now` to the due instant; negative once it has passed."""
        return (self.at - now).total_seconds()


def clock_due(
    name: str, state: str, slo_due: datetime | None, sla_due: datetime | None, now: datetime
) -> Due | None:
    """The next due of one clock at `now` (None when it owes nothing or has no due yet)."""
    if state not in OWING_STATES:
        return None
    if slo_due is not None and now <= slo_due:
        return Due(name, "slo", slo_due)
    if sla_due is not None:  # past the SLO (a clock without an SLO due has no SLA due)
        return Due(name, "sla", sla_due)
    return None


def earliest(dues: Iterable[Due | None]) -> Due | None:
    """The due that falls first (ties by clock name, so the answer is stable)."""
    present = [d for d in dues if d is not None]
    return min(present, key=lambda d: (d.at, d.clock)) if present else None


def owes(states: Iterable[str]) -> bool:
    """Whether clocks in `states` still owe anything."""
    return any(state in OWING_STATES for state in states)


def clock_due_sql(now: datetime) -> ColumnElement[Any]:
    """`clock_due`'s instant as SQL over the `clocks` row (NULL when it has no due)."""
    return case((Clock.slo_due_at >= now, Clock.slo_due_at), else_=Clock.sla_due_at)


def owing_sql() -> ColumnElement[bool]:
    """SQL: the `clocks` row still owes."""
    return Clock.state.in_(OWING_STATES)


def incident_owes_sql() -> ColumnElement[bool]:
    """SQL: the incident has a clock that still owes."""
    return select(Clock.id).where(Clock.incident_id == Incident.id, owing_sql()).exists()


def incident_next_due_sql(now: datetime) -> ScalarSelect[Any]:
    """SQL: the incident's next due instant at `now` (NULL when it owes no due)."""
    return (
        select(func.min(clock_due_sql(now)))
        .where(Clock.incident_id == Incident.id, owing_sql())
        .scalar_subquery()
    )


def format_left(seconds: float) -> str:
    """Time left for people: `12m 30s`, `2h 05m`, `3d 04h`; overdue reads `-4m 10s`."""
    sign = "-" if seconds < 0 else ""
    total = int(abs(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{sign}{days}d {hours:02d}h"
    if hours:
        return f"{sign}{hours}h {minutes:02d}m"
    if minutes:
        return f"{sign}{minutes}m {secs:02d}s"
    return f"{sign}{secs}s"
