"""`?dry_run=true` on window changes: do everything, answer what moved, store nothing.

A rehearsal runs the real route's work (validation, the reason check, the audit entry,
the recomputation of every clock the window touches) inside a savepoint and rolls it
back, so its answer is exactly what the change would do and cannot drift from it. What
it reports comes from the `clocks_recomputed` timeline entries the recomputation
writes: for each clock whose due instants or outcome would move, before and after.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import Query
from pydantic import BaseModel, Field
from sqlalchemy import event
from sqlalchemy.orm import Session

from daemon.api.utc import Instant
from daemon.clocks import RECOMPUTED
from daemon.store.models import TimelineEntry

DryRun = Annotated[
    bool,
    Query(description="Validate and answer which clocks would move, storing nothing."),
]


class ClockMoveOut(BaseModel):
    """How one clock would change; `*_moved_seconds` is after minus before (positive: later)."""

    incident_id: int
    clock: str
    slo_due_before: Instant | None
    slo_due_after: Instant | None
    slo_due_moved_seconds: float | None
    sla_due_before: Instant | None
    sla_due_after: Instant | None
    sla_due_moved_seconds: float | None
    outcome_before: str | None
    outcome_after: str | None


class WindowImpactOut(BaseModel):
    """The answer to a dry run: nothing was stored."""

    dry_run: bool = True
    incidents_recomputed: int = Field(description="Incidents whose clocks would move.")
    clocks: list[ClockMoveOut]


def rehearse(session: Session, act: Callable[[], object]) -> WindowImpactOut:
    """Run `act` in a savepoint, collect the clock moves it records, and roll it back."""
    recorded: list[TimelineEntry] = []

    def collect(_session: Session, instance: object) -> None:
        if isinstance(instance, TimelineEntry) and instance.kind == RECOMPUTED:
            recorded.append(instance)

    savepoint = session.begin_nested()
    event.listen(session, "transient_to_pending", collect)
    try:
        act()
        session.flush()
        moves = [move for entry in recorded for move in clock_moves(entry)]
        incidents = len({entry.incident_id for entry in recorded})
    finally:
        event.remove(session, "transient_to_pending", collect)
        savepoint.rollback()
    return WindowImpactOut(incidents_recomputed=incidents, clocks=moves)


def clock_moves(entry: TimelineEntry) -> list[ClockMoveOut]:
    """The clocks a `clocks_recomputed` entry says moved, from its before/after
    fingerprints (`[slo_due, sla_due, outcome]` per clock name)."""
    before = entry.detail.get("before") or {}
    after = entry.detail.get("after") or {}
    moves = []
    for name in sorted(set(before) | set(after)):
        old = _fingerprint(before.get(name))
        new = _fingerprint(after.get(name))
        if old == new:
            continue
        moves.append(
            ClockMoveOut(
                incident_id=entry.incident_id,
                clock=name,
                slo_due_before=old[0],
                slo_due_after=new[0],
                slo_due_moved_seconds=_moved(old[0], new[0]),
                sla_due_before=old[1],
                sla_due_after=new[1],
                sla_due_moved_seconds=_moved(old[1], new[1]),
                outcome_before=old[2],
                outcome_after=new[2],
            )
        )
    return moves


def _fingerprint(raw: object) -> tuple[datetime | None, datetime | None, str | None]:
    if not isinstance(raw, list) or len(raw) != 3:
        return None, None, None
    slo, sla, outcome = raw
    return (
        datetime.fromisoformat(slo) if slo else None,
        datetime.fromisoformat(sla) if sla else None,
        outcome,
    )


def _moved(before: datetime | None, after: datetime | None) -> float | None:
    return None if before is None or after is None else (after - before).total_seconds()
