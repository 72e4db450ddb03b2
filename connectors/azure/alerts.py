"""Azure Monitor's common alert schema as `AlertEvent`s.

Metric, log search and activity-log alerts share the schema's ``essentials``; only
``alertContext`` differs, and nothing here needs it except for Resource Health. The
detection instant is ``firedDateTime`` (when Azure Monitor fired the alert); a resolved
alert resolves at ``resolvedDateTime``. Azure calls an action group more than once per
state (retries, several action groups), so the event key is the alert id and its
condition, and the problem key is the alert id, shared by the firing and its resolution.

Every target resource gets its own identifier set: ``azure.resource_id`` (the full ARM
id, matched case-insensitively like every ``azure.*`` value), ``azure.subscription``,
``azure.resource_group`` where the id has one, and ``azure.rule``. An alert with several
targets becomes one event per target (keys suffixed with the target), so each resource's
contract sees its own incident.

Resource Health alerts are activity-log alerts that never resolve: each health change is
a new alert. They are keyed by the resource instead: ``Unavailable`` (or ``Degraded``)
with cause ``PlatformInitiated`` is a problem on the resource, ``Available`` again its
recovery; a ``UserInitiated`` change (a restart, a deallocation, and its return to
``Available``) is kept as an update, which opens no incident and resolves none: a
user-initiated recovery kept as a recovery would wait for the resource's next platform
problem and resolve it at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from connectors.events import AlertEvent, EventKind, Severity, Source

COMMON_SCHEMA = "azureMonitorCommonAlertSchema"
COMMON_SCHEMA_SETTING = (
    "turn on 'Enable the common alert schema' (useCommonAlertSchema) on the action "
    "group's webhook receiver"
)
SERVICE_HEALTH = "servicehealth"
RESOURCE_HEALTH = "resource health"

_SEVERITY = {
    "sev0": Severity.CRITICAL,
    "sev1": Severity.HIGH,
    "sev2": Severity.AVERAGE,
    "sev3": Severity.WARNING,
    "sev4": Severity.INFO,
}
_UNHEALTHY = frozenset({"unavailable", "degraded"})


class UnmappableAlert(ValueError):
    """A verified request that is not a common-schema alert slad can map (answered 422)."""


def common_alert(payload: Any) -> Mapping[str, Any]:
    """The ``data`` of a common-schema payload; refuses any other shape by name."""
    if not isinstance(payload, Mapping) or payload.get("schemaId") != COMMON_SCHEMA:
        schema = payload.get("schemaId") if isinstance(payload, Mapping) else None
        raise UnmappableAlert(
            f"the payload is not the common alert schema (schemaId {str(schema)[:64]!r}); "
            f"{COMMON_SCHEMA_SETTING}"
        )
    data = payload.get("data")
    if not isinstance(data, Mapping) or not isinstance(data.get("essentials"), Mapping):
        raise UnmappableAlert("field 'data.essentials' is required, an object")
    return data


def monitoring_service(data: Mapping[str, Any]) -> str:
    """``essentials.monitoringService`` lower-cased ("platform", "servicehealth", ...)."""
    value = data["essentials"].get("monitoringService")
    return value.strip().lower() if isinstance(value, str) else ""


def alert_events(instance: str, data: Mapping[str, Any], received_at: datetime) -> list[AlertEvent]:
    """The events one common-schema alert stands for (one per target resource)."""
    essentials: Mapping[str, Any] = data["essentials"]
    if monitoring_service(data) == RESOURCE_HEALTH:
        return [_resource_health(instance, data, received_at)]
    alert_id = _text(essentials, "alertId").lower()
    condition = _text(essentials, "monitorCondition")
    if condition == "Fired":
        kind, detected_at = EventKind.PROBLEM, instant(_text(essentials, "firedDateTime"))
    elif condition == "Resolved":
        kind, detected_at = EventKind.RECOVERY, instant(_text(essentials, "resolvedDateTime"))
    else:
        raise UnmappableAlert(
            f"essentials.monitorCondition {str(condition)[:32]!r} is not Fired or Resolved"
        )
    targets = _targets(essentials)
    rule = essentials.get("alertRule")
    title = _title(essentials, alert_id)
    events = []
    for target in targets:
        suffix = f":{target.lower()}" if len(targets) > 1 else ""
        events.append(
            AlertEvent(
                source=Source.AZURE.value,
                event_key=f"azure:{alert_id}:{condition.lower()}{suffix}",
                problem_key=f"azure:{alert_id}{suffix}",
                kind=kind,
                detected_at=detected_at,
                received_at=received_at,
                severity=severity(essentials.get("severity")),
                title=title,
                resource_ids=resource_ids(target, rule if isinstance(rule, str) else None),
                raw={"schemaId": COMMON_SCHEMA, "data": dict(data)},
                instance=instance,
            )
        )
    return events


def _resource_health(instance: str, data: Mapping[str, Any], received_at: datetime) -> AlertEvent:
    """A Resource Health change of one resource (module docstring)."""
    essentials: Mapping[str, Any] = data["essentials"]
    context = data.get("alertContext")
    context = context if isinstance(context, Mapping) else {}
    properties = context.get("properties")
    properties = properties if isinstance(properties, Mapping) else {}
    target = _targets(essentials)[0]
    current = str(properties.get("currentHealthStatus") or "").lower()
    cause = str(properties.get("cause") or "")
    if current == "available" and cause in ("PlatformInitiated", ""):
        kind = EventKind.RECOVERY
    elif current in _UNHEALTHY and cause == "PlatformInitiated":
        kind = EventKind.PROBLEM
    else:
        kind = EventKind.UPDATE  # user-initiated or unknown: recorded, no incident
    alert_id = _text(essentials, "alertId").lower()
    status = properties.get("currentHealthStatus") or "unknown"
    title = properties.get("title")
    rule = essentials.get("alertRule")
    return AlertEvent(
        source=Source.AZURE.value,
        event_key=f"azure:{alert_id}:resourcehealth:{current or 'unknown'}",
        problem_key=f"azure:resourcehealth:{target.lower()}",
        kind=kind,
        detected_at=instant(_text(essentials, "firedDateTime")),
        received_at=received_at,
        severity=Severity.HIGH if kind is EventKind.PROBLEM else Severity.INFO,
        title=str(title) if isinstance(title, str) and title else f"Resource Health: {status}",
        resource_ids=resource_ids(target, rule if isinstance(rule, str) else None),
        raw={"schemaId": COMMON_SCHEMA, "data": dict(data), "cause": cause},
        instance=instance,
    )


def resource_ids(resource_id: str, rule: str | None) -> dict[str, str]:
    """The identifier set of one ARM resource id (values as Azure wrote them)."""
    ids = {"azure.resource_id": resource_id}
    parts = resource_id.strip("/").split("/")
    lowered = [p.lower() for p in parts]
    if len(parts) >= 2 and lowered[0] == "subscriptions":
        ids["azure.subscription"] = parts[1]
    if len(parts) >= 4 and lowered[2] == "resourcegroups":
        ids["azure.resource_group"] = parts[3]
    if rule:
        ids["azure.rule"] = rule
    return ids


def severity(value: Any) -> Severity:
    """Azure's ``Sev0`` (critical) to ``Sev4`` (informational); unknown is high."""
    return _SEVERITY.get(str(value).strip().lower(), Severity.HIGH)


def instant(text: str) -> datetime:
    """Azure's ``2026-11-30T01:20:05.1234567Z`` (7 fraction digits) as an aware instant."""
    value = text.strip()
    head, dot, fraction = value.partition(".")
    if dot:  # Python 3.11 reads up to 6 fraction digits; Azure writes 7
        digits = len(fraction) - len(fraction.lstrip("0123456789"))
        value = f"{head}.{fraction[: min(digits, 6)]}{fraction[digits:]}"
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise UnmappableAlert(f"{text[:64]!r} is not an instant") from exc
    if parsed.tzinfo is None:
        raise UnmappableAlert(f"{text[:64]!r} has no UTC offset")
    return parsed.astimezone(UTC)


def _targets(essentials: Mapping[str, Any]) -> Sequence[str]:
    value = essentials.get("alertTargetIDs")
    targets = (
        [t for t in value if isinstance(t, str) and t.strip()] if isinstance(value, list) else []
    )
    if not targets:
        raise UnmappableAlert("field 'essentials.alertTargetIDs' must name the target resource")
    unique: dict[str, str] = {}
    for target in targets:
        unique.setdefault(target.strip().lower(), target.strip())
    return list(unique.values())


def _title(essentials: Mapping[str, Any], alert_id: str) -> str:
    for key in ("alertRule", "description"):
        value = essentials.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return f"Azure alert {alert_id.rsplit('/', 1)[-1]}"


def _text(payload: Mapping[str, Any], key: str) -> str:
    value = payload.get(key)
    if not isinstance(value, str) or not value.strip():
        raise UnmappableAlert(f"field 'essentials.{key}' is required, a string")
    return value.strip()
