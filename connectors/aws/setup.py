"""``slad source setup|check aws <instance>``: the SNS side of an instance, through boto3.

Credentials come from boto3's standard chain (environment, shared files, instance or task
role); `endpoint_url` sends every call to an emulator instead. Setup is idempotent: each
configured topic is created or reused (``CreateTopic`` answers the existing topic), slad's
URL is subscribed unless it already is, and every alarm of the topic's region that would
not publish to one of the instance's topics on ALARM *and* OK is reported (OK actions are
how recoveries arrive), or, with ``--fix``, given the topic. Check proves the path: the
credentials work, each topic's subscription of slad's URL is confirmed, and a test
message published to the topic arrives at slad, signed by SNS (``slad source check``
waits for the instance's last accepted webhook to show it).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from connectors.aws.config import AwsInstance
from connectors.source import CheckStep, SourceUnreachable

PENDING = "PendingConfirmation"
WEBHOOK_PATH = "/v1/webhooks/aws/{name}"
_COPIED = (  # what PutMetricAlarm needs again to change a metric alarm's actions only
    "AlarmName",
    "AlarmDescription",
    "ActionsEnabled",
    "OKActions",
    "AlarmActions",
    "InsufficientDataActions",
    "MetricName",
    "Namespace",
    "Statistic",
    "ExtendedStatistic",
    "Dimensions",
    "Period",
    "Unit",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
    "EvaluateLowSampleCountPercentile",
    "Metrics",
    "ThresholdMetricId",
)


def webhook_url(instance: AwsInstance, slad_url: str) -> str:
    """The URL SNS posts to: `slad_url` (``--slad-url``) or the instance's `public_url`."""
    base = slad_url or instance.public_url
    if not base:
        raise ValueError(
            f"aws.instances.{instance.name}.public_url is not set: give the URL by which "
            "SNS reaches slad (or pass --slad-url)"
        )
    return base.rstrip("/") + WEBHOOK_PATH.format(name=instance.name)


def client(instance: AwsInstance, service: str, region: str) -> Any:
    """A boto3 client of the standard credential chain, or of `endpoint_url`."""
    return boto3.client(
        service,
        region_name=region,
        endpoint_url=instance.endpoint_url or None,
        config=Config(
            connect_timeout=instance.http_timeout_seconds,
            read_timeout=instance.http_timeout_seconds,
            retries={"mode": "standard", "max_attempts": 3},
        ),
    )


def _region(topic_arn: str) -> str:
    return topic_arn.split(":")[3]


def setup(instance: AwsInstance, options: Mapping[str, str]) -> list[str]:
    """Create or reuse each topic, subscribe slad, report or fix the alarms' actions."""
    if not instance.topic_arns:
        raise ValueError(f"aws.instances.{instance.name}.topic_arns: no SNS topic to set up")
    url = webhook_url(instance, options.get("slad_url", ""))
    fix = options.get("fix") == "1"
    prefix = options.get("alarm_prefix", "")
    steps: list[str] = []
    by_region: dict[str, list[str]] = {}
    for topic in sorted(instance.topic_arns):
        by_region.setdefault(_region(topic), []).append(topic)
    with _unreachable("setup"):
        for region, topics in sorted(by_region.items()):
            sns = client(instance, "sns", region)
            for topic in topics:
                steps.append(_topic(sns, topic))
                steps.append(_subscription(sns, topic, url, instance.confirm_subscriptions))
            cloudwatch = client(instance, "cloudwatch", region)
            steps.extend(_alarms(cloudwatch, region, topics, prefix, fix))
    return steps


def _topic(sns: Any, topic: str) -> str:
    created = sns.create_topic(Name=topic.rsplit(":", 1)[1])["TopicArn"]
    if created != topic:
        raise ValueError(
            f"the configured topic {topic} is {created} for these credentials: another "
            "account or partition; fix topic_arns or the credentials"
        )
    return f"topic {topic} exists"


def subscriptions(sns: Any, topic: str) -> Iterator[dict[str, Any]]:
    for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic):
        yield from page.get("Subscriptions", [])


def _subscription(sns: Any, topic: str, url: str, auto_confirm: bool) -> str:
    for sub in subscriptions(sns, topic):
        if sub.get("Endpoint") == url:
            state = "awaits confirmation" if sub["SubscriptionArn"] == PENDING else "confirmed"
            return f"{url} is already subscribed to {topic} ({state})"
    protocol = "https" if url.startswith("https://") else "http"
    answer = sns.subscribe(
        TopicArn=topic, Protocol=protocol, Endpoint=url, ReturnSubscriptionArn=True
    )
    confirm = "slad confirms it" if auto_confirm else "confirm it by hand"
    if answer.get("SubscriptionArn", PENDING) == PENDING:
        return f"subscribed {url} to {topic}: SNS sends a SubscriptionConfirmation, {confirm}"
    return f"subscribed {url} to {topic} ({answer['SubscriptionArn']})"


