"""Settings of one AWS instance, read from a TOML table such as ``[aws.instances.prod]``.

An instance is one SNS subscription endpoint (``/v1/webhooks/aws/<name>``) and the topics
it accepts messages from. Only the topics listed in `topic_arns` are accepted: anybody
can subscribe any URL to a topic of their own account, and SNS signs their messages too.
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
    strings,
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
    }
)
_INSUFFICIENT_DATA = {kind.value: kind for kind in EventKind}


@dataclass(frozen=True, slots=True)
class AwsInstance:
    """One SNS endpoint slad listens on.

    `trusted_url_prefixes` admits certificate and subscription URLs outside AWS's own
    ``https://sns.<region>.amazonaws.com`` hosts (a local SNS emulator); empty in
    production. `insufficient_data` is what an alarm entering ``INSUFFICIENT_DATA`` means.
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


def parse_instance(name: str, table: Mapping[str, Any]) -> AwsInstance:
    """Build an instance from its config table, naming the offending key on any error."""
    where = f"aws.instances.{name}"
    check_instance(where, name, table, _KEYS)
    topics = strings(table, "topic_arns", where)
    if not topics:
        raise ValueError(f"{where}.topic_arns: required, at least one SNS topic ARN")
    for topic in topics:
        if not _TOPIC_ARN.match(topic):
            raise ValueError(f"{where}.topic_arns: {topic!r} is not an SNS topic ARN")
    prefixes = strings(table, "trusted_url_prefixes", where)
    for prefix in prefixes:
        if not re.match(r"^https?://[^/@]+/", prefix):
            raise ValueError(
                f"{where}.trusted_url_prefixes: {prefix!r} must be http(s)://host[:port]/..."
            )
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
    )


def parse_instances(tables: Mapping[str, Any]) -> dict[str, AwsInstance]:
    """Parse the whole ``[aws.instances]`` table: one sub-table per instance."""
    return parse_instance_tables("aws", tables, parse_instance)
