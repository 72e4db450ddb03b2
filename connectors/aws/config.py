"""Settings of one AWS instance, read from a TOML table such as ``[aws.instances.prod]``.

An instance is one SNS subscription endpoint (``/v1/webhooks/aws/<name>``) and the topics
it accepts messages from. Only the topics listed in `topic_arns` are accepted: anybody
can subscribe any URL to a topic of their own account, and SNS signs their messages too.
Beside it, ``/v1/webhooks/aws/<name>/events`` takes EventBridge events from an API
destination, authenticated by the connection's API-key header or basic auth (`events`);
an instance with neither refuses that route. `endpoint_url` sends the AWS API calls of
setup and check to an emulator; `public_url` is the base URL by which SNS reaches slad.

With `regions` (and the account they belong to) the instance is also polled: CloudWatch
is asked for the alarms and state changes the pushes missed, and AWS Health for notices.
Credentials come from the standard AWS chain (environment, shared files, instance or
task role), optionally exchanged for `role_arn` (with `external_id`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connectors.config_values import (
    check_instance,
    choice,
    flag,
    parse_instance_tables,
    positive_int,
    secret,
    strings,
    text,
)
from connectors.events import EventKind, Severity

_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$")
_KEYS = frozenset(
    {
        "topic_arns",
        "confirm_subscriptions",
        "insufficient_data",
        "severity",
        "trusted_url_prefixes",
        "http_timeout_seconds",
        "poll_interval_seconds",
        "failure_threshold",
        "endpoint_url",
        "public_url",
        "certificate_base_url",
        "events_api_key_header",
        "events_api_key",
        "events_api_key_file",
        "events_basic_user",
        "events_basic_password",
        "events_basic_password_file",
        "account_id",
        "regions",
        "role_arn",
        "external_id",
        "api_max_attempts",
        "health_api",
    }
)
_ACCOUNT = re.compile(r"^[0-9]{12}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]+$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$")
_URL = re.compile(r"^https?://[^/@\s]+(/\S*)?$")
_HEADER_NAME = re.compile(r"^[A-Za-z0-9-]{1,128}$")
_INSUFFICIENT_DATA = {kind.value: kind for kind in EventKind}


@dataclass(frozen=True, slots=True)
class EventsAuth:
    """How an EventBridge API destination authenticates to ``/events``: the connection's
    API-key header (`header` lower-case, `value`) or basic auth (`user`, `password`)."""

    header: str | None = None
    value: str | None = None
    user: str | None = None
    password: str | None = None

    def __repr__(self) -> str:
        return f"EventsAuth(header={self.header!r}, user={self.user!r}, secrets=hidden)"


@dataclass(frozen=True, slots=True)
class AwsInstance:
    """One SNS endpoint slad listens on.

    `trusted_url_prefixes` admits certificate and subscription URLs outside AWS's own
    ``https://sns.<region>.amazonaws.com`` hosts (a local SNS emulator); empty in
    production. `certificate_base_url` fetches signing certificates from an emulator that
    names AWS's hosts in its messages (moto); the URL is checked as if fetched from AWS.
    `insufficient_data` is what an alarm entering ``INSUFFICIENT_DATA`` means.

    `regions` (with `account_id`) turn on the poll; `role_arn`/`external_id` name a role
    to assume for it; `endpoint_url` sends every AWS API call to one endpoint instead of
    AWS's (for an emulator or a test server only); `api_max_attempts` is how often
    botocore tries a call (adaptive retries) before the poll counts as failed;
    `health_api` asks AWS Health's API for notices too (it answers only accounts with a
    Business or Enterprise support plan; without one that is shown, not counted).
    """

    name: str
    topic_arns: frozenset[str]
    confirm_subscriptions: bool = True
    insufficient_data: EventKind = EventKind.UPDATE
    severity: Severity = Severity.HIGH
    trusted_url_prefixes: tuple[str, ...] = ()
    http_timeout_seconds: int = 10
    poll_interval_seconds: int = 300
    failure_threshold: int = 3
    endpoint_url: str = ""
    public_url: str | None = None
    certificate_base_url: str | None = None
    events: EventsAuth | None = None
    account_id: str = ""
    regions: tuple[str, ...] = ()
    role_arn: str = ""
    external_id: str = ""
    api_max_attempts: int = 5
    health_api: bool = True

    @property
    def polled(self) -> bool:
        """Whether CloudWatch and AWS Health are polled (`regions` configured)."""
        return bool(self.regions)


def parse_instance(name: str, table: Mapping[str, Any]) -> AwsInstance:
    """Build an instance from its config table, naming the offending key on any error."""
    where = f"aws.instances.{name}"
    check_instance(where, name, table, _KEYS)
    topics = strings(table, "topic_arns", where)
    events = _events_auth(table, where)
    if not topics and events is None:
        raise ValueError(
            f"{where}.topic_arns: required (at least one SNS topic ARN) unless EventBridge "
            "events are authenticated (events_api_key_header or events_basic_user)"
        )
    for topic in topics:
        if not _TOPIC_ARN.match(topic):
            raise ValueError(f"{where}.topic_arns: {topic!r} is not an SNS topic ARN")
    prefixes = strings(table, "trusted_url_prefixes", where)
    for prefix in prefixes:
        if not re.match(r"^https?://[^/@]+/", prefix):
            raise ValueError(
                f"{where}.trusted_url_prefixes: {prefix!r} must be http(s)://host[:port]/..."
            )
    regions = strings(table, "regions", where)
    for region in regions:
        if not _REGION.match(region):
            raise ValueError(f"{where}.regions: {region!r} is not an AWS region code")
    account_id = str(table.get("account_id", ""))
    if regions and not _ACCOUNT.match(account_id):
        raise ValueError(f"{where}.account_id: required with regions, the 12-digit account id")
    if account_id and not regions:
        raise ValueError(f"{where}.account_id: given without regions, so nothing is polled")
    role_arn = text(table, "role_arn", where) if "role_arn" in table else ""
    if role_arn and not _ROLE_ARN.match(role_arn):
        raise ValueError(f"{where}.role_arn: {role_arn!r} is not an IAM role ARN")
    external_id = text(table, "external_id", where) if "external_id" in table else ""
    if external_id and not role_arn:
        raise ValueError(f"{where}.external_id: only meaningful with role_arn")
    return AwsInstance(
        name=name,
        topic_arns=frozenset(topics),
        confirm_subscriptions=flag(table, "confirm_subscriptions", True, where),
        insufficient_data=choice(table, "insufficient_data", _INSUFFICIENT_DATA, "update", where),
        severity=choice(
            table, "severity", {s.value: s for s in Severity}, Severity.HIGH.value, where
        ),
        trusted_url_prefixes=tuple(prefixes),
        http_timeout_seconds=positive_int(table, "http_timeout_seconds", 10, where),
        poll_interval_seconds=positive_int(table, "poll_interval_seconds", 300, where),
        failure_threshold=positive_int(table, "failure_threshold", 3, where),
        endpoint_url=_url(table, "endpoint_url", where) or "",
        public_url=_url(table, "public_url", where),
        certificate_base_url=_url(table, "certificate_base_url", where),
        events=events,
        account_id=account_id,
        regions=tuple(dict.fromkeys(regions)),
        role_arn=role_arn,
        external_id=external_id,
        api_max_attempts=positive_int(table, "api_max_attempts", 5, where),
        health_api=flag(table, "health_api", True, where),
    )


def _url(table: Mapping[str, Any], key: str, where: str) -> str | None:
    if key not in table:
        return None
    url = text(table, key, where)
    if not _URL.match(url):
        raise ValueError(f"{where}.{key}: {url!r} must be an http(s)://host[:port][/path] URL")
    return url.rstrip("/")


def _events_auth(table: Mapping[str, Any], where: str) -> EventsAuth | None:
    """The EventBridge route's credentials: one API-key header, or basic auth, or none."""
    by_key = "events_api_key_header" in table
    by_user = "events_basic_user" in table
    if by_key and by_user:
        raise ValueError(f"{where}: give events_api_key_header or events_basic_user, not both")
    if by_key:
        header = text(table, "events_api_key_header", where)
        if not _HEADER_NAME.match(header) or header.lower() in _RESERVED_HEADERS:
            raise ValueError(
                f"{where}.events_api_key_header: {header!r} must be a custom HTTP header name"
            )
        return EventsAuth(header=header.lower(), value=secret(table, "events_api_key", where))
    if by_user:
        user = text(table, "events_basic_user", where)
        if ":" in user:
            raise ValueError(f"{where}.events_basic_user: must not contain ':'")
        return EventsAuth(user=user, password=secret(table, "events_basic_password", where))
    stray = [k for k in table if k.startswith(("events_api_key", "events_basic"))]
    if stray:
        raise ValueError(
            f"{where}.{stray[0]}: needs events_api_key_header or events_basic_user beside it"
        )
    return None


_RESERVED_HEADERS = frozenset({"authorization", "content-type", "content-length", "host"})


def parse_instances(tables: Mapping[str, Any]) -> dict[str, AwsInstance]:
    """Parse the whole ``[aws.instances]`` table: one sub-table per instance."""
    return parse_instance_tables("aws", tables, parse_instance)
