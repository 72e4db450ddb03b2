"""Derive an incident's or support request's clocks from stored facts.

Clocks are never ticked: whenever a fact changes (detection, contact, report, a
window), the pure engine re-evaluates them from the facts and the policy snapshot taken
at detection, and the `clocks` rows are overwritten with the result.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, true
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from daemon.exclusions import IncidentExclusions, incident_exclusions
from daemon.store.models import Clock, Incident, MaintenanceWindow, SupportRequest
from daemon.timeline import add_timeline
from daemon.windows import incident_scope, windows_for
from sla_engine.calendar import BusinessCalendar
from sla_engine.clock import evaluate_elapsed
from sla_engine.evaluation import ClockEvaluation
from sla_engine.policy import CalendarKind, ClockPolicy
from sla_engine.support import evaluate_support

INCIDENT_CLOCKS = ("contact", "report")
RECOMPUTED = "clocks_recomputed"
"""The timeline kind of an entry saying a window moved an incident's clocks."""


def policy_snapshot(policies: Iterable[ClockPolicy], names: Iterable[str]) -> list[dict[str, Any]]:
    """The JSON stored with an incident: the policies of `names` in force right now."""
    wanted = set(names)
    return [p.to_dict() for p in policies if p.name in wanted]


def incident_bounds(
    incident: Incident, now: datetime, horizon: timedelta
) -> tuple[datetime, datetime]:
    """The span over which windows are expanded for this incident's clocks."""
    last = max(
        i for i in (incident.detected_at, incident.contacted_at, incident.reported_at, now) if i
    )
    return incident.detected_at, last + horizon


def incident_facts(incident: Incident) -> dict[str, datetime | None]:
    """The instants a clock policy's `start_event` and `stop_event` name."""
    return {
        "detected": incident.detected_at,
        "contacted": incident.contacted_at,
        "reported": incident.reported_at,
    }


def evaluate_incident(
    incident: Incident, excluded: IncidentExclusions, now: datetime
) -> dict[str, ClockEvaluation | None]:
    """Each clock of the incident's policy snapshot judged at `now`.

    A clock whose start event has not happened yet (the report clock before the first
    contact) is None: it is pending, with no due instants. An incident merged into
    another has no clocks: its alerts and promises are the other's now.
    """
    if incident.status == "merged":
        return {}
    facts = incident_facts(incident)
    result: dict[str, ClockEvaluation | None] = {}
    for raw in incident.policy:
        policy = ClockPolicy.from_dict(raw)
        start = facts.get(policy.start_event)
        if start is None:
            result[policy.name] = None
            continue
        result[policy.name] = evaluate_elapsed(
            start,
            facts.get(policy.stop_event),
            now,
            slo=timedelta(seconds=policy.slo),
            sla=timedelta(seconds=policy.sla),
            exclusions=excluded.intervals,
            warn_fractions=policy.warn_fractions,
            open_from=excluded.open_from,
        )
    return result


def marks(evaluation: ClockEvaluation) -> list[tuple[str, datetime]]:
    """The instants the scheduler acts on, named: each warning, then both breaches.

    A mark with no instant (the clock is paused by a window with no end before it) is
    left out until the window ends and gives it one.
    """
    points = [(f"warning:{w.fraction:g}", w.at) for w in evaluation.warnings]
    points += [("slo_breached", evaluation.slo_due), ("sla_breached", evaluation.sla_due)]
    return [(name, at) for name, at in points if at is not None]


def pending_marks(clock: Clock, evaluation: ClockEvaluation) -> list[tuple[str, datetime]]:
    """Marks not yet recorded that fall before the clock stopped (if it did).

    A stop exactly at a due instant meets the target, so only marks strictly before
    the stop count; warnings after a stop would be noise.
    """
    recorded = set(clock.recorded or ())
    stop = evaluation.stop
    return [
        (name, at)
        for name, at in marks(evaluation)
        if name not in recorded and (stop is None or at < stop)
    ]


def _store(clock: Clock, evaluation: ClockEvaluation | None) -> None:
    if evaluation is None:
        clock.start_at = clock.stop_at = clock.slo_due_at = clock.sla_due_at = None
        clock.counted_seconds = None
        clock.state = "pending"
        clock.outcome = None
        clock.due_at = None
        return
    clock.start_at = evaluation.start
    clock.stop_at = evaluation.stop
    clock.slo_due_at = evaluation.slo_due
    clock.sla_due_at = evaluation.sla_due
    clock.counted_seconds = evaluation.counted.total_seconds()
    clock.state = evaluation.state.value
    clock.outcome = evaluation.outcome.value if evaluation.outcome else None
    rearm(clock, evaluation)


def rearm(clock: Clock, evaluation: ClockEvaluation) -> None:
    """Point `due_at` at the clock's earliest mark not yet recorded (None: nothing left)."""
    pending = pending_marks(clock, evaluation)
    clock.due_at = min(at for _, at in pending) if pending else None


def refresh_incident(
    session: Session,
    incident: Incident,
    now: datetime,
    horizon: timedelta,
    windows: list[MaintenanceWindow] | None = None,
) -> dict[str, ClockEvaluation | None]:
    """Re-evaluate and store the incident's clocks; returns the evaluations."""
    if windows is None:
        windows = windows_for(session, incident)
    start, end = incident_bounds(incident, now, horizon)
    excluded = incident_exclusions(incident, windows, start, end)
    evaluations = evaluate_incident(incident, excluded, now)
    by_name = {c.name: c for c in incident.clocks}
    for name, evaluation in evaluations.items():
        clock = by_name.get(name)
        if clock is None:
            clock = Clock(name=name, plan=incident.plan, recorded=[])
            incident.clocks.append(clock)
        _store(clock, evaluation)
    return evaluations


def evaluate_support_request(
    request: SupportRequest, calendar: BusinessCalendar, now: datetime
) -> ClockEvaluation | None:
    """The `support_reply` clock of a request (None when it has no clock)."""
    for raw in request.policy:
        policy = ClockPolicy.from_dict(raw)
        if policy.calendar is CalendarKind.BUSINESS_DAYS:
            return evaluate_support(
                request.received_at,
                request.replied_at,
                now,
                calendar=calendar,
                slo_days=policy.slo,
                sla_days=policy.sla,
                warn_fractions=policy.warn_fractions,
            )
    return None


def refresh_support_request(
    request: SupportRequest, calendar: BusinessCalendar, now: datetime, plan: str
) -> ClockEvaluation | None:
    evaluation = evaluate_support_request(request, calendar, now)
    if evaluation is None:
        return None
    clock = next((c for c in request.clocks if c.name == "support_reply"), None)
    if clock is None:
        clock = Clock(name="support_reply", plan=plan, recorded=[])
        request.clocks.append(clock)
    _store(clock, evaluation)
    return evaluation


def recompute_for_window(
    session: Session,
    window: MaintenanceWindow,
    now: datetime,
    horizon: timedelta,
    why: dict[str, object],
    since: datetime | None = None,
    before: MaintenanceWindow | None = None,
) -> int:
    """Re-derive the clocks of every incident the window can touch; returns how many changed.

    `before` is the window as it was before an edit (`daemon.windows.as_it_was`): the
    incidents it covered then are re-derived too, since a window that was shortened no
    longer reaches the ones only its old span covered, and they must count that time
    again. Incidents whose clocks all stopped before the window (or `since`, the
    earliest instant an edit affected) cannot be touched and are skipped. Each incident
    whose due instants or outcomes moved gets a timeline entry saying which window and why.
    """
    shapes = [window] if before is None else [window, before]
    earliest = min([w.start_at for w in shapes] + ([since] if since else []))
    stmt = select(Incident).where(
        or_(Incident.reported_at.is_(None), Incident.reported_at > earliest),
        or_(*(_reachable(shape) for shape in shapes)),
    )
    changed = 0
    for incident in session.scalars(stmt):
        clocks_before = fingerprint(incident)
        refresh_incident(session, incident, now, horizon)
        clocks_after = fingerprint(incident)
        if clocks_before != clocks_after:
            changed += 1
            add_timeline(
                session,
                incident,
                now,
                now,
                RECOMPUTED,
                str(why.get("actor", "slad")),
                {**why, "window_id": window.id, "before": clocks_before, "after": clocks_after},
            )
    return changed


def _reachable(window: MaintenanceWindow) -> ColumnElement[bool]:
    """The incidents `window` may cover: in its scope, and detected before it ends."""
    conditions = [c for c in (incident_scope(window),) if c is not None]
    if window.rrule is None and window.end_at is not None:
        conditions.append(Incident.detected_at < window.end_at)
    return and_(true(), *conditions)


def fingerprint(incident: Incident) -> dict[str, object]:
    """Each clock's due instants and outcome: what a timeline entry shows before and
    after a recompute."""
    return {
        c.name: [
            c.slo_due_at.isoformat() if c.slo_due_at else None,
            c.sla_due_at.isoformat() if c.sla_due_at else None,
            c.outcome,
        ]
        for c in incident.clocks
    }
