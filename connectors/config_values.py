"""Readers for a source's TOML table, shared by every connector's config parser.

Every source reads the same shapes (``[<source>]`` with ``lookback_seconds`` and
``[<source>.instances.<name>]`` tables of flags, counts, strings and secrets), and every
error must name the key's full path the same way, so an operator reading
``check-config`` output can find the line whichever source it concerns.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from connectors.source import SourceInstance, SourceSettings

INSTANCE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
DEFAULT_LOOKBACK_SECONDS = 86400
_SECTION_KEYS = frozenset({"instances", "lookback_seconds"})

T = TypeVar("T")
InstanceT = TypeVar("InstanceT", bound=SourceInstance)


def parse_section(
    source: str,
    section: Mapping[str, Any] | None,
    parse_instance: Callable[[str, Mapping[str, Any]], InstanceT],
) -> SourceSettings[InstanceT]:
    """The whole ``[<source>]`` table; an absent table means the source is not used."""
    if section is None:
        return SourceSettings(instances={})
    check_keys(section, _SECTION_KEYS, source)
    lookback = positive_int(section, "lookback_seconds", DEFAULT_LOOKBACK_SECONDS, source)
    tables = section.get("instances", {})
    if not isinstance(tables, Mapping):
        raise ValueError(f"{source}.instances: must be a table")
    instances = parse_instance_tables(source, tables, parse_instance)
    return SourceSettings(instances, timedelta(seconds=lookback))


def parse_instance_tables(
    source: str,
    tables: Mapping[str, Any],
    parse_instance: Callable[[str, Mapping[str, Any]], InstanceT],
) -> dict[str, InstanceT]:
    """``[<source>.instances]``: one sub-table per instance, each parsed by the source."""
    instances: dict[str, InstanceT] = {}
    for name, table in tables.items():
        if not isinstance(table, Mapping):
            raise ValueError(f"{source}.instances.{name}: must be a table")
        instances[name] = parse_instance(name, table)
    return instances


def check_instance(where: str, name: str, table: Mapping[str, Any], keys: Collection[str]) -> None:
    """An instance name that is safe in URLs and keys, and no key the source does not read."""
    if not INSTANCE_NAME.match(name):
        raise ValueError(f"{where}: instance name must match {INSTANCE_NAME.pattern}")
    check_keys(table, keys, where)


def check_keys(table: Mapping[str, Any], keys: Collection[str], where: str) -> None:
    """Refuse a misspelt key rather than ignore it."""
    unknown = sorted(set(table) - set(keys))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)}")


def positive_int(table: Mapping[str, Any], key: str, default: int, where: str) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{where}.{key}: must be a positive integer")
    return value


def flag(table: Mapping[str, Any], key: str, default: bool, where: str) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise ValueError(f"{where}.{key}: must be true or false")
    return value


def text(table: Mapping[str, Any], key: str, where: str) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where}.{key}: required, a non-empty string")
    return value.strip()


def strings(table: Mapping[str, Any], key: str, where: str) -> list[str]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError(f"{where}.{key}: must be a list of non-empty strings")
    return [v.strip() for v in value]


def choice(
    table: Mapping[str, Any], key: str, choices: Mapping[str, T], default: str, where: str
) -> T:
    value = table.get(key, default)
    if value not in choices:
        raise ValueError(f"{where}.{key}: must be one of {', '.join(sorted(choices))}")
    return choices[value]


def secret(table: Mapping[str, Any], key: str, where: str) -> str:
    """A secret given inline or, to keep it out of the config file, as `<key>_file`."""
    file_key = f"{key}_file"
    if key in table and file_key in table:
        raise ValueError(f"{where}: give {key} or {file_key}, not both")
    if file_key not in table:
        return text(table, key, where)
    path = Path(text(table, file_key, where))
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ValueError(f"{where}.{file_key}: cannot read {path}: {exc.strerror}") from exc
    if not value:
        raise ValueError(f"{where}.{file_key}: {path} is empty")
    return value
