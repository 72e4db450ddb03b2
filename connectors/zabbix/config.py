"""Settings of one Zabbix instance, read from a TOML table such as ``[zabbix.instances.main]``.

Each instance is a separate Zabbix server with its own API, time zone and webhook secret.
The time zone matters because Zabbix formats ``{EVENT.DATE}``/``{EVENT.TIME}`` in the
server's local time without a zone; slad only falls back to those when the API cannot
give the exact detection instant.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
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
    if not _NAME.match(name):
        raise ValueError(f"{where}: instance name must match {_NAME.pattern}")
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)}")
    api_url = _text(table, "api_url", where)
    if not api_url.startswith(("http://", "https://")):
        raise ValueError(f"{where}.api_url: must be an http(s) URL")
    return ZabbixInstance(
        name=name,
        api_url=api_url,
        api_token=_secret(table, "api_token", where),
        timezone=_zone(_text(table, "timezone", where), where),
        webhook_secret=_secret(table, "webhook_secret", where),
        poll_interval_seconds=_positive_int(table, "poll_interval_seconds", 60, where),
        api_timeout_seconds=_positive_int(table, "api_timeout_seconds", 10, where),
        verify_tls=_flag(table, "verify_tls", True, where),
        acknowledge=_flag(table, "acknowledge", False, where),
        failure_threshold=_positive_int(table, "failure_threshold", 3, where),
    )


def parse_instances(tables: Mapping[str, Any]) -> dict[str, ZabbixInstance]:
    """Parse the whole ``[zabbix.instances]`` table: one sub-table per instance."""
    instances: dict[str, ZabbixInstance] = {}
    for name, table in tables.items():
        if not isinstance(table, Mapping):
            raise ValueError(f"zabbix.instances.{name}: must be a table")
        instances[name] = parse_instance(name, table)
    return instances


def _text(table: Mapping[str, Any], key: str, where: str) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where}.{key}: required, a non-empty string")
    return value.strip()


def _secret(table: Mapping[str, Any], key: str, where: str) -> str:
    """A secret given inline or, to keep it out of the config file, as `<key>_file`."""
    file_key = f"{key}_file"
    if key in table and file_key in table:
        raise ValueError(f"{where}: give {key} or {file_key}, not both")
    if file_key not in table:
        return _text(table, key, where)
    path = Path(_text(table, file_key, where))
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ValueError(f"{where}.{file_key}: cannot read {path}: {exc.strerror}") from exc
    if not value:
        raise ValueError(f"{where}.{file_key}: {path} is empty")
    return value


def _zone(value: str, where: str) -> ZoneInfo:
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{where}.timezone: unknown time zone {value!r}") from exc


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
