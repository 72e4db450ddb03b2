"""CloudWatch alarm state changes, as SNS and EventBridge carry them, as `AlertEvent`s.

Two shapes say the same thing: the alarm action's message (``AlarmArn``,
``NewStateValue``, ``StateChangeTime``, dimensions under ``Trigger``) and EventBridge's
``CloudWatch Alarm State Change`` event (``resources[0]``, ``detail.state``). The
detection instant is the state change's own time (``StateChangeTime`` /
``detail.state.timestamp``), never the SNS ``Timestamp`` nor the event's ``time``, which
say when the message was sent. The event key is the alarm ARN, the new state and that
instant, so an SNS retry and the same change arriving by both paths are one event; the
problem key is the alarm ARN, shared by an alarm's problem and its recovery.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from connectors.aws.config import AwsInstance
from connectors.events import AlertEvent, EventKind, Severity, Source

ALARM_STATE_CHANGE = "CloudWatch Alarm State Change"
SEVERITY_TAG = "severity"


class UnmappableMessage(ValueError):
    """A verified message that is not a CloudWatch alarm state change (answered 422)."""


def alarm_event(
    instance: AwsInstance, payload: Mapping[str, Any], received_at: datetime
) -> AlertEvent:
    """The event one alarm message or EventBridge alarm event stands for."""
    if "detail-type" in payload:
        return _from_eventbridge(instance, payload, received_at)
    if "AlarmArn" in payload:
        return _from_alarm_message(instance, payload, received_at)
    raise UnmappableMessage(
        "the message is neither a CloudWatch alarm notification nor an EventBridge event"
    )


def state_change_event(
    instance: AwsInstance,
    *,
    arn: str,
    state: str,
    changed_at: datetime,
    name: str,
    dimensions: Iterable[Any],
    raw: Mapping[str, Any],
    received_at: datetime,
) -> AlertEvent:
    """The event of one state change read from CloudWatch's API by the poll.

    Its keys are those a push of the same change carries (alarm ARN, state, instant), so
    a change both pushed and polled is one event. `dimensions` are the API's
    ``Name``/``Value`` lists.
    """
    return _event(
        instance,
        arn=arn,
        state=state,
        changed=changed_at.isoformat(),
        name=name,
        dimensions=dimensions,
        tags=None,
        raw=raw,
        received_at=received_at,
    )


def event_kind(instance: AwsInstance, state: str) -> EventKind:
    """What entering `state` means for the instance (``UnmappableMessage`` if unknown)."""
    return _kind(instance, state)


def _from_alarm_message(
    instance: AwsInstance, message: Mapping[str, Any], received_at: datetime
) -> AlertEvent:
    """An alarm action's message: metric (``Trigger.Dimensions``), metric math
    (``Trigger.Metrics[].MetricStat.Metric.Dimensions``) or composite (no trigger)."""
    trigger = message.get("Trigger")
    trigger = trigger if isinstance(trigger, Mapping) else {}
    dimensions = [trigger.get("Dimensions")]
    for metric in _mappings(trigger.get("Metrics")):
        stat = metric.get("MetricStat")
        if isinstance(stat, Mapping) and isinstance(stat.get("Metric"), Mapping):
            dimensions.append(stat["Metric"].get("Dimensions"))
    return _event(
        instance,
        arn=_text(message, "AlarmArn"),
        state=_text(message, "NewStateValue"),
        changed=_text(message, "StateChangeTime"),
        name=message.get("AlarmName"),
        dimensions=dimensions,
        tags=message.get("AlarmTags"),
        raw=message,
        received_at=received_at,
    )


def _from_eventbridge(
    instance: AwsInstance, event: Mapping[str, Any], received_at: datetime
) -> AlertEvent:
    """EventBridge's ``CloudWatch Alarm State Change`` (dimensions as a name → value map)."""
    if event.get("source") != "aws.cloudwatch" or event.get("detail-type") != ALARM_STATE_CHANGE:
        raise UnmappableMessage(
            f"EventBridge event {event.get('source')!r} / {event.get('detail-type')!r} is not "
            f"a {ALARM_STATE_CHANGE!r} of aws.cloudwatch"
        )
    detail = event.get("detail")
    resources = event.get("resources")
    if not isinstance(detail, Mapping) or not isinstance(detail.get("state"), Mapping):
        raise UnmappableMessage("field 'detail.state' is required")
    if not isinstance(resources, list) or not resources or not isinstance(resources[0], str):
        raise UnmappableMessage("field 'resources' must name the alarm's ARN")
    configuration = detail.get("configuration")
    configuration = configuration if isinstance(configuration, Mapping) else {}
    dimensions = []
    for metric in _mappings(configuration.get("metrics")):
        stat = metric.get("metricStat")
        if isinstance(stat, Mapping) and isinstance(stat.get("metric"), Mapping):
            dimensions.append(stat["metric"].get("dimensions"))
    return _event(
        instance,
        arn=resources[0],
        state=_text(detail["state"], "value", "detail.state.value"),
        changed=_text(detail["state"], "timestamp", "detail.state.timestamp"),
        name=detail.get("alarmName"),
        dimensions=dimensions,
        tags=detail.get("alarmTags"),
        raw=event,
        received_at=received_at,
    )


