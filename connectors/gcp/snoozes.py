"""Snoozes, Google's maintenance windows, as `SourceWindow`s.

A snooze names up to 16 alert policies (``criteria.policies``), optionally narrowed by a
filter when it names exactly one (``resource.labels.instance_id="..."``), and an
interval; while it lasts Monitoring opens no incident for what it covers. Its window
covers, as identifier sets the registry's selectors match:

- with a filter: the resource the filter names (``gcp.project`` plus a
  ``gcp.resource_type`` / ``gcp.label.<key>`` for each ``resource.type`` /
  ``resource.labels.<key>`` equality in it);
- without one: each resource an alert of one of its policies concerned while the
  snooze lasted (the alerts the poller lists reach back to the snooze's start), and the
  policy itself (``gcp.project`` + ``gcp.policy``) for a resource selected by policy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from connectors.gcp.config import GcpInstance
from connectors.gcp.incidents import UnmappableIncident, alert_events
from connectors.source import SourceWindow

_EQUALITY = re.compile(r'resource\.(type|labels\.([A-Za-z0-9_.-]+))\s*=\s*"((?:[^"\\]|\\.)*)"')


def snooze_window(
    instance: GcpInstance,
    project: str,
    snooze: Any,
    alerts: Sequence[Mapping[str, Any]],
    policy_names: Mapping[str, str],
    now: datetime,
) -> SourceWindow | None:
    """The window one snooze stands for, or None when it covers nothing slad can name."""
    start = _aware(snooze.interval.start_time)
    end = _aware(snooze.interval.end_time)
    if start is None or end is None or end <= start:
        return None
    policies = list(snooze.criteria.policies)
    targets = _filter_targets(project, str(snooze.criteria.filter or ""))
    if not targets:
        targets = _alert_targets(instance, policies, alerts, start, end, now)
        for policy in policies:
            if policy in policy_names:
                targets.append({"gcp.project": project, "gcp.policy": policy_names[policy]})
    if not targets:
        return None
    label = snooze.display_name or snooze.name
    return SourceWindow(
        ref=str(snooze.name),
        targets=_unique(targets),
        description=f"Google Cloud snooze: {label}",
        start=start,
        end=end,
    )


def _filter_targets(project: str, text: str) -> list[dict[str, str]]:
    target = {"gcp.project": project}
    for match in _EQUALITY.finditer(text):
        value = match.group(3).replace('\\"', '"')
        if match.group(1) == "type":
            target["gcp.resource_type"] = value
        else:
            target[f"gcp.label.{match.group(2)}"] = value
    return [target] if len(target) > 1 else []


def _alert_targets(
    instance: GcpInstance,
    policies: Iterable[str],
    alerts: Sequence[Mapping[str, Any]],
    start: datetime,
    end: datetime,
    now: datetime,
) -> list[dict[str, str]]:
    wanted = set(policies)
    targets = []
    for alert in alerts:
        policy = alert.get("policy")
        if not isinstance(policy, Mapping) or policy.get("name") not in wanted:
            continue
        try:
            events = alert_events(instance, alert, now)
        except UnmappableIncident:
            continue
        opened = events[0].detected_at
        closed = events[1].detected_at if len(events) > 1 else None
        if opened < end and (closed is None or closed > start):
            targets.append(dict(events[0].resource_ids))
    return targets


def _unique(targets: list[dict[str, str]]) -> list[dict[str, str]]:
    seen: list[dict[str, str]] = []
    for target in targets:
        if target not in seen:
            seen.append(target)
    return seen


def _aware(value: Any) -> datetime | None:
    if not isinstance(value, datetime) or value.timestamp() <= 0:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
