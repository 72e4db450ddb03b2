"""`GET /v1/incidents/{id}/clocks/{clock}/explain`: why a clock's deadlines are where
they are, as a strip of counted and excluded time and the facts that set it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from daemon.api.deps import NowDep, ReaderDep, ServicesDep, StrictQuery, Viewer
from daemon.api.incidents import clock_out, load_incident
from daemon.api.problems import Problem
from daemon.api.schemas import ClockOut
from daemon.api.utc import Instant
from daemon.explain import ClockExplained, Fact, explain_clock
from daemon.store.models import MaintenanceWindow

router = APIRouter(prefix="/v1", tags=["incidents"], dependencies=[StrictQuery])


class ExcludingWindowOut(BaseModel):
    """A window or monitoring fault that excluded part of the clock."""

    id: int
    kind: str
    description: str
    scope: str


class SegmentOut(BaseModel):
    start: Instant
    end: Instant
    counted: bool
    seconds: float
    ahead: bool = Field(description="After now: planned, but already moving the due instants.")
    window_ids: list[int] = Field(
        description="The windows excluding this stretch (empty: counted)."
    )


class DueChangeOut(BaseModel):
    slo_due: Instant | None
    sla_due: Instant | None
    outcome: str | None


class FactOut(BaseModel):
    """A timeline entry that set the clock's start or stop, or moved its due instants."""

    timeline_id: int
    at: Instant
    kind: str
    actor: str
    sets: str = Field(description="`start`, `stop`, or `due` (due instants or outcome moved).")
    before: DueChangeOut | None = None
    after: DueChangeOut | None = None
    detail: dict[str, Any]


class ClockExplainOut(BaseModel):
    incident_id: int
    clock: ClockOut
    evaluated_at: Instant
    counted_seconds: float | None
    excluded_seconds: float | None
    segments: list[SegmentOut]
    windows: list[ExcludingWindowOut]
    facts: list[FactOut]


def _due_change(recorded: object) -> DueChangeOut | None:
    """A `clocks_recomputed` fingerprint ([slo_due, sla_due, outcome]) as named fields."""
    if not isinstance(recorded, list) or len(recorded) != 3:
        return None
    slo_due, sla_due, outcome = recorded
    return DueChangeOut(slo_due=slo_due, sla_due=sla_due, outcome=outcome)


def _fact_out(fact: Fact) -> FactOut:
    entry = fact.entry
    return FactOut(
        timeline_id=entry.id,
        at=entry.at,
        kind=entry.kind,
        actor=entry.actor,
        sets=fact.sets,
        before=_due_change(fact.before),
        after=_due_change(fact.after),
        detail=entry.detail,
    )


def _window_out(window: MaintenanceWindow) -> ExcludingWindowOut:
    return ExcludingWindowOut(
        id=window.id, kind=window.kind, description=window.description, scope=window.scope
    )


def explain_out(incident_id: int, explained: ClockExplained, now: datetime) -> ClockExplainOut:
    result = explained.explanation
    policy = explained.policy.to_dict()
    return ClockExplainOut(
        incident_id=incident_id,
        clock=clock_out(explained.name, result.evaluation if result else None, policy),
        evaluated_at=now,
        counted_seconds=result.counted.total_seconds() if result else None,
        excluded_seconds=result.excluded.total_seconds() if result else None,
        segments=[
            SegmentOut(
                start=s.start,
                end=s.end,
                counted=s.counted,
                seconds=s.duration.total_seconds(),
                ahead=s.ahead,
                window_ids=[int(cause) for cause in s.causes],
            )
            for s in (result.segments if result else ())
        ],
        windows=[_window_out(w) for w in sorted(explained.windows.values(), key=lambda w: w.id)],
        facts=[_fact_out(f) for f in explained.facts],
    )


@router.get("/incidents/{incident_id}/clocks/{clock}/explain", response_model=ClockExplainOut)
def explain(
    incident_id: int, clock: str, session: ReaderDep, svc: ServicesDep, _who: Viewer, now: NowDep
) -> ClockExplainOut:
    """The clock's counted and excluded segments (with the windows behind each excluded
    one), its due instants, and the timeline entries that set or moved them."""
    incident = load_incident(session, incident_id)
    try:
        explained = explain_clock(session, incident, clock, now, svc.horizon)
    except LookupError:
        names = ", ".join(str(p["name"]) for p in incident.policy)
        raise Problem(
            404, "not-found", f"incident {incident_id} has no clock {clock!r} (it has: {names})"
        ) from None
    return explain_out(incident_id, explained, now)
