"""Cloud Monitoring incidents, as its notifications (schema 1.2) and its alerts API give them.

A notification is ``{"version": "1.2", "incident": {...}}``, sent alike by the webhook
channel and as the ``data`` of a Pub/Sub channel's messages. The detection instant is
the incident's own ``started_at`` (epoch seconds); a closed incident is a recovery at
``ended_at``. ``state`` is compared case-insensitively (the console's test notification
says ``"OPEN"``). The event key is the incident id and its state, so a redelivery, or the
same change arriving by webhook, Pub/Sub and the poller, is one event; the problem key is
the incident id, shared by the opening and the closing.

The alerts API (``projects.alerts``; Google calls incidents alerts) names one
``projects/<p>/alerts/<id>``; ``<id>`` is read as the notification's ``incident_id``, and
its ``openTime`` and ``closeTime`` as the same instants in RFC 3339, so a polled alert and
a pushed notification are one event.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from connectors.events import AlertEvent, EventKind, Severity, Source
from connectors.gcp.config import GcpInstance
from connectors.json_body import NotJsonObject, json_object

SCHEMA_VERSION = "1.2"
TEST_VERSION = "test"
_SEVERITIES = {
    "critical": Severity.CRITICAL,
    "error": Severity.HIGH,
    "warning": Severity.WARNING,
}


class UnmappableIncident(ValueError):
    """A verified body that is not a Cloud Monitoring incident (answered 422)."""


@dataclass(frozen=True, slots=True)
class ConsoleTest:
    """The console's "send test notification": acknowledged, never stored."""

    project: str


def decode(body: bytes) -> Mapping[str, Any]:
    """The JSON object a notification's body (or a Pub/Sub message's data) holds."""
    try:
        return json_object(body)
    except NotJsonObject as exc:
        raise UnmappableIncident(str(exc)) from exc


def notification_event(
    instance: GcpInstance, payload: Mapping[str, Any], received_at: datetime
) -> AlertEvent | ConsoleTest:
    """The event one notification stands for, or the test notification it is."""
    incident = payload.get("incident")
    if not isinstance(incident, Mapping):
        raise UnmappableIncident("field 'incident' is required, an object")
    version = payload.get("version")
    if version == TEST_VERSION:
        return ConsoleTest(str(incident.get("scoping_project_id") or ""))
    if version != SCHEMA_VERSION:
        raise UnmappableIncident(
            f"field 'version' is {version!r}; slad reads schema {SCHEMA_VERSION!r}"
        )
    incident_id = _text(incident, "incident_id", "incident.incident_id")
    state = _text(incident, "state", "incident.state").lower()
    if state == "open":
        detected_at = _epoch(incident.get("started_at"), "incident.started_at")
    elif state == "closed":
        detected_at = _epoch(incident.get("ended_at"), "incident.ended_at")
    else:
        raise UnmappableIncident(f"field 'incident.state' is {state!r}, not open or closed")
    resource = incident.get("resource")
    resource = resource if isinstance(resource, Mapping) else {}
    project = _project(resource, incident.get("scoping_project_id"))
    policy = incident.get("policy_name")
    return _event(
        instance,
        incident_id=incident_id,
        state=state,
        detected_at=detected_at,
        project=project,
        resource=resource,
        policy=str(policy) if isinstance(policy, str) else "",
        policy_labels=incident.get("policy_user_labels"),
        severity=incident.get("severity"),
        title=_title(incident, policy),
        raw=payload,
        received_at=received_at,
    )