def _alarms(cloudwatch: Any, region: str, topics: list[str], prefix: str, fix: bool) -> list[str]:
    steps = []
    wanted = set(topics)
    metric, composite = _described(cloudwatch, prefix)
    for alarm in metric + composite:
        missing = [
            key for key in ("AlarmActions", "OKActions") if not wanted & set(alarm.get(key, []))
        ]
        if not missing:
            continue
        name, where = alarm["AlarmName"], " and ".join(missing)
        if not fix:
            steps.append(
                f"alarm {name} ({region}) does not publish to the topic in {where}: "
                "run with --fix to add it"
            )
        elif alarm in composite:
            steps.append(
                f"composite alarm {name} ({region}) lacks the topic in {where}: add "
                f"{topics[0]} to it by hand (put-composite-alarm)"
            )
        else:
            cloudwatch.put_metric_alarm(**_with_topic(alarm, missing, topics[0]))
            steps.append(f"alarm {name} ({region}) now publishes to {topics[0]} in {where}")
    if not metric and not composite:
        steps.append(f"no alarms in {region}" + (f" named {prefix}*" if prefix else ""))
    return steps


def _described(cloudwatch: Any, prefix: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    metric: list[dict[str, Any]] = []
    composite: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"AlarmTypes": ["MetricAlarm", "CompositeAlarm"]}
    if prefix:
        kwargs["AlarmNamePrefix"] = prefix
    for page in cloudwatch.get_paginator("describe_alarms").paginate(**kwargs):
        metric.extend(page.get("MetricAlarms", []))
        composite.extend(page.get("CompositeAlarms", []))
    return metric, composite


def _with_topic(alarm: Mapping[str, Any], missing: Iterable[str], topic: str) -> dict[str, Any]:
    """The alarm's own definition again, with `topic` added to the `missing` action lists."""
    definition = {key: alarm[key] for key in _COPIED if alarm.get(key) not in (None, [], "")}
    for key in missing:
        definition[key] = [*alarm.get(key, []), topic]
    return definition


def check(instance: AwsInstance, slad_url: str = "") -> list[CheckStep]:
    """Credentials, each topic's confirmed subscription, and a test message through it.

    The subscription looked for is `slad_url`'s or `public_url`'s when known, else any
    of this instance's webhook path. A test message step names the text the instance's
    last accepted webhook shows once slad received it (`CheckStep.awaits`). An instance
    with no topic (EventBridge only) needs no AWS credentials: nothing is asked of AWS.
    """
    steps: list[CheckStep] = []
    if not instance.topic_arns:
        return steps
    region = _region(min(instance.topic_arns))
    try:
        identity = client(instance, "sts", region).get_caller_identity()
    except (BotoCoreError, ClientError) as exc:
        return [CheckStep("AWS credentials work", False, str(exc))]
    steps.append(CheckStep("AWS credentials work", True, str(identity.get("Arn", ""))))
    url = webhook_url(instance, slad_url) if (slad_url or instance.public_url) else ""
    path = WEBHOOK_PATH.format(name=instance.name)
    for topic in sorted(instance.topic_arns):
        sns = client(instance, "sns", _region(topic))
        try:
            found = [
                s
                for s in subscriptions(sns, topic)
                if (s.get("Endpoint") == url if url else str(s.get("Endpoint", "")).endswith(path))
            ]
        except (BotoCoreError, ClientError) as exc:
            steps.append(CheckStep(f"topic {topic} readable", False, str(exc)))
            continue
        confirmed = [s for s in found if s["SubscriptionArn"] != PENDING]
        where = url or f"a URL ending {path}"
        if not confirmed:
            state = "awaits confirmation" if found else "is not subscribed"
            steps.append(CheckStep(f"{where} subscribed to {topic}", False, f"{state}; run setup"))
            continue
        endpoints = ", ".join(sorted(str(s["Endpoint"]) for s in confirmed))
        steps.append(CheckStep(f"subscription to {topic} confirmed", True, endpoints))
        nonce = uuid.uuid4().hex[:12]
        try:
            sent = sns.publish(TopicArn=topic, Message=json.dumps({"slad_test": nonce}))
        except (BotoCoreError, ClientError) as exc:
            steps.append(CheckStep(f"test message published to {topic}", False, str(exc)))
            continue
        steps.append(
            CheckStep(
                f"test message published to {topic} reached slad, signed by SNS",
                True,
                f"MessageId {sent['MessageId']}",
                awaits=f"test message {nonce} from {topic}",
            )
        )
    return steps


class _unreachable:
    """Turn the SDK's failures into `SourceUnreachable` naming what was being done."""

    def __init__(self, doing: str) -> None:
        self.doing = doing

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> None:
        if isinstance(exc, BotoCoreError | ClientError):
            raise SourceUnreachable(f"AWS {self.doing}: {exc}") from exc
