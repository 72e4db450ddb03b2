"""Zabbix maintenance periods as plain values the daemon can store as maintenance windows.

Zabbix keeps a maintenance as an outer bound (``active_since``..``active_till``) and a
list of time periods that are either one-time or recur daily, weekly or monthly in the
server's local time. Recurrences become RFC 5545 RRULEs with a local `dtstart`, so wall
time survives DST. Zabbix anchors "every N days/weeks" at the day (week) of
``active_since``, and the first occurrence is put there so the RRULE and Zabbix agree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from connectors.zabbix.mapping import instant

_ONE_TIME, _DAILY, _WEEKLY, _MONTHLY = "0", "2", "3", "4"
_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")  # dayofweek bits 1, 2, 4, ... 64
_LAST_WEEK = 5  # monthly `every` 5 means "last <weekday> of the month"

DayMatcher = Callable[[date], bool]


@dataclass(frozen=True, slots=True)
class OneTimePeriod:
    """A single [start, end), already cut to the maintenance's active bounds."""

    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class RecurringPeriod:
    """Occurrences [o, o + duration) for each o of `rrule` starting at `dtstart`.

    `rrule` carries ``UNTIL`` = the maintenance's ``active_till``; occurrences must still
    be cut to the maintenance's [active_since, active_till) by whoever expands them.
    """

    rrule: str
    dtstart: datetime
    duration: timedelta


Period = OneTimePeriod | RecurringPeriod


@dataclass(frozen=True, slots=True)
class MaintenanceTag:
    """A problem tag filter: only matching problems are suppressed during maintenance."""

    tag: str
    value: str
    operator: str  # "equals" or "contains"


@dataclass(frozen=True, slots=True)
class Maintenance:
    """One Zabbix maintenance and everything needed to turn it into windows.

    Scope is the union of `hosts` (technical names) and the hosts of `host_groups`.
    `collects_data` is False for "no data collection" maintenances.
    """

    instance: str
    maintenance_id: str
    name: str
    description: str
    collects_data: bool
    active_since: datetime
    active_till: datetime
    hosts: tuple[str, ...]
    host_groups: tuple[str, ...]
    periods: tuple[Period, ...]
    tags: tuple[MaintenanceTag, ...] = ()


@dataclass(frozen=True, slots=True)
class HostMaintenance:
    """A host's live maintenance state as `host.get` reports it."""

    host: str
    in_maintenance: bool
    maintenance_id: str | None
    since: datetime | None
    collects_data: bool


def map_maintenances(
    instance: str, results: Sequence[Mapping[str, Any]], tz: ZoneInfo
) -> list[Maintenance]:
    """Map `maintenance.get` results (6.0 ``groups`` or 6.2+ ``hostgroups``)."""
    return [_maintenance(instance, result, tz) for result in results]


def map_host_maintenance(results: Sequence[Mapping[str, Any]]) -> list[HostMaintenance]:
    """Map `host.get` results that include the ``maintenance_*`` fields."""
    hosts = []
    for result in results:
        active = str(result.get("maintenance_status", "0")) == "1"
        hosts.append(
            HostMaintenance(
                host=str(result["host"]),
                in_maintenance=active,
                maintenance_id=str(result["maintenanceid"]) if active else None,
                since=instant(result["maintenance_from"]) if active else None,
                collects_data=str(result.get("maintenance_type", "0")) == "0",
            )
        )
    return hosts


