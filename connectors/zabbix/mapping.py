"""What the webhook and the API paths agree on: keys, severities, resource ids.

A problem seen first through the API (a lost webhook) and later through a redelivered
webhook must produce the same `event_key`, or ingest would count it twice; keeping
the rules in one place guarantees that.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.events import Severity

# Zabbix trigger severities 0 (not classified) .. 5 (disaster).
_SEVERITIES = (
    Severity.INFO,
    Severity.INFO,
    Severity.WARNING,
    Severity.AVERAGE,
    Severity.HIGH,
    Severity.CRITICAL,
)


def event_key(instance: str, event_id: str, discriminator: str = "") -> str:
    """Unique key of one Zabbix event; updates add a discriminator (they share an id)."""
    key = f"zabbix:{instance}:{event_id}"
    return f"{key}:{discriminator}" if discriminator else key


def problem_key(instance: str, problem_event_id: str) -> str:
    """Key shared by a problem and its recovery and updates: the problem's event id."""
    return f"zabbix:{instance}:{problem_event_id}"


def severity(level: int) -> Severity:
    """Map a Zabbix severity number; raises ValueError outside 0..5."""
    if not 0 <= level < len(_SEVERITIES):
        raise ValueError(f"Zabbix severity must be 0..5, got {level}")
    return _SEVERITIES[level]


def resource_ids(
    instance: str,
    host: str | None,
    tags: Iterable[Mapping[str, Any]],
    host_groups: Iterable[str] = (),
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The identifiers the registry can map to a resource.

    The host's technical name is the primary key; tags and host groups let a registry
    map by customer tag or group instead. A tag repeated with several values keeps the
    first, so the mapping never depends on dict ordering of later duplicates.
    """
    ids: dict[str, str] = {"zabbix.instance": instance}
    if host:
        ids["zabbix.host"] = host
    for group in host_groups:
        ids[f"zabbix.hostgroup.{group}"] = group
    for tag in tags:
        name = str(tag.get("tag", ""))
        if name:
            ids.setdefault(f"zabbix.tag.{name}", str(tag.get("value", "")))
    if extra:
        ids.update({key: value for key, value in extra.items() if value})
    return ids


def instant(clock: int | str, ns: int | str = 0) -> datetime:
    """Zabbix's `clock` (epoch seconds) and `ns` as an aware UTC instant (µs precision)."""
    return datetime.fromtimestamp(int(clock), UTC) + timedelta(microseconds=int(ns) // 1000)