def _event(
    instance: AwsInstance,
    *,
    arn: str,
    state: str,
    changed: str,
    name: Any,
    dimensions: Iterable[Any],
    tags: Any,
    raw: Mapping[str, Any],
    received_at: datetime,
) -> AlertEvent:
    account, region, alarm = _alarm_arn(arn)
    detected_at = _instant(changed)
    kind = _kind(instance, state)
    ids = {"aws.account": account, "aws.region": region, "aws.alarm": alarm, "aws.alarm_arn": arn}
    for dimension_set in dimensions:
        for key, value in _pairs(dimension_set, ("name", "Name"), ("value", "Value")):
            ids.setdefault(f"aws.dimension.{key}", value)
    tag_pairs = dict(_pairs(tags, ("Key", "key"), ("Value", "value")))
    for key, value in tag_pairs.items():
        ids.setdefault(f"aws.tag.{key}", value)
    instant = detected_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return AlertEvent(
        source=Source.AWS.value,
        event_key=f"aws:{arn}:{state}:{instant}",
        problem_key=f"aws:{arn}",
        kind=kind,
        detected_at=detected_at,
        received_at=received_at,
        severity=_severity(instance, tag_pairs.get(SEVERITY_TAG)),
        title=str(name) if isinstance(name, str) and name else alarm,
        resource_ids=ids,
        raw=dict(raw),
        instance=instance.name,
    )


def _alarm_arn(arn: str) -> tuple[str, str, str]:
    """(account, region, name) of ``arn:<partition>:cloudwatch:<region>:<acct>:alarm:<name>``."""
    parts = arn.split(":", 6)
    if (
        len(parts) != 7
        or parts[0] != "arn"
        or parts[2] != "cloudwatch"
        or parts[5] != "alarm"
        or not all(parts[3:5])
        or not parts[6]
    ):
        raise UnmappableMessage(f"{arn!r} is not a CloudWatch alarm ARN")
    return parts[4], parts[3], parts[6]


def _instant(text: str) -> datetime:
    """CloudWatch's ``2026-11-30T01:15:27.123+0000`` as an aware UTC instant."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise UnmappableMessage(f"state change time {text!r} is not an instant") from exc
    if value.tzinfo is None:
        raise UnmappableMessage(f"state change time {text!r} has no UTC offset")
    return value.astimezone(UTC)


def _kind(instance: AwsInstance, state: str) -> EventKind:
    if state == "ALARM":
        return EventKind.PROBLEM
    if state == "OK":
        return EventKind.RECOVERY
    if state == "INSUFFICIENT_DATA":
        return instance.insufficient_data
    raise UnmappableMessage(f"alarm state {state!r} is not ALARM, OK or INSUFFICIENT_DATA")


def _severity(instance: AwsInstance, tagged: str | None) -> Severity:
    """The alarm's ``severity`` tag when it names a slad severity, else the instance's."""
    try:
        return Severity(tagged.lower()) if tagged else instance.severity
    except ValueError:
        return instance.severity


def _text(payload: Mapping[str, Any], key: str, label: str = "") -> str:
    value = payload.get(key)
    if not isinstance(value, str) or not value:
        raise UnmappableMessage(f"field {label or key!r} is required, a string")
    return value


def _mappings(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _pairs(
    value: Any, key_names: tuple[str, str], value_names: tuple[str, str]
) -> list[tuple[str, str]]:
    """Name/value pairs from a map, or from a list of objects in either case spelling
    (SNS writes ``name``/``value``, the API ``Name``/``Value``, tags ``Key``/``Value``)."""
    if isinstance(value, Mapping):
        return [(str(k), str(v)) for k, v in value.items() if k and v is not None]
    pairs = []
    for item in _mappings(value):
        key = next((item[n] for n in key_names if item.get(n)), None)
        val = next((item[n] for n in value_names if item.get(n) is not None), None)
        if key is not None and val is not None:
            pairs.append((str(key), str(val)))
    return pairs
