"""AWS Health in the daemon: notices from EventBridge events delivered by SNS, and from the
Health API the poll reads (served locally in AWS JSON 1.1, reached by real boto3).

A scheduled change becomes a maintenance notice whose window covers the EC2 instance
the registry knows by its alarms' identifier; an issue becomes an incident notice; the
same update twice is one. Every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.connectors.aws_fake import FakeAws, HealthEvent
from tests.connectors.aws_sns import FakeSns, fake_sns
from tests.daemon.conftest import Api, ApiFactory
from tests.daemon.test_aws_poll import aws, poll, polled_api  # noqa: F401
from tests.daemon.test_aws_source import (
    INSTANCE_ID,
    KEY,
    aws_api,
    deliver,
    keyed_api,
    post_event,
    seed_registry,
    status,
)

START = datetime(2026, 12, 10, 1, 0, tzinfo=UTC)
END = START + timedelta(hours=2)
EVENT_ARN = (
    "arn:aws:health:ap-northeast-1::event/EC2/AWS_EC2_INSTANCE_REBOOT_MAINTENANCE_SCHEDULED/"
    "AWS_EC2_INSTANCE_REBOOT_MAINTENANCE_SCHEDULED_abc123"
)


@pytest.fixture
def sns() -> Iterator[FakeSns]:
    yield from fake_sns()


def rfc1123(at: datetime) -> str:
    return at.strftime("%a, %d %b %Y %H:%M:%S GMT")


def health_event(communication: str = "c-1", **detail: Any) -> dict[str, Any]:
    """An EventBridge ``AWS Health Event`` for an EC2 reboot maintenance of one instance."""
    base = {
        "eventArn": EVENT_ARN,
        "service": "EC2",
        "eventScopeCode": "ACCOUNT_SPECIFIC",
        "communicationId": communication,
        "lastUpdatedTime": rfc1123(START - timedelta(days=7)),
        "eventRegion": "ap-northeast-1",
        "eventTypeCode": "AWS_EC2_INSTANCE_REBOOT_MAINTENANCE_SCHEDULED",
        "eventTypeCategory": "scheduledChange",
        "startTime": rfc1123(START),
        "endTime": rfc1123(END),
        "statusCode": "upcoming",
        "eventDescription": [
            {"language": "en_US", "latestDescription": "Your instance will be rebooted."}
        ],
        "affectedEntities": [{"entityValue": INSTANCE_ID, "tags": {"stage": "prod"}}],
    }
    return {
        "version": "0",
        "id": "3c268027-0000-0000-0000-000000000000",
        "detail-type": "AWS Health Event",
        "source": "aws.health",
        "account": "123456789012",
        "time": "2026-12-03T01:00:00Z",
        "region": "ap-northeast-1",
        "resources": [INSTANCE_ID],
        "detail": {**base, **detail},
    }


def notices(api: Api) -> list[dict[str, Any]]:
    listed = api.ok(api.get("/v1/provider-notices", params={"source": "aws"}))["items"]
    return [api.ok(api.get(f"/v1/provider-notices/{n['id']}")) for n in listed]


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_a_scheduled_change_by_sns_is_a_maintenance_window_of_the_instance(
    api_factory: ApiFactory, sns: FakeSns
) -> None:
    api = aws_api(api_factory, sns)
    resource = seed_registry(api)
    api.ok(deliver(api, sns.notification(health_event())))
    assert status(api)["last_accepted"]["note"] == "0 event(s), 1 notice(s)"
    api.services.notices.apply_pending(api.clock())
    (notice,) = notices(api)
    assert (notice["kind"], notice["status"]) == ("maintenance", "scheduled")
    assert (instant(notice["starts_at"]), instant(notice["ends_at"])) == (START, END)
    assert notice["title"]["en"] == "EC2: instance reboot maintenance scheduled"
    assert notice["description"]["en"] == "Your instance will be rebooted."
    (window,) = notice["windows"]
    assert window["resource_id"] == resource
    assert (instant(window["start"]), instant(window["end"])) == (START, END)


def test_the_same_update_twice_is_one_and_a_moved_one_moves_the_window(
    api_factory: ApiFactory, sns: FakeSns
) -> None:
    api = aws_api(api_factory, sns)
    seed_registry(api)
    api.ok(deliver(api, sns.notification(health_event(), message_id="m1")))
    api.ok(deliver(api, sns.notification(health_event(), message_id="m2")))  # a copy
    api.services.notices.apply_pending(api.clock())
    (notice,) = notices(api)
    assert notice["revision"] == 1
    later = START + timedelta(days=1)
    moved = health_event(
        "c-2", startTime=rfc1123(later), endTime=rfc1123(later + timedelta(hours=1))
    )
    api.ok(deliver(api, sns.notification(moved, message_id="m3")))
    api.services.notices.apply_pending(api.clock())
    (notice,) = notices(api)
    assert notice["revision"] == 2
    (window,) = notice["windows"]
    assert instant(window["start"]) == later


def test_the_eventbridge_route_and_the_sns_copy_are_one_notice(
    api_factory: ApiFactory, sns: FakeSns
) -> None:
    api = keyed_api(api_factory, sns)
    seed_registry(api)
    answer = post_event(api, health_event(), {"X-Slad-Key": KEY})
    assert answer.status_code == 200, answer.text
    api.ok(deliver(api, sns.notification(health_event())))  # the same update by SNS
    api.services.notices.apply_pending(api.clock())
    (notice,) = notices(api)
    assert notice["revision"] == 1 and len(notice["windows"]) == 1


def test_an_issue_is_an_incident_notice_without_a_window(
    api_factory: ApiFactory, sns: FakeSns
) -> None:
    api = aws_api(api_factory, sns)
    seed_registry(api)
    issue = health_event(
        eventTypeCategory="issue",
        eventTypeCode="AWS_EC2_OPERATIONAL_ISSUE",
        statusCode="open",
        endTime=None,
    )
    del issue["detail"]["endTime"]
    api.ok(deliver(api, sns.notification(issue)))
    api.services.notices.apply_pending(api.clock())
    (notice,) = notices(api)
    assert (notice["kind"], notice["status"], notice["ends_at"]) == ("incident", "active", None)
    assert notice["windows"] == []  # until an operator confirms the impact


def test_a_health_message_that_cannot_be_read_is_422(api_factory: ApiFactory, sns: FakeSns) -> None:
    api = aws_api(api_factory, sns)
    broken = health_event(startTime="next week")
    answer = deliver(api, sns.notification(broken))
    assert answer.status_code == 422
    assert "startTime" in answer.json()["detail"]
    assert notices(api) == []


def test_the_poll_reads_the_health_api_into_notices(
    api_factory: ApiFactory,
    sns: FakeSns,
    aws: FakeAws,  # noqa: F811
) -> None:
    api = polled_api(api_factory, sns, aws)
    resource = seed_registry(api)
    start = api.clock() + timedelta(days=3)
    updated = api.clock() - timedelta(minutes=1)
    for n, (category, code) in enumerate(
        [
            ("scheduledChange", "AWS_EC2_INSTANCE_REBOOT_MAINTENANCE_SCHEDULED"),
            ("issue", "AWS_EC2_OPERATIONAL_ISSUE"),
            ("scheduledChange", "AWS_RDS_MAINTENANCE_SCHEDULED"),
        ]
    ):
        aws.state.health.append(
            HealthEvent(
                arn=f"{EVENT_ARN}-{n}",
                category=category,
                type_code=code,
                service="RDS" if "RDS" in code else "EC2",
                region="ap-northeast-1",
                status="upcoming" if category == "scheduledChange" else "open",
                start=start,
                end=start + timedelta(hours=1),
                last_updated=updated,
                description=f"event {n}",
                entities=[INSTANCE_ID] if n == 0 else ["db-1"],
            )
        )
    poll(api)
    assert status(api)["last_poll"]["ok"] is True and status(api)["findings"] == []
    api.services.notices.apply_pending(api.clock())
    by_arn = {n["event_id"]: n for n in notices(api)}
    assert len(by_arn) == 3
    maintenance = by_arn[f"{EVENT_ARN}-0"]
    assert (maintenance["kind"], maintenance["description"]["en"]) == ("maintenance", "event 0")
    (window,) = maintenance["windows"]
    assert window["resource_id"] == resource
    assert by_arn[f"{EVENT_ARN}-1"]["kind"] == "incident"
    assert by_arn[f"{EVENT_ARN}-2"]["windows"] == []  # db-1 is no resource of ours
    poll(api)  # read again: the same updates
    assert [n["revision"] for n in notices(api)] == [1, 1, 1]


def test_an_account_without_the_support_plan_is_shown_not_failed(
    api_factory: ApiFactory,
    sns: FakeSns,
    aws: FakeAws,  # noqa: F811
) -> None:
    api = polled_api(api_factory, sns, aws, failure_threshold=1)
    aws.state.fail(
        "DescribeEvents",
        "SubscriptionRequiredException",
        "The AWS Premium Support Subscription is required to use this service.",
    )
    poll(api)
    entry = status(api)
    assert entry["last_poll"]["ok"] is True and entry["open_fault"] is None
    (finding,) = entry["findings"]
    assert finding.startswith("Health API unavailable for this account")
    aws.state.fail("DescribeEvents", "ThrottlingException", "Rate exceeded")
    poll(api)
    entry = status(api)
    assert entry["last_poll"]["ok"] is False
    assert "health:DescribeEvents: ThrottlingException" in entry["last_poll"]["error"]


def test_health_api_off_asks_nothing(
    api_factory: ApiFactory,
    sns: FakeSns,
    aws: FakeAws,  # noqa: F811
) -> None:
    api = polled_api(api_factory, sns, aws, health_api=False)
    poll(api)
    assert status(api)["last_poll"]["ok"] is True
    assert "DescribeEvents" not in aws.state.calls
    assert status(api)["findings"] == []
