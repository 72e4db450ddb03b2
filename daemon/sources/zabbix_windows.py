"""Windows a Zabbix instance dictates: its maintenances, and its own monitoring faults.

Zabbix is the source of truth for its maintenances: each (period, resource) pair becomes
one window row keyed ``zabbix:<instance>:<maintenanceid>:<period>:<resource id>``, and
every sync makes the rows match Zabbix again, creating, updating and deleting them with
an audit entry and a recompute of the clocks they touch. Windows that cover the past
are normal here (an operator records a maintenance after the fact in Zabbix).
An administrator may reject a synchronised window; a later sync keeps the rejection.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.zabbix import Maintenance, OneTimePeriod, RecurringPeriod, ZabbixInstance
from daemon import audit
from daemon.clocks import recompute_for_window
from daemon.faults import record_fault
from daemon.registry import resolve_resource
from daemon.store.models import MaintenanceWindow
from sla_engine.recurrence import parse_rrule

SYNC_REASON = "synchronised from Zabbix"
_SHAPE = (
    "scope_ref",
    "description",
    "start_at",
    "end_at",
    "rrule",
    "timezone",
    "duration_seconds",
    "until_at",
)


@dataclass(frozen=True)
class _Wanted:
    """The shape one window row should have, as Zabbix describes it now."""

    external_ref: str
    scope_ref: int
    description: str
    start_at: datetime
    end_at: datetime | None
    rrule: str | None
    timezone: str
    duration_seconds: int | None
    until_at: datetime | None

    def shape(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _SHAPE}


def sync_maintenances(
    session: Session,
    instance: ZabbixInstance,
    maintenances: Iterable[Maintenance],
    hosts: Mapping[str, Mapping[str, str]],
    now: datetime,
    horizon: timedelta,
) -> None:
    """Make the instance's window rows equal what `maintenances` describe."""
    author = f"zabbix:{instance.name}"
    wanted = {
        w.external_ref: w for m in maintenances for w in _windows(session, instance, m, hosts)
    }
    existing = {
        w.external_ref: w
        for w in session.scalars(
            select(MaintenanceWindow).where(MaintenanceWindow.author == author)
        )
        if w.external_ref is not None
    }
    for ref, want in wanted.items():
        row = existing.get(ref)
        if row is None:
            _create(session, want, author, now, horizon)
        elif _shape(row) != want.shape():
            _update(session, row, want, author, now, horizon)
    for ref, row in existing.items():
        if ref not in wanted:
            _delete(session, row, author, now, horizon)


def _windows(
    session: Session,
    instance: ZabbixInstance,
    maintenance: Maintenance,
    hosts: Mapping[str, Mapping[str, str]],
) -> list[_Wanted]:
    """One wanted row per period and mapped resource of the maintenance."""
    groups = {f"zabbix.hostgroup.{g}" for g in maintenance.host_groups}
    names = set(maintenance.hosts) | {h for h, ids in hosts.items() if groups & set(ids)}
    resources: set[int] = set()
    for name in names:
        resource = resolve_resource(
            session, hosts.get(name, {"zabbix.instance": instance.name, "zabbix.host": name})
        )
        if resource is not None:
            resources.add(resource.id)
    description = (
        f"Zabbix maintenance {maintenance.name!r} ({instance.name} #{maintenance.maintenance_id})"
    )
    if maintenance.description:
        description += f": {maintenance.description}"
    rows = []
    for index, period in enumerate(maintenance.periods):
        shape = _period_shape(period, maintenance, instance)
        if shape is None:
            continue
        for resource_id in sorted(resources):
            ref = f"zabbix:{instance.name}:{maintenance.maintenance_id}:{index}:{resource_id}"
            rows.append(_Wanted(ref, resource_id, description, *shape))
    return rows


def _period_shape(
    period: OneTimePeriod | RecurringPeriod, maintenance: Maintenance, instance: ZabbixInstance
) -> tuple[datetime, datetime | None, str | None, str, int | None, datetime | None] | None:
    """(start, end, rrule, timezone, duration, until) of a period; None if it never occurs.

    A recurrence's first occurrence may fall before the maintenance becomes active (the
    connector anchors it on that day); the window starts at the first one that does not,
    so no time outside the maintenance is excluded.
    """
    zone = instance.timezone.key
    if isinstance(period, OneTimePeriod):
        return period.start, period.end, None, zone, None, None
    first = parse_rrule(period.rrule, period.dtstart).after(maintenance.active_since, inc=True)
    if first is None:
        return None
    seconds = int(period.duration.total_seconds())
    return first, None, period.rrule, zone, seconds, maintenance.active_till


