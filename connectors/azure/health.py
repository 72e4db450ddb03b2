"""Azure Service Health as provider notices.

Service Health reaches slad two ways, and both name an event by its ``trackingId``, so
they update one notice:

- pushed, as an activity-log alert of the common schema (``monitoringService``
  ``ServiceHealth``), whose ``alertContext.properties`` carry ``incidentType``, ``stage``,
  ``impactStartTime``, ``impactMitigationTime`` and ``impactedServices`` (a JSON array
  *inside a string*);
- polled, from Resource Health's events API (``Microsoft.ResourceHealth/events``).

``incidentType`` Maintenance is a notice with a window over
``[impactStartTime, impactMitigationTime]``; Incident and Security are outage notices
(windows only once an operator confirms the impact); Informational and ActionRequired
are notices without windows. Each update of a notice moves its stage: Planned and
Rescheduled are scheduled, InProgress and Active under way, Canceled cancels (its window
is removed), Complete, Resolved and RCA are over.

The affected resources are every combination of affected subscription, service and
region, as identifier sets (``azure.subscription``, ``azure.service``,
``azure.region``): a resource is affected when one of its selectors names a subset, for
example ``{"azure.subscription": "...", "azure.region": "Japan East"}``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from connectors.azure.alerts import UnmappableAlert, instant
from connectors.events import Source
from connectors.notices import NoticeKind, NoticeStatus, ProviderNotice

_KIND = {
    "maintenance": NoticeKind.MAINTENANCE,
    "plannedmaintenance": NoticeKind.MAINTENANCE,
    "incident": NoticeKind.INCIDENT,
    "serviceissue": NoticeKind.INCIDENT,
    "security": NoticeKind.INCIDENT,
}
_STAGE = {
    "planned": NoticeStatus.SCHEDULED,
    "rescheduled": NoticeStatus.SCHEDULED,
    "active": NoticeStatus.ACTIVE,
    "inprogress": NoticeStatus.ACTIVE,
    "canceled": NoticeStatus.CANCELLED,
    "cancelled": NoticeStatus.CANCELLED,
    "complete": NoticeStatus.RESOLVED,
    "completed": NoticeStatus.RESOLVED,
    "resolved": NoticeStatus.RESOLVED,
    "rca": NoticeStatus.RESOLVED,
}


def service_health_notice(
    instance: str, data: Mapping[str, Any], received_at: datetime
) -> ProviderNotice:
    """The notice update one pushed Service Health alert carries."""
    essentials: Mapping[str, Any] = data["essentials"]
    context = data.get("alertContext")
    context = context if isinstance(context, Mapping) else {}
    properties = context.get("properties")
    if not isinstance(properties, Mapping):
        raise UnmappableAlert("field 'data.alertContext.properties' is required for Service Health")
    tracking = _text(properties, "trackingId")
    incident_type = str(properties.get("incidentType") or "")
    kind = _KIND.get(incident_type.lower(), NoticeKind.INFORMATIONAL)
    stage = str(properties.get("stage") or context.get("status") or "Active")
    status = _STAGE.get(stage.lower(), NoticeStatus.ACTIVE)
    starts_at = _instant_or(properties.get("impactStartTime"), essentials.get("firedDateTime"))
    ends_at = _end(properties.get("impactMitigationTime"), starts_at)
    services, regions = _impacted(properties.get("impactedServices"))
    services = services or _one(properties.get("service"))
    regions = regions or _one(properties.get("region"))
    subscriptions = _subscriptions(essentials.get("alertTargetIDs"))
    when = context.get("eventTimestamp") or essentials.get("firedDateTime")
    update = properties.get("communicationId") or f"{stage}:{when}"
    title = str(properties.get("title") or f"Azure {incident_type or 'Service Health'} {tracking}")
    description = properties.get("communication")
    return ProviderNotice(
        source=Source.AZURE.value,
        event_id=tracking,
        update_id=str(update)[:200],
        kind=kind,
        status=status,
        title={"en": title[:500]},
        starts_at=starts_at,
        ends_at=ends_at,
        description={"en": str(description)} if description else {},
        services=services,
        regions=regions,
        affected_resources=affected(subscriptions, services, regions),
        instance=instance,
        raw={"schemaId": "azureMonitorCommonAlertSchema", "data": dict(data)},
    )


def polled_notice(
    instance: str, subscription: str, event: Mapping[str, Any], now: datetime
) -> ProviderNotice | None:
    """The notice one Resource Health event stands for (``properties`` of the REST
    resource, as the SDK's ``as_dict()`` gives it, camel-cased keys), or None when it
    has no start to place it at."""
    properties = event.get("properties", event)
    tracking = event.get("name") or properties.get("trackingId")
    start_text = properties.get("impactStartTime")
    if not isinstance(tracking, str) or not tracking or not start_text:
        return None
    starts_at = _instant_value(start_text)
    ends_at = _end(properties.get("impactMitigationTime"), starts_at)
    event_type = str(properties.get("eventType") or "")
    kind = _KIND.get(event_type.lower(), NoticeKind.INFORMATIONAL)
    if str(properties.get("status") or "").lower() == "resolved":
        status = NoticeStatus.RESOLVED
    elif starts_at > now:
        status = NoticeStatus.SCHEDULED
    else:
        status = NoticeStatus.ACTIVE
    services: list[str] = []
    regions: list[str] = []
    for impact in _mappings(properties.get("impact")):
        _add(services, impact.get("impactedService"))
        for region in _mappings(impact.get("impactedRegions")):
            _add(regions, region.get("impactedRegion"))
    updated = properties.get("lastUpdateTime") or start_text
    title = str(properties.get("title") or f"Azure {event_type or 'Service Health'} {tracking}")
    summary = properties.get("summary") or properties.get("description")
    return ProviderNotice(
        source=Source.AZURE.value,
        event_id=tracking,
        update_id=f"poll:{_iso(updated)}",
        kind=kind,
        status=status,
        title={"en": title[:500]},
        starts_at=starts_at,
        ends_at=ends_at,
        description={"en": str(summary)} if summary else {},
        services=services,
        regions=regions,
        affected_resources=affected([subscription], services, regions),
        instance=instance,
        raw=dict(event),
    )


def affected(
    subscriptions: Sequence[str], services: Sequence[str], regions: Sequence[str]
) -> list[dict[str, str]]:
    """One identifier set per affected subscription, service and region."""
    sets = []
    for subscription in subscriptions or [""]:
        for service in services or [""]:
            for region in regions or [""]:
                ids = {
                    "azure.subscription": subscription,
                    "azure.service": service,
                    "azure.region": region,
                }
                sets.append({k: v for k, v in ids.items() if v})
    return [ids for ids in sets if ids]


def _impacted(value: Any) -> tuple[list[str], list[str]]:
    """Services and regions of ``impactedServices``: an escaped JSON string in the
    webhook (``"[{\\"ServiceName\\": ...}]"``), a list where already decoded."""
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else []
        except json.JSONDecodeError as exc:
            raise UnmappableAlert(
                "field 'alertContext.properties.impactedServices' is not JSON"
            ) from exc
    services: list[str] = []
    regions: list[str] = []
    for item in _mappings(value):
        _add(services, item.get("ServiceName"))
        for region in _mappings(item.get("ImpactedRegions")):
            _add(regions, region.get("RegionName"))
    return services, regions


def _subscriptions(targets: Any) -> list[str]:
    found: list[str] = []
    for target in targets if isinstance(targets, list) else []:
        parts = str(target).strip("/").split("/")
        if len(parts) >= 2 and parts[0].lower() == "subscriptions":
            _add(found, parts[1])
    return found


def _instant_or(value: Any, fallback: Any) -> datetime:
    return _instant_value(value) if value else _instant_value(fallback)


def _instant_value(value: Any) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise UnmappableAlert(f"{value.isoformat()!r} has no UTC offset")
        return value
    if not isinstance(value, str) or not value.strip():
        raise UnmappableAlert("a Service Health notice needs impactStartTime")
    return instant(value)


def _end(value: Any, starts_at: datetime) -> datetime | None:
    if not value:
        return None
    end = _instant_value(value)
    return end if end >= starts_at else None


def _iso(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _one(value: Any) -> list[str]:
    return [value.strip()] if isinstance(value, str) and value.strip() else []


def _add(into: list[str], value: Any) -> None:
    if isinstance(value, str) and value.strip() and value.strip() not in into:
        into.append(value.strip())


def _mappings(value: Any) -> Iterable[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _text(payload: Mapping[str, Any], key: str) -> str:
    value = payload.get(key)
    if not isinstance(value, str) or not value.strip():
        raise UnmappableAlert(f"field 'alertContext.properties.{key}' is required, a string")
    return value.strip()
