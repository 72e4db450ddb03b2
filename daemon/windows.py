"""Which maintenance windows and monitoring faults exclude time from an incident's clocks.

A window's scope is one of `all`, `source` (a source name such as ``zabbix``, or one
instance of it such as ``zabbix:main``), `customer`, `contract` or `resource` (their
ids). Rejected windows exclude nothing. Recurring windows are expanded over a bounded
horizon after detection: the pure engine needs a finite interval set.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from daemon.store.models import Incident, MaintenanceWindow
from sla_engine.intervals import Interval, IntervalSet
from sla_engine.recurrence import RecurringWindow, expand


def recurring_window(window: MaintenanceWindow) -> RecurringWindow | None:
    """The engine's view of a recurring window row (None for a one-off window)."""
    if window.rrule is None or window.duration_seconds is None:
        return None
    local_start = window.start_at.astimezone(ZoneInfo(window.timezone))
    return RecurringWindow(
        dtstart=local_start,
        duration=timedelta(seconds=window.duration_seconds),
        rrule=window.rrule,
    )


def window_intervals(
    window: MaintenanceWindow, range_start: datetime, range_end: datetime
) -> IntervalSet:
    """The excluded intervals of one window that overlap [range_start, range_end).

    An open-ended window (a fault still going on) extends to the end of the range.
    """
    if window.status == "rejected" or range_end <= range_start:
        return IntervalSet()
    rule = recurring_window(window)
    if rule is not None:
        end = range_end if window.until_at is None else min(range_end, window.until_at)
        if end <= range_start:
            return IntervalSet()
        return expand(rule, range_start, end)
    stop = window.end_at if window.end_at is not None else range_end
    start = max(window.start_at, range_start)
    stop = min(stop, range_end)
    if stop <= start:
        return IntervalSet()
    return IntervalSet.of(Interval(start, stop))


def scope_filter(incident: Incident) -> ColumnElement[bool]:
    """SQL condition selecting the windows whose scope covers `incident`."""
    w = MaintenanceWindow
    sources = [incident.source]
    if incident.instance:
        sources.append(f"{incident.source}:{incident.instance}")
    return or_(
        w.scope == "all",
        and_(w.scope == "source", w.scope_ref.in_(sources)),
        and_(w.scope == "customer", w.scope_ref == str(incident.customer_id)),
        and_(w.scope == "contract", w.scope_ref == str(incident.contract_id)),
        and_(w.scope == "resource", w.scope_ref == str(incident.resource_id)),
    )


def covers(window: MaintenanceWindow, incident: Incident) -> bool:
    """Whether `window`'s scope covers `incident` (the in-memory twin of `scope_filter`)."""
    ref = window.scope_ref
    match window.scope:
        case "all":
            return True
        case "source":
            return ref in (incident.source, f"{incident.source}:{incident.instance}")
        case "customer":
            return ref == str(incident.customer_id)
        case "contract":
            return ref == str(incident.contract_id)
        case "resource":
            return ref == str(incident.resource_id)
    return False


def windows_for(session: Session, incident: Incident) -> list[MaintenanceWindow]:
    stmt = select(MaintenanceWindow).where(
        MaintenanceWindow.status != "rejected", scope_filter(incident)
    )
    return list(session.scalars(stmt))


def exclusions(windows: Iterable[MaintenanceWindow], start: datetime, end: datetime) -> IntervalSet:
    """The union of every window's intervals within [start, end)."""
    result = IntervalSet()
    for window in windows:
        result = result.union(window_intervals(window, start, end))
    return result


def incident_scope(window: MaintenanceWindow) -> ColumnElement[bool] | None:
    """SQL condition selecting the incidents `window`'s scope covers (None: all)."""
    ref = window.scope_ref or ""
    match window.scope:
        case "source":
            source, _, instance = ref.partition(":")
            cond = Incident.source == source
            return cond & (Incident.instance == instance) if instance else cond
        case "customer":
            return Incident.customer_id == int(ref)
        case "contract":
            return Incident.contract_id == int(ref)
        case "resource":
            return Incident.resource_id == int(ref)
    return None
