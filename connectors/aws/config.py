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

from connectors.events import EventKind, Severity

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
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
    if not _NAME.match(name):
        raise ValueError(f"{where}: instance name must match {_NAME.pattern}")
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)}")
    topics = _strings(table, "topic_arns", where)
    if not topics:
        raise ValueError(f"{where}.topic_arns: required, at least one SNS topic ARN")
    for topic in topics:
        if not _TOPIC_ARN.match(topic):
            raise ValueError(f"{where}.topic_arns: {topic!r} is not an SNS topic ARN")
    prefixes = _strings(table, "trusted_url_prefixes", where)
    for prefix in prefixes:
        if not re.match(r"^https?://[^/@]+/", prefix):
            raise ValueError(
                f"{where}.trusted_url_prefixes: {prefix!r} must be http(s)://host[:port]/..."
            )
    return AwsInstance(
        name=name,
        topic_arns=frozenset(topics),
        confirm_subscriptions=_flag(table, "confirm_subscriptions", True, where),
        insufficient_data=_choice(table, "insufficient_data", _INSUFFICIENT_DATA, "update", where),
        severity=_choice(
            table, "severity", {s.value: s for s in Severity}, Severity.HIGH.value, where
        ),
        trusted_url_prefixes=tuple(prefixes),
        http_timeout_seconds=_positive_int(table, "http_timeout_seconds", 10, where),
        poll_interval_seconds=_positive_int(table, "poll_interval_seconds", 300, where),
        failure_threshold=_positive_int(table, "failure_threshold", 3, where),
    )


def parse_instances(tables: Mapping[str, Any]) -> dict[str, AwsInstance]:
    """Parse the whole ``[aws.instances]`` table: one sub-table per instance."""
    instances: dict[str, AwsInstance] = {}
    for name, table in tables.items():
        if not isinstance(table, Mapping):
            raise ValueError(f"aws.instances.{name}: must be a table")
        instances[name] = parse_instance(name, table)
    return instances


def _strings(table: Mapping[str, Any], key: str, where: str) -> list[str]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError(f"{where}.{key}: must be a list of non-empty strings")
    return [v.strip() for v in value]


def _choice(
    table: Mapping[str, Any], key: str, choices: Mapping[str, Any], default: str, where: str
) -> Any:
    value = table.get(key, default)
    if value not in choices:
        raise ValueError(f"{where}.{key}: must be one of {', '.join(sorted(choices))}")
    return choices[value]


def _positive_int(table: Mapping[str, Any], key: str, default: int, where: str) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{where}.{key}: must be a positive integer")
    return value


def _flag(table: Mapping[str, Any], key: str, default: bool, where: str) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise ValueError(f"{where}.{key}: must be true or false")
    return value
