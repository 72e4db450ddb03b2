"""The AWS poll in the daemon: CloudWatch reconciled with what SNS pushed.

Alarms live in moto; the alarm history moto lacks is served by a local AWS-JSON server
in front of it (`tests.connectors.aws_fake`), reached by slad's real boto3 clients
through the instance's `endpoint_url`. moto stamps alarm state changes with the wall
clock, so these tests run the daemon's clock at the real time. Every test runs on SQLite
and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from sqlalchemy import select

from daemon.sources.runner import InstanceRunner
from daemon.store.models import Alert
from tests.connectors.aws_fake import FakeAws, fake_aws
from tests.connectors.aws_sns import TOPIC, FakeSns, fake_sns
from tests.daemon.conftest import Api, ApiFactory
from tests.daemon.test_aws_source import (
    ALARM,
    INSTANCE_ID,
    deliver,
    incidents,
    same_instant,
    seed_registry,
    status,
)

REGION = "ap-northeast-1"
ACCOUNT = "123456789012"
NAME = str(ALARM["AlarmName"])
ARN = str(ALARM["AlarmArn"])


@pytest.fixture
def sns() -> Iterator[FakeSns]:
    yield from fake_sns()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[FakeAws]:
    """moto plus the history server; credentials from the environment, as the chain reads."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with fake_aws() as endpoint:
        yield endpoint


def polled_api(api_factory: ApiFactory, sns: FakeSns, aws: FakeAws, **instance: Any) -> Api:
    table = {
        "topic_arns": [TOPIC],
        "trusted_url_prefixes": [sns.base],
        "regions": [REGION],
        "account_id": ACCOUNT,
        "endpoint_url": aws.url,
        "api_max_attempts": 1,
        **instance,
    }
    api = api_factory(sections={"aws": {"instances": {"prod": table}}})
    api.clock.set(datetime.now(UTC))
    return api


def cloudwatch(aws: FakeAws) -> Any:
    return boto3.client("cloudwatch", region_name=REGION, endpoint_url=aws.moto)


def put_alarm(aws: FakeAws, name: str = NAME, ok_action: bool = True) -> None:
    cloudwatch(aws).put_metric_alarm(
        AlarmName=name,
        MetricName="CPUUtilization",
        Namespace="AWS/EC2",
        Statistic="Average",
        Period=300,
        EvaluationPeriods=1,
        Threshold=80.0,
        ComparisonOperator="GreaterThanThreshold",
        Dimensions=[{"Name": "InstanceId", "Value": INSTANCE_ID}],
        AlarmActions=[TOPIC],
        OKActions=[TOPIC] if ok_action else [],
    )


def set_state(aws: FakeAws, state: str, name: str = NAME) -> datetime:
    """Move the alarm in moto; the instant moto recorded for the change."""
    client = cloudwatch(aws)
    client.set_alarm_state(AlarmName=name, StateValue=state, StateReason=f"test {state}")
    (alarm,) = client.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    return alarm["StateUpdatedTimestamp"].astimezone(UTC)  # type: ignore[no-any-return]


def change_time(at: datetime) -> str:
    """``StateChangeTime`` as CloudWatch writes it."""
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}+0000"


def push(api: Api, sns: FakeSns, state: str, at: datetime, message_id: str) -> Any:
    message = {**ALARM, "NewStateValue": state, "StateChangeTime": change_time(at)}
    return api.ok(deliver(api, sns.notification(message, message_id=message_id)))


def poll(api: Api, advance: timedelta = timedelta(seconds=1)) -> None:
    runner = api.services.sources.runner("aws", "prod")
    assert isinstance(runner, InstanceRunner)
    api.clock.set(max(api.clock(), datetime.now(UTC)) + advance)
    runner.poll(api.clock())
    api.services.correlator.run_pending()


def alerts(api: Api) -> list[Alert]:
    with api.services.sessions() as session:
        return list(session.scalars(select(Alert).order_by(Alert.detected_at)))


def test_an_alarm_whose_push_was_lost_fires_at_its_transition_instant(
    api_factory: ApiFactory, sns: FakeSns, aws: FakeAws
) -> None:
    put_alarm(aws)
    fired = set_state(aws, "ALARM")
    api = polled_api(api_factory, sns, aws)
    seed_registry(api)
    poll(api)
    (incident,) = incidents(api)
    assert same_instant(incident["detected_at"], fired)
    assert status(api)["last_poll"]["ok"] is True
    late = push(api, sns, "ALARM", fired, "late-push")  # the lost push, arriving at last
    assert late["results"][0]["status"] == "duplicate"  # one change, one event


def test_a_recovery_never_pushed_resolves_at_the_instant_aws_recorded(
    api_factory: ApiFactory, sns: FakeSns, aws: FakeAws
) -> None:
    put_alarm(aws)
    fired = set_state(aws, "ALARM")
    aws.state.add_history(NAME, fired, "OK", "ALARM")
    api = polled_api(api_factory, sns, aws)
    seed_registry(api)
    push(api, sns, "ALARM", fired, "alarm")
    api.services.correlator.run_pending()
    poll(api, timedelta(minutes=5))  # the watermark now stands after the problem
    assert incidents(api)[0]["status"] == "open"
    recovered = set_state(aws, "OK")
    aws.state.add_history(NAME, recovered, "ALARM", "OK")
    poll(api, timedelta(minutes=10))  # the problem lies before the watermark
    (incident,) = incidents(api)
    assert incident["status"] == "resolved"
    assert same_instant(incident["resolved_at"], recovered)
    assert aws.state.calls.count("DescribeAlarmHistory") == 3  # its problem looked up


def test_a_missed_flap_is_a_recovery_and_a_new_problem(
    api_factory: ApiFactory, sns: FakeSns, aws: FakeAws
) -> None:
    put_alarm(aws)
    fired = set_state(aws, "ALARM")
    aws.state.add_history(NAME, fired, "OK", "ALARM")
    api = polled_api(api_factory, sns, aws)
    seed_registry(api)
    push(api, sns, "ALARM", fired, "alarm")
    poll(api, timedelta(minutes=5))
    recovered = set_state(aws, "OK")
    aws.state.add_history(NAME, recovered, "ALARM", "OK")
    refired = set_state(aws, "ALARM")  # neither change was pushed
    aws.state.add_history(NAME, refired, "OK", "ALARM")
    poll(api, timedelta(minutes=10))
    first, second = alerts(api)
    assert (first.detected_at, first.status, first.resolved_at) == (fired, "resolved", recovered)
    assert (second.detected_at, second.status) == (refired, "firing")
    assert first.problem_key == second.problem_key == f"aws:{ARN}"


def test_an_alarm_that_fired_and_recovered_unseen_is_recorded_as_it_was(
    api_factory: ApiFactory, sns: FakeSns, aws: FakeAws
) -> None:
    put_alarm(aws)
    api = polled_api(api_factory, sns, aws)
    seed_registry(api)
    fired = api.clock() - timedelta(hours=3)
    recovered = api.clock() - timedelta(hours=2)
    aws.state.add_history(NAME, fired, "OK", "ALARM")
    aws.state.add_history(NAME, recovered, "ALARM", "OK")
    set_state(aws, "OK")
    poll(api)
    (alert,) = alerts(api)  # fired and recovered while no push came: recorded as it was
    assert (alert.detected_at, alert.resolved_at) == (fired, recovered)


def test_alarms_that_never_push_a_recovery_are_listed_in_sources(
    api_factory: ApiFactory, sns: FakeSns, aws: FakeAws
) -> None:
    put_alarm(aws)
    put_alarm(aws, "web01-disk-full", ok_action=False)
    api = polled_api(api_factory, sns, aws)
    poll(api)
    (finding,) = status(api)["findings"]
    assert "'web01-disk-full'" in finding and "not on OK" in finding and REGION in finding
    put_alarm(aws, "web01-disk-full", ok_action=True)  # fixed in AWS
    poll(api)
    assert status(api)["findings"] == []


def test_a_composite_alarm_fires_at_its_transition_not_its_last_update(
    api_factory: ApiFactory, sns: FakeSns, aws: FakeAws
) -> None:
    api = polled_api(api_factory, sns, aws)
    fired = api.clock() - timedelta(minutes=20)
    arn = aws.state.add_composite("web-down", "ALARM", fired, [TOPIC])
    poll(api)
    (alert,) = alerts(api)
    assert (alert.problem_key, alert.detected_at) == (f"aws:{arn}", fired)
    (finding,) = status(api)["findings"]
    assert "'web-down'" in finding


def test_throttling_is_a_failed_poll_with_awss_code(
    api_factory: ApiFactory, sns: FakeSns, aws: FakeAws
) -> None:
    put_alarm(aws)
    api = polled_api(api_factory, sns, aws, failure_threshold=1)
    aws.state.fail("DescribeAlarms", "Throttling", "Rate exceeded")
    poll(api)
    entry = status(api)
    assert entry["last_poll"]["ok"] is False
    assert "Throttling: Rate exceeded" in entry["last_poll"]["error"]
    assert entry["failures"] == 1 and entry["open_fault"] is not None
    del aws.state.errors["DescribeAlarms"]
    aws.state.fail("DescribeAlarmHistory", "AccessDenied", "not authorized", status=403)
    poll(api)
    assert "AccessDenied" in status(api)["last_poll"]["error"]
    del aws.state.errors["DescribeAlarmHistory"]
    poll(api)
    entry = status(api)
    assert entry["last_poll"]["ok"] is True and entry["open_fault"] is None


def test_with_role_arn_the_poll_runs_as_the_assumed_role(
    api_factory: ApiFactory, sns: FakeSns, aws: FakeAws
) -> None:
    put_alarm(aws)
    fired = set_state(aws, "ALARM")
    role = "arn:aws:iam::123456789012:role/slad-read"
    api = polled_api(api_factory, sns, aws, role_arn=role, external_id="acme-42")
    seed_registry(api)
    poll(api)
    assert status(api)["last_poll"]["ok"] is True
    assert aws.state.calls[0] == "AssumeRole"  # before any CloudWatch call
    poll(api)
    assert aws.state.calls.count("AssumeRole") == 1  # the credentials are kept until expiry
    (alert,) = alerts(api)
    assert alert.detected_at == fired


def test_only_an_instance_with_regions_is_polled(
    api_factory: ApiFactory, sns: FakeSns, aws: FakeAws
) -> None:
    table = {"topic_arns": [TOPIC], "trusted_url_prefixes": [sns.base]}
    api = api_factory(sections={"aws": {"instances": {"prod": table}}})
    assert status(api)["polled"] is False
    assert status(polled_api(api_factory, sns, aws))["polled"] is True
