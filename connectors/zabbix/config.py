"""Settings of one Zabbix instance, read from a TOML table such as ``[zabbix.instances.main]``.

Each instance is a separate Zabbix server with its own API, time zone and webhook secret.
The time zone matters because Zabbix formats ``{EVENT.DATE}``/``{EVENT.TIME}`` in the
server's local time without a zone; slad only falls back to those when the API cannot
give the exact detection instant.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connectors.config_values import (
    check_instance,
    flag,
    parse_instance_tables,
    positive_int,
    secret,
    text,
)

_KEYS = frozenset(
    {
        "api_url",
        "api_token",
        "api_token_file",
        "timezone",
        "webhook_secret",
        "webhook_secret_file",
        "poll_interval_seconds",
        "api_timeout_seconds",
        "verify_tls",
        "acknowledge",
        "failure_threshold",
    }
)


@dataclass(frozen=True, slots=True)
class ZabbixInstance:
    """One Zabbix server slad listens to and polls.

    `name` appears in event keys (``zabbix:<name>:<eventid>``) and in the webhook URL, so
    it must stay stable once alerts have been received. Secrets are kept out of `repr` so
    they never reach a log line.
    """

    name: str
    api_url: str
    api_token: str = field(repr=False)
    timezone: ZoneInfo
    webhook_secret: str = field(repr=False)
    poll_interval_seconds: int = 60
    api_timeout_seconds: int = 10
    verify_tls: bool = True
    acknowledge: bool = False
    failure_threshold: int = 3


def parse_instance(name: str, table: Mapping[str, Any]) -> ZabbixInstance:
    """Build an instance from its config table, naming the offending key on any error."""
    where = f"zabbix.instances.{name}"
    check_instance(where, name, table, _KEYS)
    api_url = text(table, "api_url", where)
    if not api_url.startswith(("http://", "https://")):
        raise ValueError(f"{where}.api_url: must be an http(s) URL")
    return ZabbixInstance(
        name=name,
        api_url=api_url,
        api_token=secret(table, "api_token", where),
        timezone=_zone(text(table, "timezone", where), where),
        webhook_secret=secret(table, "webhook_secret", where),
        poll_interval_seconds=positive_int(table, "poll_interval_seconds", 60, where),
        api_timeout_seconds=positive_int(table, "api_timeout_seconds", 10, where),
        verify_tls=flag(table, "verify_tls", True, where),
        acknowledge=flag(table, "acknowledge", False, where),
        failure_threshold=positive_int(table, "failure_threshold", 3, where),
    )


def parse_instances(tables: Mapping[str, Any]) -> dict[str, ZabbixInstance]:
    """Parse the whole ``[zabbix.instances]`` table: one sub-table per instance."""
    return parse_instance_tables("zabbix", tables, parse_instance)


def _zone(value: str, where: str) -> ZoneInfo:
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{where}.timezone: unknown time zone {value!r}") from exc