def alert_events(
    instance: GcpInstance, alert: Mapping[str, Any], received_at: datetime
) -> list[AlertEvent]:
    """The events one alert of ``projects.alerts.list`` stands for: its opening, and its
    closing once it has one (the poller may meet an incident only after it closed)."""
    name = _text(alert, "name", "alert.name")
    parts = name.split("/")
    if len(parts) != 4 or parts[0] != "projects" or parts[2] != "alerts" or not parts[3]:
        raise UnmappableIncident(f"alert name {name!r} is not projects/<p>/alerts/<id>")
    resource = alert.get("resource")
    resource = resource if isinstance(resource, Mapping) else {}
    policy = alert.get("policy")
    policy = policy if isinstance(policy, Mapping) else {}
    common: dict[str, Any] = {
        "incident_id": parts[3],
        "project": _project(resource, parts[1]),
        "resource": resource,
        "policy": str(policy.get("displayName") or ""),
        "policy_labels": policy.get("userLabels"),
        "severity": policy.get("severity"),
        "title": str(policy.get("displayName") or parts[3]),
        "raw": alert,
        "received_at": received_at,
    }
    events = [
        _event(
            instance,
            state="open",
            detected_at=_rfc3339(alert.get("openTime"), "openTime"),
            **common,
        )
    ]
    state = str(alert.get("state") or "").lower()
    if state == "closed":
        closed = _rfc3339(alert.get("closeTime"), "closeTime")
        events.append(_event(instance, state="closed", detected_at=closed, **common))
    return events


def _event(
    instance: GcpInstance,
    *,
    incident_id: str,
    state: str,
    detected_at: datetime,
    project: str,
    resource: Mapping[str, Any],
    policy: str,
    policy_labels: Any,
    severity: Any,
    title: str,
    raw: Mapping[str, Any],
    received_at: datetime,
) -> AlertEvent:
    ids = {"gcp.project": project}
    if isinstance(resource.get("type"), str) and resource["type"]:
        ids["gcp.resource_type"] = resource["type"]
    ids.update(_labels("gcp.label.", resource.get("labels")))
    if policy:
        ids["gcp.policy"] = policy
    ids.update(_labels("gcp.policy_label.", policy_labels))
    return AlertEvent(
        source=Source.GCP.value,
        event_key=f"gcp:{incident_id}:{state}",
        problem_key=f"gcp:{incident_id}",
        kind=EventKind.PROBLEM if state == "open" else EventKind.RECOVERY,
        detected_at=detected_at,
        received_at=received_at,
        severity=_SEVERITIES.get(str(severity or "").lower(), instance.severity),
        title=title,
        resource_ids=ids,
        raw=dict(raw),
        instance=instance.name,
    )


def _project(resource: Mapping[str, Any], scoping: Any) -> str:
    """The project the resource lives in (its ``project_id`` label), else the scoping one."""
    labels = resource.get("labels")
    if isinstance(labels, Mapping) and isinstance(labels.get("project_id"), str):
        return str(labels["project_id"])
    if isinstance(scoping, str) and scoping:
        return scoping
    raise UnmappableIncident("no project: neither resource.labels.project_id nor a scoping one")


def _labels(prefix: str, labels: Any) -> dict[str, str]:
    if not isinstance(labels, Mapping):
        return {}
    return {f"{prefix}{k}": str(v) for k, v in labels.items() if k and v is not None}


def _title(incident: Mapping[str, Any], policy: Any) -> str:
    for value in (policy, incident.get("condition_name"), incident.get("summary")):
        if isinstance(value, str) and value:
            return value[:500]
    return str(incident.get("incident_id"))


def _text(payload: Mapping[str, Any], key: str, label: str) -> str:
    value = payload.get(key)
    if not isinstance(value, str) or not value:
        raise UnmappableIncident(f"field {label!r} is required, a string")
    return value


def _epoch(value: Any, label: str) -> datetime:
    """Epoch seconds as an aware UTC instant; 0 (the test notification's) is no instant."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise UnmappableIncident(f"field {label!r} is required, epoch seconds")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise UnmappableIncident(f"field {label!r} is out of range") from exc


def _rfc3339(value: Any, label: str) -> datetime:
    if not isinstance(value, str) or not value:
        raise UnmappableIncident(f"field {label!r} is required, an RFC 3339 instant")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise UnmappableIncident(f"field {label!r} is not an RFC 3339 instant") from exc
    if parsed.tzinfo is None:
        raise UnmappableIncident(f"field {label!r} has no UTC offset")
    return parsed.astimezone(UTC)
