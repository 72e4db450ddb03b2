"""Gather one customer's month from the store into a `CustomerReport`.

The month is the calendar's (Asia/Tokyo): an incident belongs to it when it was
detected in it, a support request when it was received in it, a provider notice when
its announced span overlaps it. Every clock is judged as of `now` through the same
engine calls the incident and explain routes use, so the report says what the API
says: a stopped clock has its outcome, a running one already past a target counts as
breached, and one within its targets is `open` and left out of the ratios. Excluded
time is the explain strip's, with the windows behind each stretch.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from daemon.api.types import instant_out_of_range
from daemon.clocks import evaluate_support_request
from daemon.customer_report.model import (
    Compliance,
    CustomerRef,
    CustomerReport,
    Exclusion,
    IncidentClock,
    IncidentEntry,
    NoticeEntry,
    Outcome,
    SupportClock,
    SupportEntry,
    Target,
    WindowRef,
)
from daemon.explain import ClockExplained, explain_clock
from daemon.notify.templates import resolve_locale
from daemon.reports import month_bounds
from daemon.store.models import (
    Contract,
    Customer,
    Incident,
    ProviderNoticeRecord,
    ProviderNoticeResource,
    SupportRequest,
)
from sla_engine.calendar import BusinessCalendar
from sla_engine.evaluation import ClockEvaluation
from sla_engine.policy import ClockPolicy


def build_report(
    session: Session,
    customer: Customer,
    month: str,
    calendar: BusinessCalendar,
    now: datetime,
    horizon: timedelta,
) -> CustomerReport:
    """Raises ValueError for a `month` that is not `YYYY-MM`, or lies beyond the instants
    the store holds."""
    start, end = month_bounds(month, calendar.timezone)
    for bound in (start, end):
        reason = instant_out_of_range(bound)
        if reason is not None:
            raise ValueError(f"{month} reaches beyond what slad stores: its bounds {reason}")
    locale = resolve_locale(customer.locale)
    incidents = [
        _incident(session, incident, now, horizon)
        for incident in _incidents(session, customer.id, start, end)
    ]
    support = [
        _support(request, calendar, now)
        for request in _support_requests(session, customer.id, start, end)
    ]
    return CustomerReport(
        customer=CustomerRef(id=customer.id, name=customer.name, locale=locale),
        month=month,
        timezone=str(calendar.timezone),
        period_from=start,
        period_to=end,
        generated_at=now,
        partial=now < end,
        incidents=incidents,
        support_requests=support,
        compliance=compliance(
            [(c.name, c.outcome) for i in incidents for c in i.clocks]
            + [(s.clock.name, s.clock.outcome) for s in support if s.clock is not None]
        ),
        notices=_notices(session, customer.id, start, end, locale),
    )


def judged(evaluation: ClockEvaluation) -> Outcome:
    """A stopped clock's outcome; a running one's breach so far, else `open`."""
    if evaluation.outcome is not None:
        return evaluation.outcome.value
    return "open"


def compliance(clocks: Iterable[tuple[str, Outcome]]) -> list[Compliance]:
    """Per clock name, in the order first met: counts and the SLO and SLA ratios.

    The SLO is met only by `met`; the SLA also by `slo_breached`. Undecided clocks
    (`open`, `pending`) are counted but left out of the ratios.
    """
    counts: dict[str, dict[str, int]] = {}
    for name, outcome in clocks:
        row = counts.setdefault(name, {"met": 0, "slo_breached": 0, "sla_breached": 0, "open": 0})
        row["open" if outcome in ("open", "pending") else outcome] += 1
    rows = []
    for name, c in counts.items():
        slo = Target(met=c["met"], breached=c["slo_breached"] + c["sla_breached"], ratio=None)
        sla = Target(met=c["met"] + c["slo_breached"], breached=c["sla_breached"], ratio=None)
        for target in (slo, sla):
            decided = target.met + target.breached
            target.ratio = target.met / decided if decided else None
        rows.append(Compliance(clock=name, count=sum(c.values()), **c, slo=slo, sla=sla))
    return rows


def _incidents(
    session: Session, customer_id: int, start: datetime, end: datetime
) -> list[Incident]:
    """The customer's incidents detected in [start, end), oldest first; an incident merged
    into another is left out (its clocks are the other's)."""
    stmt = (
        select(Incident)
        .where(
            Incident.customer_id == customer_id,
            Incident.detected_at >= start,
            Incident.detected_at < end,
            Incident.status != "merged",
        )
        .options(selectinload(Incident.timeline), selectinload(Incident.resource))
        .order_by(Incident.detected_at, Incident.id)
    )
    return list(session.scalars(stmt))


def _incident(
    session: Session, incident: Incident, now: datetime, horizon: timedelta
) -> IncidentEntry:
    clocks = [
        _incident_clock(explain_clock(session, incident, str(raw["name"]), now, horizon))
        for raw in incident.policy
    ]
    return IncidentEntry(
        id=incident.id,
        title=incident.title,
        severity=incident.severity,
        status=incident.status,
        source=incident.source,
        plan=incident.plan,
        contract_id=incident.contract_id,
        resource_id=incident.resource_id,
        resource=incident.resource.name,
        detected_at=incident.detected_at,
        detected_at_estimated=incident.detected_at_estimated,
        received_at=incident.received_at,
        contacted_at=incident.contacted_at,
        reported_at=incident.reported_at,
        resolved_at=incident.resolved_at,
        clocks=clocks,
    )


def _incident_clock(explained: ClockExplained) -> IncidentClock:
    policy = explained.policy
    result = explained.explanation
    if result is None:
        return IncidentClock(
            name=explained.name,
            state="pending",
            start=None,
            stop=None,
            slo_target_seconds=policy.slo,
            sla_target_seconds=policy.sla,
            slo_due=None,
            sla_due=None,
            counted_seconds=None,
            excluded_seconds=None,
            outcome="pending",
            exclusions=[],
        )
    evaluation = result.evaluation
    exclusions = [
        Exclusion(
            start=segment.start,
            end=segment.end,
            seconds=segment.duration.total_seconds(),
            ahead=segment.ahead,
            windows=[_window(explained, cause) for cause in segment.causes],
        )
        for segment in result.segments
        if not segment.counted
    ]
    return IncidentClock(
        name=explained.name,
        state=evaluation.state.value,
        start=evaluation.start,
        stop=evaluation.stop,
        slo_target_seconds=policy.slo,
        sla_target_seconds=policy.sla,
        slo_due=evaluation.slo_due,
        sla_due=evaluation.sla_due,
        counted_seconds=result.counted.total_seconds(),
        excluded_seconds=result.excluded.total_seconds(),
        outcome=judged(evaluation),
        exclusions=exclusions,
    )


def _window(explained: ClockExplained, cause: str) -> WindowRef:
    window = explained.windows[cause]
    return WindowRef(id=window.id, kind=window.kind, reason=window.description, scope=window.scope)


def _support_requests(
    session: Session, customer_id: int, start: datetime, end: datetime
) -> list[SupportRequest]:
    stmt = (
        select(SupportRequest)
        .join(Contract, SupportRequest.contract_id == Contract.id)
        .where(
            Contract.customer_id == customer_id,
            SupportRequest.received_at >= start,
            SupportRequest.received_at < end,
        )
        .order_by(SupportRequest.received_at, SupportRequest.id)
    )
    return list(session.scalars(stmt))


def _support(request: SupportRequest, calendar: BusinessCalendar, now: datetime) -> SupportEntry:
    evaluation = evaluate_support_request(request, calendar, now)
    clock = None
    if evaluation is not None:
        policy = ClockPolicy.from_dict(request.policy[0])
        clock = SupportClock(
            name=policy.name,
            state=evaluation.state.value,
            start=evaluation.start,
            stop=evaluation.stop,
            slo_target_business_days=policy.slo,
            sla_target_business_days=policy.sla,
            slo_due=evaluation.slo_due,
            sla_due=evaluation.sla_due,
            outcome=judged(evaluation),
        )
    return SupportEntry(
        id=request.id,
        contract_id=request.contract_id,
        received_at=request.received_at,
        replied_at=request.replied_at,
        in_scope=request.in_scope,
        clock=clock,
    )


def _notices(
    session: Session, customer_id: int, start: datetime, end: datetime, locale: str
) -> list[NoticeEntry]:
    """The notices affecting the customer's resources whose span overlaps the month."""
    rows = session.execute(
        select(ProviderNoticeRecord, ProviderNoticeResource)
        .join(ProviderNoticeResource, ProviderNoticeResource.notice_id == ProviderNoticeRecord.id)
        .where(
            ProviderNoticeResource.customer_id == customer_id,
            ProviderNoticeRecord.starts_at < end,
            or_(ProviderNoticeRecord.ends_at.is_(None), ProviderNoticeRecord.ends_at > start),
        )
        .options(selectinload(ProviderNoticeResource.resource))
        .order_by(ProviderNoticeRecord.starts_at, ProviderNoticeRecord.id)
    ).all()
    notices: dict[int, NoticeEntry] = {}
    for notice, affected in rows:
        entry = notices.get(notice.id)
        if entry is None:
            entry = notices[notice.id] = NoticeEntry(
                id=notice.id,
                source=notice.source,
                kind=notice.kind,
                status=notice.status,
                title=in_language(notice.title, locale),
                starts_at=notice.starts_at,
                ends_at=notice.ends_at,
                services=list(notice.services),
                regions=list(notice.regions),
                resources=[],
            )
        entry.resources.append(affected.resource.name)
    return list(notices.values())


def in_language(texts: dict[str, str], locale: str) -> str:
    """The provider's text in `locale`, else in the first language it wrote."""
    if locale in texts:
        return texts[locale]
    return next(iter(texts.values()), "")
