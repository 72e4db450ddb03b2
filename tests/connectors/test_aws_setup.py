"""``slad source setup|check aws``: real boto3 against moto's in-process AWS.

moto confirms HTTP subscriptions at once and posts published messages to the endpoint
for real, so the check's test message is received here by a local HTTP server standing
where slad would.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from moto import mock_aws

from connectors.aws.config import parse_instance
from connectors.aws.setup import check, setup
from connectors.source import SourceUnreachable

REGION = "ap-northeast-1"
TOPIC = f"arn:aws:sns:{REGION}:123456789012:slad"


class Endpoint:
    """Where SNS posts: records each message body."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        bodies = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    server = Endpoint()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture(autouse=True)
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        yield


def instance(url: str, **extra: Any) -> Any:
    return parse_instance("prod", {"topic_arns": [TOPIC], "public_url": url, **extra})


def alarm(name: str, **actions: list[str]) -> None:
    boto3.client("cloudwatch", region_name=REGION).put_metric_alarm(
        AlarmName=name,
        MetricName="CPUUtilization",
        Namespace="AWS/EC2",
        Statistic="Average",
        Dimensions=[{"Name": "InstanceId", "Value": "i-0abc1234def567890"}],
        Period=60,
        EvaluationPeriods=2,
        Threshold=90.0,
        ComparisonOperator="GreaterThanThreshold",
        **actions,
    )


def described(name: str) -> dict[str, Any]:
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    (found,) = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    return dict(found)


def slad_subscriptions() -> list[dict[str, Any]]:
    sns = boto3.client("sns", region_name=REGION)
    return list(sns.list_subscriptions_by_topic(TopicArn=TOPIC)["Subscriptions"])


def test_setup_creates_the_topic_subscribes_slad_and_reports_alarms(endpoint: Endpoint) -> None:
    alarm("cpu-high")
    alarm("disk-full", AlarmActions=[TOPIC], OKActions=[TOPIC])
    steps = setup(instance(endpoint.url), {})
    url = f"{endpoint.url}/v1/webhooks/aws/prod"
    assert steps[0] == f"topic {TOPIC} exists"
    assert steps[1].startswith(f"subscribed {url} to {TOPIC}")
    assert [s for s in steps if "cpu-high" in s] == [
        f"alarm cpu-high ({REGION}) does not publish to the topic in AlarmActions and "
        "OKActions: run with --fix to add it"
    ]
    assert not any("disk-full" in s for s in steps)
    assert [s["Endpoint"] for s in slad_subscriptions()] == [url]
    assert described("cpu-high")["AlarmActions"] == []  # only reported

    again = setup(instance(endpoint.url), {})
    assert again[1] == f"{url} is already subscribed to {TOPIC} (confirmed)"
    assert len(slad_subscriptions()) == 1


def test_fix_adds_the_topic_to_alarm_and_ok_actions_and_keeps_the_rest(
    endpoint: Endpoint,
) -> None:
    other = f"arn:aws:sns:{REGION}:123456789012:pager"
    alarm("cpu-high", AlarmActions=[other])
    steps = setup(instance(endpoint.url), {"fix": "1"})
    assert f"alarm cpu-high ({REGION}) now publishes to {TOPIC} in AlarmActions and OKActions" in (
        steps
    )
    fixed = described("cpu-high")
    assert fixed["AlarmActions"] == [other, TOPIC]
    assert fixed["OKActions"] == [TOPIC]
    assert (fixed["Threshold"], fixed["EvaluationPeriods"], fixed["Dimensions"]) == (
        90.0,
        2,
        [{"Name": "InstanceId", "Value": "i-0abc1234def567890"}],
    )
    assert not any("cpu-high" in s for s in setup(instance(endpoint.url), {"fix": "1"}))


def test_the_alarm_prefix_limits_what_is_looked_at(endpoint: Endpoint) -> None:
    alarm("web-cpu")
    alarm("db-cpu")
    steps = setup(instance(endpoint.url), {"alarm_prefix": "web-"})
    assert any("web-cpu" in s for s in steps) and not any("db-cpu" in s for s in steps)


def test_setup_needs_the_url_sns_reaches_slad_by() -> None:
    bare = parse_instance("prod", {"topic_arns": [TOPIC]})
    with pytest.raises(ValueError, match="public_url is not set"):
        setup(bare, {})
    assert setup(bare, {"slad_url": "https://slad.example.com"})[1].startswith(
        "subscribed https://slad.example.com/v1/webhooks/aws/prod"
    )


def test_a_topic_of_another_account_is_refused(endpoint: Endpoint) -> None:
    foreign = "arn:aws:sns:ap-northeast-1:999999999999:slad"
    with pytest.raises(ValueError, match="another account"):
        setup(parse_instance("prod", {"topic_arns": [foreign], "public_url": endpoint.url}), {})


def test_an_unreachable_aws_is_source_unreachable(endpoint: Endpoint) -> None:
    down = instance(endpoint.url, endpoint_url="http://127.0.0.1:9", http_timeout_seconds=1)
    with pytest.raises(SourceUnreachable, match="AWS setup"):
        setup(down, {})
    steps = check(down)
    assert [(s.name, s.ok) for s in steps] == [("AWS credentials work", False)]


def test_check_proves_credentials_subscription_and_a_test_message(endpoint: Endpoint) -> None:
    setup(instance(endpoint.url), {})
    steps = check(instance(endpoint.url))
    assert [s.ok for s in steps] == [True, True, True]
    assert steps[0].name == "AWS credentials work"
    assert steps[1].name == f"subscription to {TOPIC} confirmed"
    (message,) = endpoint.bodies
    assert message["Type"] == "Notification" and message["TopicArn"] == TOPIC
    nonce = json.loads(message["Message"])["slad_test"]
    assert steps[2].awaits == f"test message {nonce} from {TOPIC}"


def test_check_fails_an_unsubscribed_topic_and_publishes_nothing(endpoint: Endpoint) -> None:
    boto3.client("sns", region_name=REGION).create_topic(Name="slad")
    steps = check(instance(endpoint.url))
    assert [s.ok for s in steps] == [True, False]
    assert "is not subscribed" in steps[1].detail
    assert endpoint.bodies == []


def test_the_cli_sets_up_and_fixes(
    tmp_path: Any, endpoint: Endpoint, capsys: pytest.CaptureFixture[str]
) -> None:
    from daemon.cli import EXIT_CONFIG, main

    alarm("cpu-high")
    config = tmp_path / "slad.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "slad.db"}"\n'
        f'[aws.instances.prod]\ntopic_arns = ["{TOPIC}"]\npublic_url = "{endpoint.url}"\n'
    )
    assert main(["--config", str(config), "source", "setup", "aws", "prod", "--fix"]) == 0
    out = capsys.readouterr().out
    assert f"ok  subscribed {endpoint.url}/v1/webhooks/aws/prod to {TOPIC}" in out
    assert f"ok  alarm cpu-high ({REGION}) now publishes to {TOPIC}" in out
    assert described("cpu-high")["OKActions"] == [TOPIC]
    assert main(["--config", str(config), "source", "setup", "aws", "nope"]) == EXIT_CONFIG
    assert "no aws instance 'nope'" in capsys.readouterr().err


def test_an_eventbridge_only_instance_asks_nothing_of_aws() -> None:
    only_events = parse_instance("eb", {"events_basic_user": "u", "events_basic_password": "p"})
    assert check(only_events) == []
    with pytest.raises(ValueError, match="no SNS topic to set up"):
        setup(only_events, {})
