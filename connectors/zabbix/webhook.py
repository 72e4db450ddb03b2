"""Authenticate and parse what the slad media type (deploy/zabbix) posts.

The media type's script sends one flat JSON object per notification and signs the exact
body bytes with HMAC-SHA256 over the instance's shared secret. Zabbix sends a macro that
does not apply to the message literally (``"{EVENT.RECOVERY.ID}"`` in a problem), so
every field is read through `_field`, which treats such values as absent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from connectors.events import AlertEvent, EventKind, Severity, Source
from connectors.json_body import NotJsonObject, json_object
from connectors.zabbix import mapping
from connectors.zabbix.config import ZabbixInstance

SIGNATURE_HEADER = "X-Slad-Signature"
INSTANCE_HEADER = "X-Slad-Instance"
TEST_FIELD = "slad_test"
"""A signed body with this field is a test (``slad source check``): answered, never stored."""

DetectionLookup = Callable[[str], datetime | None]
"""Event id -> Zabbix's own clock of that event, or None when it cannot be had."""

_UNEXPANDED = re.compile(r"^\{[A-Z0-9_.$]+\}$|^\*UNKNOWN\*$")
_EVENT_ID = re.compile(r"^[0-9]{1,20}$")
_SIGNATURE = re.compile(r"^sha256=([0-9a-fA-F]{64})$")


class MalformedWebhook(ValueError):
    """The body is not a notification from the slad media type; the HTTP layer answers 422."""


def sign(secret: str, body: bytes) -> str:
    """The `SIGNATURE_HEADER` value the media type sends for `body`."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str | None) -> bool:
    """True when `header` is ``sha256=<hex>`` of HMAC-SHA256(secret, body).

    Compared in constant time so the answer leaks nothing about the expected digest.
    """
    if not header:
        return False
    match = _SIGNATURE.match(header.strip())
    if match is None:
        return False
    expected = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, match.group(1).lower())


def decode_body(body: bytes) -> dict[str, Any]:
    """Decode the raw request body into the mapping `parse_webhook` expects."""
    try:
        return json_object(body)
    except NotJsonObject as exc:
        raise MalformedWebhook(str(exc)) from exc


def parse_webhook(
    instance: ZabbixInstance,
    body: Mapping[str, Any],
    received_at: datetime,
    detection_lookup: DetectionLookup,
) -> AlertEvent:
    """Turn one notification into an `AlertEvent`.

    The instant comes from `detection_lookup` (the API's clock of the event, exact to the
    nanosecond). Only when it answers None does the parser read the local date and time
    Zabbix formatted, in the instance's time zone, and flag the event as estimated.
    Updates carry no event id of their own, so their instant is always the local one.
    """
    if received_at.tzinfo is None:
        raise ValueError("received_at must be timezone-aware")
    sent_for = _field(body, "instance")
    if sent_for is not None and sent_for != instance.name:
        raise MalformedWebhook(f"body is for instance {sent_for!r}, not {instance.name!r}")
    problem_id = _event_id(body, "event_id")
    kind = _kind(body)
    if kind is EventKind.UPDATE:
        own_id = problem_id
        discriminator = _update_discriminator(body)
        detected_at, estimated = _local_instant(body, "update", instance), True
    else:
        own_id = problem_id if kind is EventKind.PROBLEM else _event_id(body, "recovery_id")
        discriminator = ""
        prefix = "event" if kind is EventKind.PROBLEM else "recovery"
        exact = detection_lookup(own_id)
        if exact is not None:
            detected_at, estimated = exact, False
        else:
            detected_at, estimated = _local_instant(body, prefix, instance), True
    return AlertEvent(
        source=Source.ZABBIX.value,
        event_key=mapping.event_key(instance.name, own_id, discriminator),
        problem_key=mapping.problem_key(instance.name, problem_id),
        kind=kind,
        detected_at=detected_at,
        received_at=received_at,
        severity=_severity(body),
        title=_field(body, "event_name") or f"Zabbix event {problem_id}",
        resource_ids=mapping.resource_ids(
            instance.name,
            _field(body, "host"),
            _tags(body),
            _host_groups(body),
            {
                "zabbix.hostid": _field(body, "host_id") or "",
                "zabbix.trigger": _field(body, "trigger_id") or "",
            },
        ),
        raw=dict(body),
        instance=instance.name,
        detected_at_estimated=estimated,
    )


def _field(body: Mapping[str, Any], name: str) -> str | None:
    """A string field, or None when missing, empty or an unexpanded macro."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str | int):
        raise MalformedWebhook(f"field {name!r} must be a string")
    text = str(value).strip()
    return None if not text or _UNEXPANDED.match(text) else text