def _shape(row: MaintenanceWindow) -> dict[str, Any]:
    return {name: getattr(row, name) for name in _SHAPE}


def _json(shape: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in shape.items()}


def _create(
    session: Session, want: _Wanted, author: str, now: datetime, horizon: timedelta
) -> None:
    window = MaintenanceWindow(
        scope="resource",
        kind="maintenance",
        status="active",
        external_ref=want.external_ref,
        author=author,
        created_at=now,
        updated_at=now,
        **want.shape(),
    )
    session.add(window)
    session.flush()
    audit.record(
        session,
        at=now,
        actor=author,
        action="window.create",
        target_type="window",
        target_id=window.id,
        reason=SYNC_REASON,
        detail={"external_ref": want.external_ref, **_json(want.shape())},
    )
    recompute_for_window(
        session,
        window,
        now,
        horizon,
        {"actor": author, "action": "window.create", "reason": SYNC_REASON},
    )


def _update(
    session: Session,
    window: MaintenanceWindow,
    want: _Wanted,
    author: str,
    now: datetime,
    horizon: timedelta,
) -> None:
    before = _shape(window)
    for name, value in want.shape().items():
        setattr(window, name, value)
    window.updated_at = now
    session.flush()
    audit.record(
        session,
        at=now,
        actor=author,
        action="window.update",
        target_type="window",
        target_id=window.id,
        reason=SYNC_REASON,
        detail={"before": _json(before), "after": _json(want.shape())},
    )
    recompute_for_window(
        session,
        window,
        now,
        horizon,
        {"actor": author, "action": "window.update", "reason": SYNC_REASON},
        since=min(before["start_at"], want.start_at),
    )


def _delete(
    session: Session, window: MaintenanceWindow, author: str, now: datetime, horizon: timedelta
) -> None:
    """Remove a window Zabbix no longer has; the time it excluded counts again."""
    audit.record(
        session,
        at=now,
        actor=author,
        action="window.delete",
        target_type="window",
        target_id=window.id,
        reason=SYNC_REASON,
        detail={"external_ref": window.external_ref, **_json(_shape(window))},
    )
    session.delete(window)
    session.flush()
    recompute_for_window(
        session,
        window,
        now,
        horizon,
        {"actor": author, "action": "window.delete", "reason": SYNC_REASON},
    )


def _open_fault(session: Session, source: str) -> MaintenanceWindow | None:
    return session.scalars(
        select(MaintenanceWindow)
        .where(
            MaintenanceWindow.kind == "monitoring_fault",
            MaintenanceWindow.scope == "source",
            MaintenanceWindow.source == source,
            MaintenanceWindow.author == "slad",
            MaintenanceWindow.end_at.is_(None),
            MaintenanceWindow.rrule.is_(None),
        )
        .order_by(MaintenanceWindow.id)
    ).first()


def open_fault(
    session: Session,
    source: str,
    since: datetime,
    failures: int,
    error: str,
    now: datetime,
    horizon: timedelta,
) -> MaintenanceWindow:
    """The open monitoring fault of the instance, opened at `since` if there is none yet."""
    existing = _open_fault(session, source)
    if existing is not None:
        return existing
    return record_fault(
        session,
        source=source,
        start=since,
        end=None,
        description=f"slad cannot reach {source}: {error}",
        why=f"{failures} consecutive failures to reach {source}",
        action="fault.opened",
        now=now,
        horizon=horizon,
        detail={"error": error[:2000]},
    )


def close_fault(
    session: Session, source: str, now: datetime, horizon: timedelta
) -> MaintenanceWindow | None:
    """End the instance's open monitoring fault at `now`, when it answered again."""
    window = _open_fault(session, source)
    if window is None:
        return None
    window.end_at = now
    window.updated_at = now
    session.flush()
    why = f"{source} answered again"
    audit.record(
        session,
        at=now,
        actor="slad",
        action="window.update",
        target_type="window",
        target_id=window.id,
        reason=why,
        detail={"end": now.isoformat()},
    )
    recompute_for_window(
        session,
        window,
        now,
        horizon,
        {"actor": "slad", "action": "fault.closed", "reason": why},
        since=window.start_at,
    )
    return window
