"""CloudWatch alarm messages and EventBridge alarm events as `AlertEvent`s; AWS config."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.aws.alarms import UnmappableMessage, alarm_event
from connectors.aws.config import AwsInstance, parse_instance
from connectors.aws.source import AwsSource
from connectors.events import EventKind, Severity
from tests.connectors.aws_sns import TOPIC, fixture

RECEIVED = datetime(2026, 11, 30, 1, 16, tzinfo=UTC)
CHANGED = datetime(2026, 11, 30, 1, 15, 27, 123000, tzinfo=UTC)
ARN = "arn:aws:cloudwatch:ap-northeast-1:123456789012:alarm:web01-cpu-high"
INSTANCE = parse_instance("prod", {"topic_arns": [TOPIC]})


def message(**changes: Any) -> dict[str, Any]:
    return {**fixture("cloudwatch-alarm-message.json"), **changes}


def eventbridge(**state: Any) -> dict[str, Any]:
    event = fixture("eventbridge-alarm-state-change.json")
    event["detail"]["state"].update(state)
    return event


def test_alarm_message_is_a_problem_detected_at_its_state_change() -> None:
    event = alarm_event(INSTANCE, message(), RECEIVED)
    assert event.kind is EventKind.PROBLEM
    assert event.detected_at == CHANGED
    assert event.received_at == RECEIVED
    assert event.problem_key == f"aws:{ARN}"
    assert event.title == "web01-cpu-high"
    assert event.severity is Severity.HIGH
    assert event.resource_ids == {
        "aws.account": "123456789012",
        "aws.region": "ap-northeast-1",
        "aws.alarm": "web01-cpu-high",
        "aws.alarm_arn": ARN,
        "aws.dimension.InstanceId": "i-0abc1234def567890",
    }


def test_eventbridge_event_is_the_same_event_as_the_alarm_message() -> None:
    by_sns = alarm_event(INSTANCE, message(), RECEIVED)
    by_eventbridge = alarm_event(INSTANCE, eventbridge(), RECEIVED)
    assert by_eventbridge.event_key == by_sns.event_key
    assert by_eventbridge.problem_key == by_sns.problem_key
    assert by_eventbridge.detected_at == CHANGED  # not the event's `time`
    assert by_eventbridge.resource_ids == by_sns.resource_ids


def test_another_state_change_of_the_alarm_is_another_event_of_the_same_problem() -> None:
    first = alarm_event(INSTANCE, message(), RECEIVED)
    later = alarm_event(INSTANCE, message(StateChangeTime="2026-11-30T02:00:00.000+0000"), RECEIVED)
    assert later.event_key != first.event_key
    assert later.problem_key == first.problem_key


def test_ok_is_a_recovery() -> None:
    event = alarm_event(INSTANCE, eventbridge(value="OK"), RECEIVED)
    assert event.kind is EventKind.RECOVERY


@pytest.mark.parametrize(
    ("setting", "kind"),
    [(None, EventKind.UPDATE), ("problem", EventKind.PROBLEM), ("recovery", EventKind.RECOVERY)],
)
def test_insufficient_data_is_what_the_instance_says(setting: str | None, kind: EventKind) -> None:
    table: dict[str, Any] = {"topic_arns": [TOPIC]}
    if setting:
        table["insufficient_data"] = setting
    instance = parse_instance("prod", table)
    event = alarm_event(instance, message(NewStateValue="INSUFFICIENT_DATA"), RECEIVED)
    assert event.kind is kind


def test_metric_math_dimensions_come_from_every_metric() -> None:
    trigger = {
        "Period": 60,
        "EvaluationPeriods": 1,
        "Metrics": [
            {"Expression": "m1+m2", "Id": "e1", "ReturnData": True},
            {
                "Id": "m1",
                "MetricStat": {
                    "Metric": {
                        "Dimensions": [{"value": "i-1", "name": "InstanceId"}],
                        "MetricName": "NetworkOut",
                    }
                },
            },
            {
                "Id": "m2",
                "MetricStat": {
                    "Metric": {
                        "Dimensions": [
                            {"Value": "web-asg", "Name": "AutoScalingGroupName"},
                            {"Value": "i-2", "Name": "InstanceId"},
                        ],
                        "MetricName": "NetworkIn",
                    }
                },
            },
        ],
    }
    ids = alarm_event(INSTANCE, message(Trigger=trigger), RECEIVED).resource_ids
    assert ids["aws.dimension.InstanceId"] == "i-1"  # the first metric's value is kept
    assert ids["aws.dimension.AutoScalingGroupName"] == "web-asg"


def test_composite_alarm_needs_no_trigger() -> None:
    composite = message(
        AlarmArn=ARN.replace("web01-cpu-high", "web-down"),
        AlarmName="web-down",
        AlarmRule='ALARM("web01-cpu-high")',
    )
    del composite["Trigger"]
    event = alarm_event(INSTANCE, composite, RECEIVED)
    assert event.resource_ids["aws.alarm"] == "web-down"
    assert not any(k.startswith("aws.dimension.") for k in event.resource_ids)


def test_tags_become_identifiers_and_a_severity_tag_the_severity() -> None:
    event = eventbridge()
    event["detail"]["alarmTags"] = {"customer": "acme", "severity": "Critical"}
    mapped = alarm_event(INSTANCE, event, RECEIVED)
    assert mapped.resource_ids["aws.tag.customer"] == "acme"
    assert mapped.severity is Severity.CRITICAL
    listed = alarm_event(
        INSTANCE, message(AlarmTags=[{"Key": "customer", "Value": "acme"}]), RECEIVED
    )
    assert listed.resource_ids["aws.tag.customer"] == "acme"
    assert listed.severity is Severity.HIGH


def test_region_is_taken_from_the_arn_not_the_display_name() -> None:
    event = alarm_event(INSTANCE, message(Region="US East (N. Virginia)"), RECEIVED)
    assert event.resource_ids["aws.region"] == "ap-northeast-1"


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        (message(AlarmArn="arn:aws:sns:ap-northeast-1:123456789012:slad"), "alarm ARN"),
        (message(NewStateValue="BROKEN"), "alarm state"),
        (message(StateChangeTime="yesterday"), "not an instant"),
        (message(StateChangeTime="2026-11-30T01:15:27"), "no UTC offset"),
        ({k: v for k, v in message().items() if k != "StateChangeTime"}, "StateChangeTime"),
        ({"source": "aws.health", "detail-type": "AWS Health Event", "detail": {}}, "aws.health"),
        ({"hello": "world"}, "neither"),
    ],
)
def test_unmappable_messages(payload: dict[str, Any], match: str) -> None:
    with pytest.raises(UnmappableMessage, match=match):
        alarm_event(INSTANCE, payload, RECEIVED)


# --- config ---------------------------------------------------------------------------


def test_defaults() -> None:
    assert AwsInstance(name="prod", topic_arns=frozenset({TOPIC})) == INSTANCE
    assert INSTANCE.confirm_subscriptions is True
    assert INSTANCE.insufficient_data is EventKind.UPDATE


@pytest.mark.parametrize(
    ("table", "match"),
    [
        ({}, "topic_arns: required"),
        ({"topic_arns": "arn"}, "topic_arns: must be a list"),
        ({"topic_arns": ["arn:aws:sqs:ap-northeast-1:123456789012:q"]}, "not an SNS topic ARN"),
        ({"topic_arns": [TOPIC], "insufficient_data": "ignore"}, "insufficient_data: must be"),
        ({"topic_arns": [TOPIC], "severity": "urgent"}, "severity: must be"),
        ({"topic_arns": [TOPIC], "confirm_subscriptions": "yes"}, "confirm_subscriptions"),
        ({"topic_arns": [TOPIC], "trusted_url_prefixes": ["localhost"]}, "trusted_url_prefixes"),
        ({"topic_arns": [TOPIC], "regoins": ["ap-northeast-1"]}, "unknown key"),
        ({"topic_arns": [TOPIC], "endpoint_url": "localhost:5000"}, "endpoint_url: "),
        ({"topic_arns": [TOPIC], "public_url": "https://u:p@slad/"}, "public_url: "),
        ({"events_api_key": "k"}, "events_api_key: needs events_api_key_header"),
        ({"events_api_key_header": "X-Key"}, "events_api_key: required"),
        ({"events_api_key_header": "Authorization", "events_api_key": "k"}, "custom HTTP"),
        ({"events_basic_user": "a:b", "events_basic_password": "p"}, "must not contain"),
        (
            {
                "events_basic_user": "a",
                "events_basic_password": "p",
                "events_api_key_header": "X-Key",
                "events_api_key": "k",
            },
            "not both",
        ),
    ],
)
def test_bad_instance_tables_name_the_key(table: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        parse_instance("prod", table)


def test_an_eventbridge_only_instance_needs_no_topic(tmp_path: Any) -> None:
    key = tmp_path / "key"
    key.write_text("s3cret\n")
    instance = parse_instance(
        "eb", {"events_api_key_header": "X-Slad-Key", "events_api_key_file": str(key)}
    )
    assert instance.topic_arns == frozenset()
    assert instance.events is not None
    assert (instance.events.header, instance.events.value) == ("x-slad-key", "s3cret")
    assert "s3cret" not in repr(instance)


def test_section() -> None:
    settings = AwsSource().parse_config(
        {"lookback_seconds": 60, "instances": {"prod": {"topic_arns": [TOPIC]}}}
    )
    assert list(settings.instances) == ["prod"]
    assert AwsSource().parse_config(None).instances == {}
    with pytest.raises(ValueError, match="aws: unknown key"):
        AwsSource().parse_config({"topics": []})


def test_body_fixture_is_the_alarm_message() -> None:
    envelope = fixture("sns-notification-envelope.json")
    assert json.loads(envelope["Message"]) == fixture("cloudwatch-alarm-message.json")
