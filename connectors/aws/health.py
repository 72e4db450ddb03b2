"""AWS Health events as provider notices: scheduled changes as maintenance, issues as incidents.

AWS Health says the same thing two ways. EventBridge's ``aws.health`` event (``AWS Health
Event``), delivered through an SNS topic or an API destination, carries the event and its
affected entities in ``detail``, with its times as RFC 1123 strings; the Health API
(``describe_events``, ``describe_event_details``, ``describe_affected_entities``) gives
them as instants, and only to accounts with a Business or Enterprise support plan.

`eventbridge_notice` maps the first (the SNS route and the EventBridge ``/events`` route
both call it), `api_notice` the second. The notice is the Health event (``eventArn``);
each update is named by EventBridge's ``communicationId`` (the API has none, so there the
update is its ``lastUpdatedTime``), so a redelivered update is a no-op. A
``scheduledChange`` is a maintenance notice over ``[startTime, endTime]``, an ``issue``
an incident notice; other categories are informational. Affected entities become
identifier sets for the registry's selectors: every one carries ``aws.account``,
``aws.region`` and ``aws.entity`` (the entity's value), plus the identifier an alarm of
the same resource carries, so a selector written for alarms matches: an EC2 instance
id as ``aws.dimension.InstanceId``, an EBS volume as ``aws.dimension.VolumeId``, an RDS
instance as ``aws.dimension.DBInstanceIdentifier``, an ARN as ``aws.arn``; entity tags
as ``aws.tag.<key>``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from connectors.aws.alarms import UnmappableMessage
from connectors.aws.config import AwsInstance
from connectors.events import Source
from connectors.notices import NoticeKind, NoticeStatus, ProviderNotice

HEALTH_SOURCE = "aws.health"
HEALTH_DETAIL_TYPES = frozenset({"AWS Health Event"})
_KINDS = {"scheduledChange": NoticeKind.MAINTENANCE, "issue": NoticeKind.INCIDENT}
_STATUSES = {
    "upcoming": NoticeStatus.SCHEDULED,
    "open": NoticeStatus.ACTIVE,
    "closed": NoticeStatus.RESOLVED,
}


def is_health_event(payload: Mapping[str, Any]) -> bool:
    """Whether `payload` is an EventBridge event of AWS Health."""
    return payload.get("source") == HEALTH_SOURCE


def eventbridge_notice(instance: AwsInstance, event: Mapping[str, Any]) -> ProviderNotice:
    """One EventBridge ``aws.health`` event as a notice; `UnmappableMessage` if it is none.

    Called by both routes that receive EventBridge events (SNS and ``/events``).
    """
    if not is_health_event(event) or event.get("detail-type") not in HEALTH_DETAIL_TYPES:
        raise UnmappableMessage(
            f"EventBridge event {event.get('source')!r} / {event.get('detail-type')!r} is not "
            "an 'AWS Health Event' of aws.health"
        )
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        raise UnmappableMessage("field 'detail' is required, an object")
    arn = _text(detail, "eventArn")
    account = str(event.get("account") or instance.account_id)
    region = str(detail.get("eventRegion") or event.get("region") or "")
    entities = [
        (str(e["entityValue"]), e.get("tags"))
        for e in _mappings(detail.get("affectedEntities"))
        if e.get("entityValue")
    ]
    descriptions = {
        _language(d.get("language")): str(d["latestDescription"])
        for d in _mappings(detail.get("eventDescription"))
        if d.get("latestDescription")
    }
    update = detail.get("communicationId") or detail.get("lastUpdatedTime") or event.get("id")
    return _notice(
        instance,
        arn=arn,
        update_id=str(update or ""),
        category=_text(detail, "eventTypeCategory"),
        type_code=str(detail.get("eventTypeCode") or ""),
        service=str(detail.get("service") or ""),
        status=str(detail.get("statusCode") or ""),
        starts_at=_rfc1123(detail.get("startTime"), "detail.startTime"),
        ends_at=_rfc1123(detail["endTime"], "detail.endTime") if detail.get("endTime") else None,
        account=account,
        region=region,
        entities=entities,
        description=descriptions,
        raw=event,
    )


def api_notice(
    instance: AwsInstance,
    event: Mapping[str, Any],
    description: str,
    entities: Iterable[Mapping[str, Any]],
) -> ProviderNotice:
    """One Health API event (``describe_events``), with its description and entities."""
    start = event.get("startTime")
    if not isinstance(start, datetime):
        raise UnmappableMessage(f"Health event {event.get('arn')!r} has no startTime")
    end = event.get("endTime")
    updated = event.get("lastUpdatedTime")
    raw = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in event.items()}
    return _notice(
        instance,
        arn=_text(event, "arn"),
        update_id=f"updated:{_utc(updated).isoformat()}" if isinstance(updated, datetime) else "",
        category=_text(event, "eventTypeCategory"),
        type_code=str(event.get("eventTypeCode") or ""),
        service=str(event.get("service") or ""),
        status=str(event.get("statusCode") or ""),
        starts_at=_utc(start),
        ends_at=_utc(end) if isinstance(end, datetime) else None,
        account=instance.account_id,
        region=str(event.get("region") or ""),
        entities=[(str(e["entityValue"]), e.get("tags")) for e in entities if e.get("entityValue")],
        description={"en": description} if description else {},
        raw=raw,
    )


def _notice(
    instance: AwsInstance,
    *,
    arn: str,
    update_id: str,
    category: str,
    type_code: str,
    service: str,
    status: str,
    starts_at: datetime,
    ends_at: datetime | None,
    account: str,
    region: str,
    entities: Sequence[tuple[str, Any]],
    description: Mapping[str, str],
    raw: Mapping[str, Any],
) -> ProviderNotice:
    if status not in _STATUSES:
        raise UnmappableMessage(f"Health status {status!r} is not upcoming, open or closed")
    if ends_at is not None and ends_at < starts_at:
        raise UnmappableMessage(f"Health event {arn} ends before it starts")
    try:
        return ProviderNotice(
            source=Source.AWS.value,
            event_id=arn,
            update_id=update_id,
            kind=_KINDS.get(category, NoticeKind.INFORMATIONAL),
            status=_STATUSES[status],
            title={"en": _title(service, type_code)},
            starts_at=starts_at,
            ends_at=ends_at,
            description=description,
            services=[service] if service else [],
            regions=[region] if region else [],
            affected_resources=[
                _identifiers(account, region, service, value, tags) for value, tags in entities
            ],
            instance=instance.name,
            raw=dict(raw),
        )
    except ValueError as exc:
        raise UnmappableMessage(f"Health event {arn}: {exc}") from exc


def _identifiers(account: str, region: str, service: str, value: str, tags: Any) -> dict[str, str]:
    """The identifiers of one affected entity, in the form alarms of it carry."""
    ids = {"aws.account": account, "aws.region": region, "aws.entity": value}
    if value.startswith("arn:"):
        ids["aws.arn"] = value
    elif value.startswith("i-"):
        ids["aws.dimension.InstanceId"] = value
    elif value.startswith("vol-"):
        ids["aws.dimension.VolumeId"] = value
    elif service == "RDS":
        ids["aws.dimension.DBInstanceIdentifier"] = value
    if isinstance(tags, Mapping):
        for key, tag in tags.items():
            ids.setdefault(f"aws.tag.{key}", str(tag))
    return {k: v for k, v in ids.items() if v}


def _title(service: str, type_code: str) -> str:
    """``AWS_EC2_INSTANCE_REBOOT_MAINTENANCE_SCHEDULED`` → ``EC2: instance reboot maintenance
    scheduled``."""
    words = type_code.removeprefix("AWS_").removeprefix(f"{service.upper()}_")
    text = words.replace("_", " ").lower() or "health event"
    return f"{service}: {text}" if service else text


def _language(code: Any) -> str:
    """``en_US`` → ``en``, ``ja_JP`` → ``ja``."""
    return str(code or "en").split("_")[0].split("-")[0].lower() or "en"


def _rfc1123(value: Any, label: str) -> datetime:
    """EventBridge's ``Wed, 16 Aug 2023 23:18:51 GMT`` as an aware UTC instant."""
    if not isinstance(value, str) or not value:
        raise UnmappableMessage(f"field {label!r} is required, an RFC 1123 date")
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError) as exc:
        raise UnmappableMessage(f"field {label!r}: {value!r} is not an RFC 1123 date") from exc
    return _utc(parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC))


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _text(payload: Mapping[str, Any], key: str) -> str:
    value = payload.get(key)
    if not isinstance(value, str) or not value:
        raise UnmappableMessage(f"field {key!r} is required, a string")
    return value


def _mappings(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []
