"""Reconciliation: what Azure says happened since the watermark, as events and notices.

Azure stops calling a webhook for 15 minutes after its retries fail, so alerts fired or
resolved in that time reach slad only here. Each poll lists every subscription's alerts
whose time range reaches back `REACH_BEFORE_WATERMARK` before the watermark (an alert
fired a while ago may have resolved since), and maps each to the same keys a webhook
would: a fired alert is its problem (detected at ``startDateTime``), a resolved one its
problem and its recovery (at ``monitorConditionResolvedDateTime``), so whatever the
webhook already delivered is a duplicate. Service Health and Resource Health alerts are
left to their own paths: Service Health events are read from Resource Health's events
API as notices, and a Resource Health alert's cause is only in its pushed payload.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from connectors.azure.alerts import UnmappableAlert, instant, resource_ids, severity
from connectors.azure.api import AzureApi
from connectors.azure.config import AzureInstance
from connectors.azure.health import polled_notice
from connectors.events import AlertEvent, EventKind, Source
from connectors.notices import ProviderNotice
from connectors.source import PollResult

REACH_BEFORE_WATERMARK = timedelta(days=1)
MAX_REACH = timedelta(days=29)  # the alerts API answers custom ranges within 30 days
_LEFT_TO_PUSH = frozenset({"servicehealth", "resource health", "resourcehealth"})


def poll(api: AzureApi, instance: AzureInstance, since: datetime, now: datetime) -> PollResult:
    """Every subscription's alerts and Service Health events since `since`."""
    start = max(since - REACH_BEFORE_WATERMARK, now - MAX_REACH)
    events: list[AlertEvent] = []
    notices: list[ProviderNotice] = []
    for subscription in instance.subscriptions:
        for alert in api.alerts(subscription, start, now):
            events.extend(polled_events(instance.name, alert, now))
        for event in api.health_events(subscription, start):
            notice = polled_notice(instance.name, subscription, event, now)
            if notice is not None:
                notices.append(notice)
    return PollResult(watermark=now, events=events, notices=notices)


def polled_events(instance: str, alert: Mapping[str, Any], now: datetime) -> Sequence[AlertEvent]:
    """The events one listed alert stands for (none for what the push path owns)."""
    properties = alert.get("properties")
    essentials = properties.get("essentials") if isinstance(properties, Mapping) else None
    alert_id = alert.get("id")
    if not isinstance(essentials, Mapping) or not isinstance(alert_id, str) or not alert_id:
        return ()
    service = str(essentials.get("monitorService") or "").lower()
    target = essentials.get("targetResource")
    started = essentials.get("startDateTime")
    if service in _LEFT_TO_PUSH or not isinstance(target, str) or not target:
        return ()
    if not isinstance(started, str):
        return ()
    try:
        detected_at = instant(started)
    except UnmappableAlert:
        return ()
    key = alert_id.lower()
    rule_id = essentials.get("alertRule")
    rule = rule_id.rstrip("/").rsplit("/", 1)[-1] if isinstance(rule_id, str) and rule_id else None
    name = alert.get("name")
    common: dict[str, Any] = {
        "source": Source.AZURE.value,
        "problem_key": f"azure:{key}",
        "received_at": now,
        "severity": severity(essentials.get("severity")),
        "title": rule or (str(name) if name else f"Azure alert {key.rsplit('/', 1)[-1]}"),
        "resource_ids": resource_ids(target, rule),
        "raw": dict(alert),
        "instance": instance,
    }
    events = [
        AlertEvent(
            event_key=f"azure:{key}:fired",
            kind=EventKind.PROBLEM,
            detected_at=detected_at,
            **common,
        )
    ]
    if essentials.get("monitorCondition") == "Resolved":
        resolved = essentials.get("monitorConditionResolvedDateTime")
        estimated = not isinstance(resolved, str)
        at = essentials.get("lastModifiedDateTime") if estimated else resolved
        try:
            resolved_at = instant(str(at)) if at else now
        except UnmappableAlert:
            resolved_at, estimated = now, True
        events.append(
            AlertEvent(
                event_key=f"azure:{key}:resolved",
                kind=EventKind.RECOVERY,
                detected_at=max(resolved_at, detected_at),
                detected_at_estimated=estimated,
                **common,
            )
        )
    return events