def _maintenance(instance: str, result: Mapping[str, Any], tz: ZoneInfo) -> Maintenance:
    since, till = instant(result["active_since"]), instant(result["active_till"])
    groups = result.get("hostgroups", result.get("groups", []))
    periods = (_period(p, since, till, tz) for p in result.get("timeperiods", []))
    return Maintenance(
        instance=instance,
        maintenance_id=str(result["maintenanceid"]),
        name=str(result["name"]),
        description=str(result.get("description", "")),
        collects_data=str(result.get("maintenance_type", "0")) == "0",
        active_since=since,
        active_till=till,
        hosts=tuple(sorted(str(h["host"]) for h in result.get("hosts", []))),
        host_groups=tuple(sorted(str(g["name"]) for g in groups)),
        periods=tuple(p for p in periods if p is not None),
        tags=tuple(
            MaintenanceTag(
                tag=str(t["tag"]),
                value=str(t.get("value", "")),
                operator="contains" if str(t.get("operator", "2")) == "2" else "equals",
            )
            for t in result.get("tags", [])
        ),
    )


def _period(raw: Mapping[str, Any], since: datetime, till: datetime, tz: ZoneInfo) -> Period | None:
    kind = str(raw["timeperiod_type"])
    duration = timedelta(seconds=int(raw["period"]))
    if kind == _ONE_TIME:
        start = max(instant(raw["start_date"]), since)
        end = min(instant(raw["start_date"]) + duration, till)
        return OneTimePeriod(start, end) if start < end else None
    start_time = _seconds_to_time(int(raw.get("start_time", 0)))
    every = int(raw.get("every", 1)) or 1
    until = "UNTIL=" + till.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    first_day = since.astimezone(tz).date()
    if kind == _DAILY:
        rule = f"FREQ=DAILY;INTERVAL={every};{until}"
        start_day = first_day
    elif kind == _WEEKLY:
        days = _weekdays(int(raw["dayofweek"]))
        rule = f"FREQ=WEEKLY;INTERVAL={every};BYDAY={','.join(days)};WKST=MO;{until}"
        monday = first_day - timedelta(days=first_day.weekday())
        start_day = _first(monday, lambda d: _WEEKDAYS[d.weekday()] in days)
    elif kind == _MONTHLY:
        rule, matches = _monthly(raw, every, until)
        start_day = _first(first_day.replace(day=1), matches)
    else:
        raise ValueError(f"unknown Zabbix timeperiod_type {kind!r}")
    return RecurringPeriod(rule, datetime.combine(start_day, start_time, tz), duration)


def _monthly(raw: Mapping[str, Any], every: int, until: str) -> tuple[str, DayMatcher]:
    months = [m + 1 for m in range(12) if int(raw["month"]) & (1 << m)]
    if not months:
        raise ValueError("monthly Zabbix maintenance period without months")
    by_month = f"BYMONTH={','.join(map(str, months))}"
    day = int(raw.get("day", 0))
    if day:

        def on_day(d: date) -> bool:
            return d.month in months and d.day == day

        return f"FREQ=MONTHLY;{by_month};BYMONTHDAY={day};{until}", on_day
    days = _weekdays(int(raw["dayofweek"]))
    ordinal = -1 if every == _LAST_WEEK else every

    def on_weekday(d: date) -> bool:
        if d.month not in months or _WEEKDAYS[d.weekday()] not in days:
            return False
        if ordinal == -1:
            return (d + timedelta(days=7)).month != d.month
        return (d.day - 1) // 7 + 1 == ordinal

    by_day = ",".join(f"{ordinal}{wd}" for wd in days)
    return f"FREQ=MONTHLY;{by_month};BYDAY={by_day};{until}", on_weekday


def _weekdays(mask: int) -> list[str]:
    days = [name for bit, name in enumerate(_WEEKDAYS) if mask & (1 << bit)]
    if not days:
        raise ValueError("Zabbix maintenance period without days of week")
    return days


def _first(start: date, matches: DayMatcher) -> date:
    """The first day on or after `start` that matches; any rule matches within ~a year."""
    for offset in range(400):
        day = start + timedelta(days=offset)
        if matches(day):
            return day
    raise ValueError("Zabbix maintenance period never occurs")


def _seconds_to_time(seconds: int) -> time:
    return time(seconds // 3600, seconds % 3600 // 60, seconds % 60)
