"""AWS Health events mapped to notices: kinds, statuses, instants and entity identifiers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.aws.alarms import UnmappableMessage
from connectors.aws.config import parse_instance
from connectors.aws.health import api_notice, eventbridge_notice
from connectors.notices import NoticeKind, NoticeStatus

INSTANCE = parse_instance(
    "prod",
    {
        "topic_arns": ["arn:aws:sns:ap-northeast-1:123456789012:slad"],
        "account_id": "123456789012",
        "regions": ["ap-northeast-1"],
    },
)


def event(**detail: Any) -> dict[str, Any]:
    return {
        "source": "aws.health",
        "detail-type": "AWS Health Event",
        "account": "123456789012",
        "region": "us-east-1",
        "detail": {
            "eventArn": "arn:aws:health:ap-northeast-1::event/RDS/X/1",
            "service": "RDS",
            "communicationId": "c-9",
            "eventRegion": "ap-northeast-1",
            "eventTypeCode": "AWS_RDS_MAINTENANCE_SCHEDULED",
            "eventTypeCategory": "scheduledChange",
            "statusCode": "upcoming",
            "startTime": "Wed, 16 Dec 2026 23:18:51 GMT",
            "eventDescription": [{"language": "ja_JP", "latestDescription": "再起動"}],
            "affectedEntities": [
                {"entityValue": "db-1"},
                {"entityValue": "vol-0abc"},
                {"entityValue": "arn:aws:ecs:ap-northeast-1:1:service/x"},
            ],
            **detail,
        },
    }


def test_a_scheduled_change_is_maintenance_open_ended_until_aws_names_an_end() -> None:
    notice = eventbridge_notice(INSTANCE, event())
    assert (notice.kind, notice.status) == (NoticeKind.MAINTENANCE, NoticeStatus.SCHEDULED)
    assert notice.starts_at == datetime(2026, 12, 16, 23, 18, 51, tzinfo=UTC)
    assert notice.ends_at is None
    assert (notice.event_id, notice.update_id) == (
        "arn:aws:health:ap-northeast-1::event/RDS/X/1",
        "c-9",
    )
    assert notice.regions == ["ap-northeast-1"]  # the impacted region, not the delivery's
    assert notice.description == {"ja": "再起動"}


def test_entities_carry_the_identifiers_alarms_of_them_carry() -> None:
    rds, volume, arn = eventbridge_notice(INSTANCE, event()).affected_resources
    assert rds["aws.dimension.DBInstanceIdentifier"] == "db-1"
    assert volume["aws.dimension.VolumeId"] == "vol-0abc"
    assert arn["aws.arn"] == "arn:aws:ecs:ap-northeast-1:1:service/x"
    assert all(ids["aws.account"] == "123456789012" for ids in (rds, volume, arn))


@pytest.mark.parametrize(
    ("status", "expected"), [("open", NoticeStatus.ACTIVE), ("closed", NoticeStatus.RESOLVED)]
)
def test_statuses(status: str, expected: NoticeStatus) -> None:
    assert eventbridge_notice(INSTANCE, event(statusCode=status)).status is expected


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"statusCode": "pending"}, "statusCode|status"),
        ({"startTime": ""}, "startTime"),
        ({"endTime": "Tue, 15 Dec 2026 00:00:00 GMT"}, "ends before"),
        ({"eventArn": None}, "eventArn"),
    ],
)
def test_unreadable_events_are_refused_naming_why(changes: dict[str, Any], match: str) -> None:
    with pytest.raises(UnmappableMessage, match=match):
        eventbridge_notice(INSTANCE, event(**changes))


def test_an_alarm_event_is_no_health_event() -> None:
    with pytest.raises(UnmappableMessage, match="AWS Health Event"):
        eventbridge_notice(INSTANCE, {"source": "aws.cloudwatch", "detail-type": "x"})


def test_the_api_shape_maps_the_same_and_names_the_update_by_its_time() -> None:
    start = datetime(2026, 12, 16, 23, 0, tzinfo=UTC)
    updated = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
    notice = api_notice(
        INSTANCE,
        {
            "arn": "arn:aws:health:x::event/EC2/Y/2",
            "service": "EC2",
            "eventTypeCode": "AWS_EC2_OPERATIONAL_ISSUE",
            "eventTypeCategory": "issue",
            "region": "ap-northeast-1",
            "startTime": start,
            "lastUpdatedTime": updated,
            "statusCode": "open",
        },
        "degraded",
        [{"entityValue": "i-0abc"}],
    )
    assert (notice.kind, notice.title) == (NoticeKind.INCIDENT, {"en": "EC2: operational issue"})
    assert notice.update_id == f"updated:{updated.isoformat()}"
    assert notice.affected_resources[0]["aws.dimension.InstanceId"] == "i-0abc"
    assert notice.raw["startTime"] == start.isoformat()
