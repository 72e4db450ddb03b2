"""Incidents: list, detail with live clocks, and the operator actions that stop clocks."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from sqlalchemy import Select, exists, or_, select
from sqlalchemy.orm import Session, selectinload

from daemon import audit, regroup
from daemon.api.deps import (
    NowDep,
    Operator,
    ReaderDep,
    ServicesDep,
    SessionDep,
    StrictQuery,
    Viewer,
)
from daemon.api.due_order import by_next_due
from daemon.api.instants import ActionBody, resolve_at
from daemon.api.pages import newest_first
from daemon.api.problems import Problem, not_found, problem_responses, unknown_reference
from daemon.api.schemas import (
    ActionIn,
    AlertOut,
    AssignIn,
    ClockOut,
    DueOut,
    ExcusedFaultOut,
    IncidentDetail,
    IncidentSummary,
    MergeIn,
    NoteIn,
    Page,
    SplitIn,
    TimelineOut,
    WarningOut,
)
from daemon.api.types import Id, Text
from daemon.api.utc import Instant
from daemon.clocks import evaluate_incident, incident_bounds, refresh_incident
from daemon.exclusions import incident_exclusions
from daemon.owed import clock_due, earliest, incident_next_due_sql, incident_owes_sql, owes
from daemon.services import Services
from daemon.store.models import Alert, Clock, Incident, MaintenanceWindow, Resource
from daemon.timeline import add_timeline
from daemon.windows import covers, windows_for
from sla_engine.evaluation import ClockEvaluation, ClockState
from sla_engine.faults import Excusal

router = APIRouter(prefix="/v1", tags=["incidents"], dependencies=[StrictQuery])

BREACHED = ("slo_breached", "sla_breached")
CONFLICT = problem_responses(409)


def excused_out(evaluation: ClockEvaluation, excused: tuple[Excusal, ...]) -> list[ExcusedFaultOut]:
    """The faults this clock was excused for, each cut to the span the clock counted in."""
    result = []
    for excusal in excused:
        start = max(excusal.start, evaluation.start)
        ends = [e for e in (excusal.end, evaluation.stop) if e is not None]
        end = min(ends, default=None)
        if end is None or start < end:
            result.append(ExcusedFaultOut(window_id=int(excusal.fault.ref), start=start, end=end))
    return result


def clock_out(
    name: str,
    evaluation: ClockEvaluation | None,
    policy: dict[str, object] | None,
    excused: tuple[Excusal, ...] = (),
) -> ClockOut:
    if evaluation is None:
        return ClockOut(
            name=name,
            state="pending",
            start=None,
            stop=None,
            slo_due=None,
            sla_due=None,
            counted_seconds=None,
            slo_remaining_seconds=None,
            sla_remaining_seconds=None,
            outcome=None,
            warnings=[],
            policy=policy,
        )
    stopped = evaluation.state is ClockState.STOPPED
    return ClockOut(
        name=name,
        state=evaluation.state.value,
        start=evaluation.start,
        stop=evaluation.stop,
        slo_due=evaluation.slo_due,
        sla_due=evaluation.sla_due,
        counted_seconds=evaluation.counted.total_seconds(),
        slo_remaining_seconds=evaluation.slo_remaining.total_seconds(),
        sla_remaining_seconds=evaluation.sla_remaining.total_seconds(),
        outcome=evaluation.outcome.value if stopped and evaluation.outcome else None,
        passed=list(evaluation.passed),
        warnings=[WarningOut(fraction=w.fraction, at=w.at) for w in evaluation.warnings],
        excused_faults=excused_out(evaluation, excused),
        policy=policy,
    )


def live_clocks(
    incident: Incident, windows: list[MaintenanceWindow], now: datetime, horizon: timedelta
) -> list[ClockOut]:
    start, end = incident_bounds(incident, now, horizon)
    excluded = incident_exclusions(incident, windows, start, end)
    evaluations = evaluate_incident(incident, excluded, now)
    policies = {str(p["name"]): p for p in incident.policy}
    return [
        clock_out(name, ev, policies.get(name), excluded.excused)
        for name, ev in evaluations.items()
    ]


def next_due_out(clocks: list[ClockOut], now: datetime) -> DueOut | None:
    due = earliest(clock_due(c.name, c.state, c.slo_due, c.sla_due, now) for c in clocks)
    if due is None:
        return None
    return DueOut(clock=due.clock, target=due.target, at=due.at, seconds_left=due.seconds_left(now))


def summary(incident: Incident, clocks: list[ClockOut], now: datetime) -> IncidentSummary:
    return IncidentSummary(
        id=incident.id,
        status=incident.status,
        title=incident.title,
        severity=incident.severity,
        source=incident.source,
        plan=incident.plan,
        customer_id=incident.customer_id,
        contract_id=incident.contract_id,
        resource_id=incident.resource_id,
        detected_at=incident.detected_at,
        detected_at_estimated=incident.detected_at_estimated,
        contacted_at=incident.contacted_at,
        reported_at=incident.reported_at,
        resolved_at=incident.resolved_at,
        owed=owes(c.state for c in clocks),
        next_due=next_due_out(clocks, now),
        merged_into_id=incident.merged_into_id,
        clocks=clocks,
    )


def alert_out(a: Alert) -> AlertOut:
    return AlertOut(
        id=a.id,
        source=a.source,
        instance=a.instance,
        problem_key=a.problem_key,
        status=a.status,
        title=a.title,
        severity=a.severity,
        resource_ids=a.resource_ids,
        detected_at=a.detected_at,
        detected_at_estimated=a.detected_at_estimated,
        received_at=a.received_at,
        resolved_at=a.resolved_at,
        incident_id=a.incident_id,
    )


def detail(session: Session, svc: Services, incident: Incident, now: datetime) -> IncidentDetail:
    clocks = live_clocks(incident, windows_for(session, incident), now, svc.horizon)
    base = summary(incident, clocks, now)
    return IncidentDetail(
        **base.model_dump(),
        received_at=incident.received_at,
        alerts=[alert_out(a) for a in incident.alerts],
        timeline=[
            TimelineOut(
                id=t.id,
                at=t.at,
                recorded_at=t.recorded_at,
                kind=t.kind,
                actor=t.actor,
                detail=t.detail,
            )
            for t in sorted(incident.timeline, key=lambda t: (t.at, t.id))
        ],
    )


def _filtered(
    stmt: Select[Incident],
    now: datetime,
    status: str | None,
    customer: int | None,
    contract: int | None,
    plan: str | None,
    resource: int | None,
    source: str | None,
    clock_state: str | None,
    breached: bool | None,
    detected_from: datetime | None,
    detected_to: datetime | None,
    owed: bool | None = None,
    due_before: datetime | None = None,
) -> Select[Incident]:
    for column, value in (
        (Incident.status, status),
        (Incident.customer_id, customer),
        (Incident.contract_id, contract),
        (Incident.plan, plan),
        (Incident.resource_id, resource),
        (Incident.source, source),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if clock_state is not None:
        stmt = stmt.where(
            exists().where(Clock.incident_id == Incident.id, Clock.state == clock_state)
        )
    if breached is not None:
        breach = exists().where(
            Clock.incident_id == Incident.id,
            or_(
                Clock.outcome.in_(BREACHED),
                Clock.stop_at.is_(None) & Clock.slo_due_at.is_not(None) & (Clock.slo_due_at < now),
            ),
        )
        stmt = stmt.where(breach if breached else ~breach)
    if detected_from is not None:
        stmt = stmt.where(Incident.detected_at >= detected_from)
    if detected_to is not None:
        stmt = stmt.where(Incident.detected_at < detected_to)
    if owed is not None:
        stmt = stmt.where(incident_owes_sql() if owed else ~incident_owes_sql())
    if due_before is not None:
        stmt = stmt.where(incident_next_due_sql(now) < due_before)
    return stmt


@router.get("/incidents", response_model=Page[IncidentSummary])
def list_incidents(
    session: ReaderDep,
    svc: ServicesDep,
    _who: Viewer,
    now: NowDep,
    status: Literal["open", "resolved", "merged"] | None = None,
    customer: Id | None = None,
    contract: Id | None = None,
    plan: Text | None = None,
    resource: Id | None = None,
    source: Text | None = None,
    clock_state: Literal["pending", "running", "paused", "stopped"] | None = None,
    breached: bool | None = None,
    detected_from: Instant | None = None,
    detected_to: Instant | None = None,
    owed: Annotated[
        bool | None, Query(description="Incidents with a clock still running (or none).")
    ] = None,
    due_before: Annotated[
        Instant | None, Query(description="Incidents whose next due falls before this.")
    ] = None,
    sort: Annotated[
        Literal["newest", "next_due"],
        Query(description="`next_due`: what falls due first (overdue first), then the rest."),
    ] = "newest",
    cursor: Text | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Page[IncidentSummary]:
    """Newest first, or by next due; pass `next_cursor` back as `cursor` for the next page."""
    stmt = _filtered(
        select(Incident),
        now,
        status,
        customer,
        contract,
        plan,
        resource,
        source,
        clock_state,
        breached,
        detected_from,
        detected_to,
        owed,
        due_before,
    )
    if sort == "next_due":
        paged, next_cursor = by_next_due(session, stmt, incident_next_due_sql(now), cursor, limit)
        rows = [incident for incident, _due in paged]
    else:
        rows, next_cursor = newest_first(session, stmt, Incident.id, cursor, limit)
    windows = list(
        session.scalars(select(MaintenanceWindow).where(MaintenanceWindow.status != "rejected"))
    )
    items = [
        summary(i, live_clocks(i, [w for w in windows if covers(w, i)], now, svc.horizon), now)
        for i in rows
    ]
    return Page[IncidentSummary](items=items, next_cursor=next_cursor)


def load_incident(session: Session, incident_id: int) -> Incident:
    stmt = (
        select(Incident)
        .where(Incident.id == incident_id)
        .options(
            selectinload(Incident.alerts),
            selectinload(Incident.timeline),
            selectinload(Incident.clocks),
        )
    )
    incident = session.scalar(stmt)
    if incident is None:
        raise not_found("incident", incident_id)
    return incident


@router.get("/incidents/{incident_id}", response_model=IncidentDetail)
def get_incident(
    incident_id: Id, session: ReaderDep, svc: ServicesDep, _who: Viewer, now: NowDep
) -> IncidentDetail:
    return detail(session, svc, load_incident(session, incident_id), now)


def _act(
    session: Session,
    svc: Services,
    incident: Incident,
    body: ActionIn,
    who: str,
    now: datetime,
    kind: str,
    at: datetime,
    backdated: bool,
) -> IncidentDetail:
    add_timeline(
        session,
        incident,
        at,
        now,
        kind,
        who,
        {k: v for k, v in (("note", body.note), ("reason", body.reason)) if v},
    )
    audit.record(
        session,
        at=now,
        actor=who,
        action=f"incident.{kind}",
        target_type="incident",
        target_id=incident.id,
        reason=body.reason,
        detail={"at": at.isoformat(), "backdated": backdated},
    )
    refresh_incident(session, incident, now, svc.horizon)
    session.flush()
    return detail(session, svc, incident, now)


def contact(
    session: Session, svc: Services, incident_id: int, body: ActionIn, actor: str, now: datetime
) -> IncidentDetail:
    """Record the first contact with the customer and stop the `contact` clock, audited
    as done by `actor`; the REST route and the console both act through this."""
    incident = load_incident(session, incident_id)
    if incident.contacted_at is not None:
        raise Problem(
            409,
            "already-contacted",
            f"incident {incident_id} was contacted at {incident.contacted_at.isoformat()}",
        )
    at, backdated = _resolve(body, now, svc)
    if at < incident.detected_at:
        raise Problem(422, "before-detection", "contact cannot precede the alert's detection")
    incident.contacted_at = at
    return _act(session, svc, incident, body, actor, now, "contacted", at, backdated)


def report(
    session: Session, svc: Services, incident_id: int, body: ActionIn, actor: str, now: datetime
) -> IncidentDetail:
    """Record delivery of the incident report and stop the `report` clock, audited as
    done by `actor`; the REST route and the console both act through this."""
    incident = load_incident(session, incident_id)
    if incident.contacted_at is None:
        raise Problem(409, "not-contacted", "record the first contact before the report")
    if incident.reported_at is not None:
        raise Problem(
            409,
            "already-reported",
            f"incident {incident_id} was reported at {incident.reported_at.isoformat()}",
        )
    at, backdated = _resolve(body, now, svc)
    if at < incident.contacted_at:
        raise Problem(422, "before-contact", "the report cannot precede the first contact")
    incident.reported_at = at
    return _act(session, svc, incident, body, actor, now, "reported", at, backdated)


@router.post("/incidents/{incident_id}/contact", response_model=IncidentDetail, responses=CONFLICT)
def record_contact(
    incident_id: Id,
    body: ActionBody,
    session: SessionDep,
    svc: ServicesDep,
    who: Operator,
    now: NowDep,
) -> IncidentDetail:
    """Record the first contact with the customer; stops the `contact` clock."""
    return contact(session, svc, incident_id, body, who.name, now)


@router.post("/incidents/{incident_id}/report", response_model=IncidentDetail, responses=CONFLICT)
def record_report(
    incident_id: Id,
    body: ActionBody,
    session: SessionDep,
    svc: ServicesDep,
    who: Operator,
    now: NowDep,
) -> IncidentDetail:
    """Record delivery of the incident report; stops the `report` clock."""
    return report(session, svc, incident_id, body, who.name, now)


@router.post("/incidents/{incident_id}/resolve", response_model=IncidentDetail, responses=CONFLICT)
def resolve_incident(
    incident_id: Id,
    body: ActionBody,
    session: SessionDep,
    svc: ServicesDep,
    who: Operator,
    now: NowDep,
) -> IncidentDetail:
    """Resolve by hand. Clocks still run until contact and report are recorded."""
    incident = load_incident(session, incident_id)
    if incident.status == "resolved":
        raise Problem(409, "already-resolved", f"incident {incident_id} is resolved already")
    at, backdated = _resolve(body, now, svc)
    if at < incident.detected_at:
        raise Problem(422, "before-detection", "resolution cannot precede detection")
    incident.status = "resolved"
    incident.resolved_at = at
    for alert in incident.alerts:
        if alert.status == "firing":
            alert.status = "resolved"
            alert.resolved_at = at
    return _act(session, svc, incident, body, who.name, now, "resolved", at, backdated)


@router.post("/incidents/{incident_id}/merge", response_model=IncidentDetail, responses=CONFLICT)
def merge_incidents(
    incident_id: Id,
    body: MergeIn,
    session: SessionDep,
    svc: ServicesDep,
    who: Operator,
    now: NowDep,
) -> IncidentDetail:
    """Merge incident `incident_id` into `body.incident_id`, or that one into this: the
    earlier detection stands. Answers the incident that stands, clocks recomputed."""
    first = load_incident(session, incident_id)
    if session.get(Incident, body.incident_id) is None:
        raise unknown_reference("incident_id", "incident", body.incident_id)
    second = load_incident(session, body.incident_id)
    try:
        kept = regroup.merge(
            session, first, second, now=now, horizon=svc.horizon, actor=who.name, reason=body.reason
        )
    except regroup.Refused as exc:
        raise Problem(exc.status, exc.kind, str(exc)) from exc
    session.expire(kept)
    return detail(session, svc, load_incident(session, kept.id), now)


@router.post("/incidents/{incident_id}/notes", response_model=TimelineOut, status_code=201)
def add_note(
    incident_id: Id, body: NoteIn, session: SessionDep, who: Operator, now: NowDep
) -> TimelineOut:
    incident = load_incident(session, incident_id)
    entry = add_timeline(session, incident, now, now, "note", who.name, {"text": body.text})
    session.flush()
    return TimelineOut(
        id=entry.id,
        at=entry.at,
        recorded_at=entry.recorded_at,
        kind=entry.kind,
        actor=entry.actor,
        detail=entry.detail,
    )


def _resolve(body: ActionIn, now: datetime, svc: Services) -> tuple[datetime, bool]:
    tolerance = timedelta(seconds=svc.config.server.past_tolerance_seconds)
    return resolve_at(body.at, body.reason, now, tolerance)


@router.get("/alerts", response_model=Page[AlertOut], tags=["alerts"])
def list_alerts(
    session: ReaderDep,
    _who: Viewer,
    assignment: Literal["assigned", "unassigned"] | None = None,
    status: Literal["firing", "resolved"] | None = None,
    source: Text | None = None,
    cursor: Text | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Page[AlertOut]:
    """Alerts; `assignment=unassigned` is the queue of alerts that map to no resource."""
    stmt = select(Alert)
    for column, value in (
        (Alert.assignment, assignment),
        (Alert.status, status),
        (Alert.source, source),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    rows, next_cursor = newest_first(session, stmt, Alert.id, cursor, limit)
    return Page[AlertOut](items=[alert_out(a) for a in rows], next_cursor=next_cursor)


def assign(
    session: Session, svc: Services, alert_id: int, resource_id: int, actor: str, now: datetime
) -> IncidentDetail:
    """Give an unassigned alert its resource, audited as done by `actor`; the incident
    keeps the original detection. The REST route and the console both act through this."""
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise not_found("alert", alert_id)
    if alert.incident_id is not None:
        raise Problem(
            409, "already-assigned", f"alert {alert_id} belongs to incident {alert.incident_id}"
        )
    resource = session.get(Resource, resource_id)
    if resource is None:
        raise unknown_reference("resource_id", "resource", resource_id)
    incident, _created = svc.ingestor.attach(session, alert, resource, now, actor=actor)
    if (
        alert.status == "resolved"
        and incident.status == "open"
        and not any(a.status == "firing" for a in incident.alerts)
    ):
        incident.status = "resolved"
        incident.resolved_at = alert.resolved_at
    audit.record(
        session,
        at=now,
        actor=actor,
        action="alert.assign",
        target_type="alert",
        target_id=alert_id,
        detail={"resource_id": resource.id, "incident_id": incident.id},
    )
    session.flush()
    return detail(session, svc, load_incident(session, incident.id), now)


@router.post(
    "/alerts/{alert_id}/assign", response_model=IncidentDetail, tags=["alerts"], responses=CONFLICT
)
def assign_alert(
    alert_id: Id,
    body: AssignIn,
    session: SessionDep,
    svc: ServicesDep,
    who: Operator,
    now: NowDep,
) -> IncidentDetail:
    """Give an unassigned alert its resource; the incident keeps the original detection."""
    return assign(session, svc, alert_id, body.resource_id, who.name, now)


@router.post(
    "/alerts/{alert_id}/split", response_model=IncidentDetail, tags=["alerts"], responses=CONFLICT
)
def split_alert(
    alert_id: Id,
    body: SplitIn,
    session: SessionDep,
    svc: ServicesDep,
    who: Operator,
    now: NowDep,
) -> IncidentDetail:
    """Give the alert an incident of its own, detected at its own detection; answers
    the new incident. The incident it leaves has its clocks recomputed."""
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise not_found("alert", alert_id)
    try:
        incident = regroup.split(
            session,
            alert,
            now=now,
            horizon=svc.horizon,
            actor=who.name,
            reason=body.reason,
            hooks=svc.ingestor.hooks,
        )
    except regroup.Refused as exc:
        raise Problem(exc.status, exc.kind, str(exc)) from exc
    session.expire(incident)
    return detail(session, svc, load_incident(session, incident.id), now)
