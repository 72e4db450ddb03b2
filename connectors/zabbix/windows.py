"""Zabbix maintenances as the source's own windows (`SourceWindow`), one per time period.

Each period names the resources it covers by the identifier sets of the maintenance's
hosts and of every host in its host groups: the same identifiers an alert from that
host carries, so a registry selector on any of them covers the maintenance too. The
daemon maps them to resources and keeps one window per resource.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from connectors.source import SourceWindow
from connectors.zabbix.config import ZabbixInstance
from connectors.zabbix.maintenance import Maintenance, OneTimePeriod, RecurringPeriod
from sla_engine.recurrence import parse_rrule


def maintenance_windows(
    instance: ZabbixInstance,
    maintenances: Iterable[Maintenance],
    hosts: Mapping[str, Mapping[str, str]],
) -> list[SourceWindow]:
    """The windows of every period of `maintenances` that ever occurs."""
    return [w for m in maintenances for w in _windows(instance, m, hosts)]


def _windows(
    instance: ZabbixInstance, maintenance: Maintenance, hosts: Mapping[str, Mapping[str, str]]
) -> list[SourceWindow]:
    groups = {f"zabbix.hostgroup.{g}" for g in maintenance.host_groups}
    names = set(maintenance.hosts) | {h for h, ids in hosts.items() if groups & set(ids)}
    targets = [
        dict(hosts.get(name, {"zabbix.instance": instance.name, "zabbix.host": name}))
        for name in sorted(names)
    ]
    description = (
        f"Zabbix maintenance {maintenance.name!r} ({instance.name} #{maintenance.maintenance_id})"
    )
    if maintenance.description:
        description += f": {maintenance.description}"
    windows = []
    for index, period in enumerate(maintenance.periods):
        shape = _period_shape(period, maintenance, instance)
        if shape is not None:
            start, end, rrule, duration, until = shape
            windows.append(
                SourceWindow(
                    ref=f"{maintenance.maintenance_id}:{index}",
                    targets=targets,
                    description=description,
                    start=start,
                    end=end,
                    rrule=rrule,
                    timezone=instance.timezone.key,
                    duration_seconds=duration,
                    until=until,
                )
            )
    return windows


def _period_shape(
    period: OneTimePeriod | RecurringPeriod, maintenance: Maintenance, instance: ZabbixInstance
) -> tuple[datetime, datetime | None, str | None, int | None, datetime | None] | None:
    """(start, end, rrule, duration, until) of a period; None if it never occurs.

    A recurrence's first occurrence may fall before the maintenance becomes active (the
    connector anchors it on that day); the window starts at the first one that does not,
    so no time outside the maintenance is excluded.
    """
    if isinstance(period, OneTimePeriod):
        return period.start, period.end, None, None, None
    first = parse_rrule(period.rrule, period.dtstart).after(maintenance.active_since, inc=True)
    if first is None:
        return None
    seconds = int(period.duration.total_seconds())
    return first, None, period.rrule, seconds, maintenance.active_till
