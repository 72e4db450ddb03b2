"""Which maintenance windows and monitoring faults exclude time from an incident's clocks.

A window's scope is one of `all`, `source` (its `source` names a source such as
``zabbix``, or one instance of it such as ``zabbix:main``), `customer`, `contract` or
`resource` (its `scope_ref` is their id). Rejected windows exclude nothing. Recurring
windows are expanded over a bounded horizon after detection: the pure engine needs a
finite interval set.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, bindparam, or_, select
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

    An open-ended window (a fault still going on) extends to the end of the range;
    clocks do not use that placeholder end (`daemon.exclusions` keeps such a window
    open), but a fault's spans within the range are read from here.
    """
    if window.status == "rejected" or range_end <= range_start:
        return IntervalSet()
    if window.effective_from is not None:
        return _intervals(window, range_start, range_end).clip(
            window.effective_from, max(range_end, window.effective_from) + _FOREVER
        )
    return _intervals(window, range_start, range_end)


_FOREVER = timedelta(days=36500)


def _intervals(
    window: MaintenanceWindow, range_start: datetime, range_end: datetime
) -> IntervalSet:
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


WindowScope = tuple[str, str, int, int, int]
"""What a window's scope can name of an incident: source, instance, customer, contract
and resource; incidents alike in all five are covered by the same windows."""


def window_scope(incident: Incident) -> WindowScope:
    """The five things a window's scope can name of `incident`."""
    return (
        incident.source,
        incident.instance,
        incident.customer_id,
        incident.contract_id,
        incident.resource_id,
    )


def _scope_refs(scope: WindowScope) -> dict[str, set[str] | set[int]]:
    """What the windows covering `scope` name, per scope (bar `all`): source names for
    `source`, ids for the others."""
    source, instance, customer_id, contract_id, resource_id = scope
    return {
        "source": {source, f"{source}:{instance}"} if instance else {source},
        "customer": {customer_id},
        "contract": {contract_id},
        "resource": {resource_id},
    }


def _named(window: MaintenanceWindow) -> str | int | None:
    """What a window's scope names: its source, or the id of its row."""
    return window.source if window.scope == "source" else window.scope_ref


_SCOPES = ("source", "customer", "contract", "resource")
_SCOPED_WINDOWS = select(MaintenanceWindow).where(
    MaintenanceWindow.status != "rejected",
    or_(
        MaintenanceWindow.scope == "all",
        and_(
            MaintenanceWindow.scope == "source",
            MaintenanceWindow.source.in_(bindparam("source", expanding=True)),
        ),
        *(
            and_(
                MaintenanceWindow.scope == scope,
                MaintenanceWindow.scope_ref.in_(bindparam(scope, expanding=True)),
            )
            for scope in _SCOPES[1:]
        ),
    ),
)  # built once: the per-call cost of building a statement adds up on the ingest path


def windows_by_scope(
    session: Session, scopes: Collection[WindowScope]
) -> dict[WindowScope, list[MaintenanceWindow]]:
    """The windows that may cover incidents of each of `scopes`, read with one query."""
    if not scopes:
        return {}
    refs = {scope: _scope_refs(scope) for scope in scopes}
    wanted: dict[str, set[str | int]] = {kind: set() for kind in _SCOPES}
    for scope_refs in refs.values():
        for kind, values in scope_refs.items():
            wanted[kind].update(values)
    params = {kind: list(values) for kind, values in wanted.items()}
    windows = list(session.scalars(_SCOPED_WINDOWS, params))
    return {
        scope: [
            window
            for window in windows
            if window.scope == "all" or _named(window) in scope_refs.get(window.scope, ())
        ]
        for scope, scope_refs in refs.items()
    }


def covers(window: MaintenanceWindow, incident: Incident) -> bool:
    """Whether `window`'s scope covers `incident` (the in-memory twin of `windows_for`)."""
    ref = window.scope_ref
    match window.scope:
        case "all":
            return True
        case "source":
            return window.source in (incident.source, f"{incident.source}:{incident.instance}")
        case "customer":
            return ref == incident.customer_id
        case "contract":
            return ref == incident.contract_id
        case "resource":
            return ref == incident.resource_id
    return False


def windows_for(session: Session, incident: Incident) -> list[MaintenanceWindow]:
    scope = window_scope(incident)
    return windows_by_scope(session, [scope])[scope]


class ScopedWindows:
    """The windows of every scope a batch touches (a correlation pass, a wake-up of the
    scheduler), read once per scope: `preload` the scopes known up front with one
    query, and `of` reads any other the first time an incident of it asks."""

    def __init__(self) -> None:
        self._scoped: dict[WindowScope, list[MaintenanceWindow]] = {}

    def preload(self, session: Session, scopes: Collection[WindowScope]) -> None:
        self._scoped.update(windows_by_scope(session, scopes))

    def of(self, session: Session, incident: Incident) -> list[MaintenanceWindow]:
        """The windows that may cover `incident`."""
        scope = window_scope(incident)
        if scope not in self._scoped:
            self._scoped.update(windows_by_scope(session, [scope]))
        return self._scoped[scope]


def incident_scope(window: MaintenanceWindow) -> ColumnElement[bool] | None:
    """SQL condition selecting the incidents `window`'s scope covers (None: all)."""
    match window.scope:
        case "source":
            source, _, instance = (window.source or "").partition(":")
            cond = Incident.source == source
            return cond & (Incident.instance == instance) if instance else cond
        case "customer":
            return Incident.customer_id == window.scope_ref
        case "contract":
            return Incident.contract_id == window.scope_ref
        case "resource":
            return Incident.resource_id == window.scope_ref
    return None


def as_it_was(window: MaintenanceWindow) -> MaintenanceWindow:
    """A copy of `window`'s scope and span, never added to a session: taken before an
    edit, it says which incidents the window covered until then
    (`daemon.clocks.recompute_for_window`'s `before`)."""
    return MaintenanceWindow(
        id=window.id,
        scope=window.scope,
        scope_ref=window.scope_ref,
        source=window.source,
        start_at=window.start_at,
        end_at=window.end_at,
        rrule=window.rrule,
        until_at=window.until_at,
    )
