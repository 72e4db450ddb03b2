"""The AWS APIs one instance is polled through: CloudWatch per region, and AWS Health.

Credentials come from the standard chain (environment, shared files, the instance's or
task's role); with `role_arn` they are exchanged for the role's, through STS, refreshed
before they expire (`external_id` is passed when the role's trust policy asks for it).
Every client retries in botocore's adaptive mode, which also slows down its own calls
when AWS throttles, so a large account is read at the pace AWS allows. What still fails
after the retries raises `SourceUnreachable` with AWS's error code, so ``GET /v1/sources``
says *why* (``Throttling``, ``AccessDenied``, ``ExpiredToken``) and the runner counts it.

`endpoint_url` sends every call to one endpoint instead of AWS's: for an emulator or a
test server only.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import CredentialProvider, DeferredRefreshableCredentials
from botocore.exceptions import BotoCoreError, ClientError

from connectors.aws.config import AwsInstance
from connectors.source import SourceUnreachable

ALARM_TYPES = ["MetricAlarm", "CompositeAlarm"]
SUBSCRIPTION_REQUIRED = "SubscriptionRequiredException"
_HEALTH_BATCH = 10  # describe_event_details and describe_affected_entities take <= 10 ARNs


class HealthUnavailable(Exception):
    """The account's support plan does not include the AWS Health API."""


class _AssumedRole(CredentialProvider):  # type: ignore[misc]
    """The role's credentials, fetched from STS on first use and refreshed before expiry."""

    METHOD = "assume-role"
    CANONICAL_NAME = "slad-assume-role"

    def __init__(self, instance: AwsInstance, base: boto3.Session, config: Config) -> None:
        self._instance = instance
        self._base = base
        self._config = config

    def load(self) -> DeferredRefreshableCredentials:
        return DeferredRefreshableCredentials(refresh_using=self._fetch, method=self.METHOD)

    def _fetch(self) -> dict[str, str]:
        sts = self._base.client(
            "sts",
            region_name=self._instance.regions[0],
            endpoint_url=self._instance.endpoint_url or None,
            config=self._config,
        )
        params = {
            "RoleArn": self._instance.role_arn,
            "RoleSessionName": f"slad-{self._instance.name}",
        }
        if self._instance.external_id:
            params["ExternalId"] = self._instance.external_id
        try:
            credentials = sts.assume_role(**params)["Credentials"]
        except (ClientError, BotoCoreError) as exc:
            raise SourceUnreachable(
                f"sts:AssumeRole {self._instance.role_arn}: {describe(exc)}"
            ) from exc
        return {
            "access_key": credentials["AccessKeyId"],
            "secret_key": credentials["SecretAccessKey"],
            "token": credentials["SessionToken"],
            "expiry_time": credentials["Expiration"].isoformat(),
        }


def describe(exc: Exception) -> str:
    """AWS's error code and message (``Throttling: Rate exceeded``), or botocore's error."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = error.get("Code") or "Error"
        return f"{code}: {error.get('Message') or exc}"
    return f"{exc.__class__.__name__}: {exc}"


def error_code(exc: Exception) -> str:
    """AWS's error code of a failed call (``SubscriptionRequiredException``), else ""."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


class AwsApi:
    """The clients of one instance, made once and reused (botocore clients are thread-safe)."""

    def __init__(self, instance: AwsInstance, max_attempts: int = 5) -> None:
        self.instance = instance
        self._config = Config(
            retries={"mode": "adaptive", "max_attempts": max_attempts},
            connect_timeout=instance.http_timeout_seconds,
            read_timeout=instance.http_timeout_seconds,
            user_agent_extra="slad",
        )
        base = boto3.Session()
        if instance.role_arn:
            core = botocore.session.Session()
            resolver = core.get_component("credential_provider")
            resolver.insert_before("env", _AssumedRole(instance, base, self._config))
            self._session = boto3.Session(botocore_session=core)
        else:
            self._session = base
        self._clients: dict[tuple[str, str], Any] = {}

    def client(self, service: str, region: str) -> Any:
        key = (service, region)
        if key not in self._clients:
            self._clients[key] = self._session.client(
                service,
                region_name=region,
                endpoint_url=self.instance.endpoint_url or None,
                config=self._config,
            )
        return self._clients[key]

    def alarms(self, region: str) -> list[dict[str, Any]]:
        """Every metric and composite alarm of `region`, each with its ``AlarmType``."""
        found: list[dict[str, Any]] = []
        for page in self._pages("cloudwatch", region, "describe_alarms", AlarmTypes=ALARM_TYPES):
            for kind, key in (
                ("MetricAlarm", "MetricAlarms"),
                ("CompositeAlarm", "CompositeAlarms"),
            ):
                found.extend({**alarm, "AlarmType": kind} for alarm in page.get(key, []))
        return found

    def state_history(
        self, region: str, start: datetime, end: datetime, alarm: str | None = None
    ) -> list[dict[str, Any]]:
        """``StateUpdate`` history items in [start, end], oldest first (one alarm's, or all)."""
        params: dict[str, Any] = {
            "HistoryItemType": "StateUpdate",
            "StartDate": start,
            "EndDate": end,
            "ScanBy": "TimestampAscending",
            "AlarmTypes": ALARM_TYPES,
        }
        if alarm is not None:
            params["AlarmName"] = alarm
        items: list[dict[str, Any]] = []
        for page in self._pages("cloudwatch", region, "describe_alarm_history", **params):
            items.extend(page.get("AlarmHistoryItems", []))
        return items

    def last_states(
        self, region: str, alarm: str, before: datetime, limit: int
    ) -> list[dict[str, Any]]:
        """The alarm's latest `limit` ``StateUpdate`` items before `before`, newest first."""
        client = self.client("cloudwatch", region)
        try:
            answer = client.describe_alarm_history(
                AlarmName=alarm,
                AlarmTypes=ALARM_TYPES,
                HistoryItemType="StateUpdate",
                EndDate=before,
                ScanBy="TimestampDescending",
                MaxRecords=limit,
            )
        except (ClientError, BotoCoreError) as exc:
            raise SourceUnreachable(
                f"cloudwatch:DescribeAlarmHistory in {region}: {describe(exc)}"
            ) from exc
        return list(answer.get("AlarmHistoryItems", []))

    def health_events(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        """Health events of the scheduled-change and issue categories updated in [since, until].

        Raises `HealthUnavailable` when the account's support plan has no Health API.
        """
        filter_ = {
            "eventTypeCategories": ["scheduledChange", "issue"],
            "lastUpdatedTimes": [{"from": since, "to": until}],
        }
        events: list[dict[str, Any]] = []
        for page in self._health_pages("describe_events", filter=filter_):
            events.extend(page.get("events", []))
        return events

    def health_details(self, arns: Sequence[str]) -> dict[str, dict[str, Any]]:
        """``describe_event_details`` of each event, by ARN (the description is there)."""
        details: dict[str, dict[str, Any]] = {}
        for batch in _batches(arns):
            client = self.client("health", _health_region(self.instance))
            try:
                answer = client.describe_event_details(eventArns=batch)
            except ClientError as exc:
                raise self._health_error(exc, "DescribeEventDetails") from exc
            except BotoCoreError as exc:
                raise SourceUnreachable(f"health:DescribeEventDetails: {describe(exc)}") from exc
            for item in answer.get("successfulSet", []):
                details[item["event"]["arn"]] = item
        return details

    def health_entities(self, arns: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """The entities each event affects, by event ARN."""
        entities: dict[str, list[dict[str, Any]]] = {arn: [] for arn in arns}
        for batch in _batches(arns):
            pages = self._health_pages("describe_affected_entities", filter={"eventArns": batch})
            for page in pages:
                for entity in page.get("entities", []):
                    entities.setdefault(entity.get("eventArn", ""), []).append(entity)
        return entities

    def _pages(
        self, service: str, region: str, operation: str, **params: Any
    ) -> Iterator[Mapping[str, Any]]:
        client = self.client(service, region)
        try:
            yield from client.get_paginator(operation).paginate(**params)
        except (ClientError, BotoCoreError) as exc:
            name = "".join(part.title() for part in operation.split("_"))
            raise SourceUnreachable(f"{service}:{name} in {region}: {describe(exc)}") from exc

    def _health_pages(self, operation: str, **params: Any) -> Iterator[Mapping[str, Any]]:
        client = self.client("health", _health_region(self.instance))
        name = "".join(part.title() for part in operation.split("_"))
        try:
            yield from client.get_paginator(operation).paginate(**params)
        except ClientError as exc:
            raise self._health_error(exc, name) from exc
        except BotoCoreError as exc:
            raise SourceUnreachable(f"health:{name}: {describe(exc)}") from exc

    @staticmethod
    def _health_error(exc: ClientError, operation: str) -> Exception:
        if error_code(exc) == SUBSCRIPTION_REQUIRED:
            return HealthUnavailable(describe(exc))
        return SourceUnreachable(f"health:{operation}: {describe(exc)}")


def _health_region(instance: AwsInstance) -> str:
    """AWS Health's API lives in one region per partition."""
    region = instance.regions[0]
    if region.startswith("cn-"):
        return "cn-northwest-1"
    if region.startswith("us-gov-"):
        return "us-gov-west-1"
    return "us-east-1"


def _batches(items: Sequence[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), _HEALTH_BATCH):
        yield list(items[start : start + _HEALTH_BATCH])