def _event_id(body: Mapping[str, Any], name: str) -> str:
    value = _field(body, name)
    if value is None or not _EVENT_ID.match(value):
        raise MalformedWebhook(f"field {name!r} must be a Zabbix event id, got {value!r}")
    return value


def _severity(body: Mapping[str, Any]) -> Severity:
    value = _field(body, "severity")
    try:
        return mapping.severity(int(value or ""))
    except ValueError as exc:
        raise MalformedWebhook(f"field 'severity' must be 0..5, got {value!r}") from exc


def _kind(body: Mapping[str, Any]) -> EventKind:
    if _field(body, "update_status") == "1":
        return EventKind.UPDATE
    value = _field(body, "event_value")
    if value == "1":
        return EventKind.PROBLEM
    if value == "0":
        return EventKind.RECOVERY
    raise MalformedWebhook(f"field 'event_value' must be 0 or 1, got {value!r}")


def _update_discriminator(body: Mapping[str, Any]) -> str:
    """Stable per update, so a retried delivery maps to the same key and two updates don't.

    Zabbix gives no id for an acknowledgement in its macros; who did what, when, with
    which message identifies it well enough (the local time is to the second).
    """
    parts = [
        _field(body, name) or ""
        for name in ("update_date", "update_time", "update_user", "update_action")
    ]
    parts.append(str(body.get("update_message") or ""))
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return f"update-{digest[:16]}"


def _local_instant(body: Mapping[str, Any], prefix: str, instance: ZabbixInstance) -> datetime:
    """Zabbix's ``yyyy.mm.dd`` and ``hh:mm:ss`` in the server's zone, as an aware instant."""
    date, time = _field(body, f"{prefix}_date"), _field(body, f"{prefix}_time")
    if date is None or time is None:
        raise MalformedWebhook(f"fields {prefix}_date and {prefix}_time are required")
    try:
        naive = datetime.strptime(f"{date} {time}", "%Y.%m.%d %H:%M:%S")  # noqa: DTZ007
    except ValueError as exc:
        raise MalformedWebhook(f"{prefix} date/time {date!r} {time!r}: {exc}") from exc
    local = naive.replace(tzinfo=instance.timezone)
    try:
        local.astimezone(UTC)
    except OverflowError as exc:
        raise MalformedWebhook(
            f"{prefix}_date {date!r} {time!r} in {instance.timezone} is no instant in UTC"
        ) from exc
    return local


def _tags(body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """`{EVENT.TAGSJSON}`: a list, or the same JSON still as a string."""
    tags = body.get("tags")
    if tags is None or (isinstance(tags, str) and _field(body, "tags") is None):
        return []
    if isinstance(tags, str):
        try:
            tags = json.loads(tags)
        except json.JSONDecodeError as exc:
            raise MalformedWebhook(f"field 'tags' is not JSON: {exc}") from exc
    if not isinstance(tags, list) or not all(isinstance(tag, Mapping) for tag in tags):
        raise MalformedWebhook("field 'tags' must be a list of {tag, value} objects")
    return tags


def _host_groups(body: Mapping[str, Any]) -> list[str]:
    """`{TRIGGER.HOSTGROUP.NAME}`: Zabbix joins the sorted names with ', '."""
    groups = _field(body, "host_groups")
    return [group for group in groups.split(", ") if group] if groups else []
