"""The AWS poll in a real `slad run`: moto's alarms, the history and AWS Health beside it.

moto (server mode) holds the topic and the alarm, and delivers what is published to the
topic to slad, signed; moto fires no alarm actions, so the alarm's message is published
by the test, as CloudWatch would. The alarm history and AWS Health, which moto lacks,
are served by the local AWS-JSON front in `tests.connectors.aws_fake`, which forwards
everything else to moto: slad's boto3 clients reach both through `endpoint_url`.

The scenario: an alarm pushed by SNS opens an incident at its state-change instant; a
Health maintenance of the same instance, read by the poller from the Health API, pauses
the contact clock and moves its due instant; the recovery, never pushed, is found by the
poller and resolves the incident at the instant CloudWatch recorded.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.connectors.aws_fake import FakeAws, HealthEvent, fake_aws
from tests.connectors.aws_sns import fixture
from tests.e2e.aws.test_aws_sns_delivery import INSTANCE_ID, REGION, TOPIC, seed_registry
from tests.e2e.slad_process import SladProcess, free_port, slad, wait_for

pytestmark = pytest.mark.e2e

NAME = "web01-cpu-high"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeAws]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with fake_aws() as endpoint:
        yield endpoint


def change_time(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}+0000"


def set_state(cloudwatch: Any, state: str) -> datetime:
    cloudwatch.set_alarm_state(AlarmName=NAME, StateValue=state, StateReason=f"test {state}")
    (alarm,) = cloudwatch.describe_alarms(AlarmNames=[NAME])["MetricAlarms"]
    return alarm["StateUpdatedTimestamp"].astimezone(UTC)  # type: ignore[no-any-return]


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_the_poller_finds_the_missed_recovery_and_a_maintenance_moves_the_due_instant(
    tmp_path: Path, aws: FakeAws
) -> None:
    port = free_port()
    config = tmp_path / "slad.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "slad.db"}"\n'
        '[log]\nformat = "text"\n'
        "[scheduler]\noutbox_interval_seconds = 1\n"
        "[aws.instances.prod]\n"
        f'topic_arns = ["{TOPIC}"]\n'
        f'endpoint_url = "{aws.url}"\n'
        f'public_url = "http://127.0.0.1:{port}"\n'
        f'certificate_base_url = "{aws.url}"\n'
        'account_id = "123456789012"\n'
        f'regions = ["{REGION}"]\n'
        "poll_interval_seconds = 2\n"
        "api_max_attempts = 2\n"
    )
    slad(config, "migrate")
    token = slad(config, "token", "create", "--role", "admin", "--name", "e2e").strip()
    process = SladProcess(config, port, tmp_path / "slad.log").start()
    try:
        slad(config, "source", "setup", "aws", "prod")
        seed_registry(process, token)
        cloudwatch = boto3.client("cloudwatch", region_name=REGION, endpoint_url=aws.moto)
        cloudwatch.put_metric_alarm(
            AlarmName=NAME,
            MetricName="CPUUtilization",
            Namespace="AWS/EC2",
            Statistic="Average",
            Period=300,
            EvaluationPeriods=1,
            Threshold=80.0,
            ComparisonOperator="GreaterThanThreshold",
            Dimensions=[{"Name": "InstanceId", "Value": INSTANCE_ID}],
            AlarmActions=[TOPIC],
            OKActions=[TOPIC],
        )
        fired = set_state(cloudwatch, "ALARM")
        aws.state.add_history(NAME, fired, "OK", "ALARM")
        alarm = {**fixture("cloudwatch-alarm-message.json"), "StateChangeTime": change_time(fired)}
        sns = boto3.client("sns", region_name=REGION, endpoint_url=aws.moto)
        sns.publish(TopicArn=TOPIC, Message=json.dumps(alarm))

        def incident() -> dict[str, Any] | None:
            items = process.request("GET", "/v1/incidents", token).json()["items"]
            if not items:
                return None
            found = process.request("GET", f"/v1/incidents/{items[0]['id']}", token)
            return dict(found.json())

        opened = wait_for(incident, 30, "the pushed alarm's incident")
        assert instant(opened["detected_at"]) == fired
        (contact,) = [c for c in opened["clocks"] if c["name"] == "contact"]
        due = instant(contact["sla_due"])

        start = datetime.now(UTC) + timedelta(minutes=10)
        aws.state.health.append(
            HealthEvent(
                arn="arn:aws:health:ap-northeast-1::event/EC2/AWS_EC2_MAINTENANCE/e2e",
                category="scheduledChange",
                type_code="AWS_EC2_INSTANCE_REBOOT_MAINTENANCE_SCHEDULED",
                service="EC2",
                region=REGION,
                status="upcoming",
                start=start,
                end=start + timedelta(minutes=30),
                last_updated=datetime.now(UTC),
                description="reboot",
                entities=[INSTANCE_ID],
            )
        )

        def moved() -> datetime | None:
            current = incident()
            assert current is not None
            (clock,) = [c for c in current["clocks"] if c["name"] == "contact"]
            at = instant(clock["sla_due"]) if clock["sla_due"] else None
            return at if at is not None and at != due else None

        assert wait_for(moved, 60, "the maintenance to move the contact due") == due + timedelta(
            minutes=30
        )

        recovered = set_state(cloudwatch, "OK")  # the OK action's message never comes
        aws.state.add_history(NAME, recovered, "ALARM", "OK")

        def resolved() -> dict[str, Any] | None:
            current = incident()
            return current if current and current["status"] == "resolved" else None

        done = wait_for(resolved, 60, "the poller to find the recovery")
        assert instant(done["resolved_at"]) == recovered
        sources = process.request("GET", "/v1/sources", token).json()
        (entry,) = [e for e in sources if (e["source"], e["instance"]) == ("aws", "prod")]
        assert entry["polled"] is True and entry["last_poll"]["ok"] is True
        assert entry["open_fault"] is None
    finally:
        process.stop()
