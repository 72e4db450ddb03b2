"""Configuration: one TOML file, overridable by `SLAD_*` environment variables.

Every key is documented in `config.example.toml`. Without a file slad runs on the same
embedded defaults (SQLite in the working directory, listening on loopback), so the
first start needs nothing but the package.

Environment overrides name the key path joined by a double underscore, e.g.
``SLAD_DATABASE__URL=postgresql+psycopg://...`` or ``SLAD_SERVER__PORT=9000``; values
are read as TOML scalars when they parse as one (numbers, booleans), else as strings.
Secrets need not sit in the file: ``[database] url_file`` names a file holding the URL,
and the notification and source sections accept ``<key>_file`` for their secrets.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from daemon.notify.config import NotifyConfig, parse_notify_config
from sla_engine.calendar import BusinessCalendar
from sla_engine.charges import SEED_PRICES, PriceList, price_list_from_config
from sla_engine.faults import FaultExclusion
from sla_engine.policy import DEFAULT_PLANS, PlanPolicy, apply_overrides

ENV_PREFIX = "SLAD_"


class ConfigError(ValueError):
    """A configuration value is missing, malformed or contradictory."""


@dataclass(frozen=True)
class ServerConfig:
    """Where the HTTP API listens and how much it accepts."""

    host: str = "127.0.0.1"
    port: int = 8080
    max_body_bytes: int = 1_048_576
    past_tolerance_seconds: int = 60


@dataclass(frozen=True)
class DatabaseConfig:
    """The store: SQLite by default, PostgreSQL in production."""

    url: str = "sqlite:///./slad.db"
    echo: bool = False


@dataclass(frozen=True)
class LogConfig:
    """`json` writes one object a line for log shippers; `text` is for a terminal."""

    format: str = "json"
    level: str = "INFO"


@dataclass(frozen=True)
class IngestConfig:
    """Limits and batching of the ingest path."""

    max_batch_events: int = 1000
    commit_batch_max: int = 500
    window_horizon_days: int = 31
    correlation_pass_ms: int = 5
    wait_timeout_seconds: int = 30
    correlator: str = "process"


@dataclass(frozen=True)
class SchedulerConfig:
    """Timings of the background work; see `[scheduler]` in config.example.toml."""

    cluster: str = "default"
    leader_retry_seconds: int = 5
    rearm_seconds: int = 15
    heartbeat_seconds: int = 10
    downtime_threshold_seconds: int = 60
    outbox_interval_seconds: int = 5


@dataclass(frozen=True)
class SlaConfig:
    """Contract readings that apply to every plan; see `[sla]` in config.example.toml."""

    fault_exclusion: FaultExclusion = FaultExclusion.HIDDEN


def _sla_config(raw: Mapping[str, Any]) -> SlaConfig:
    unknown = set(raw) - {"fault_exclusion"}
    if unknown:
        raise ConfigError(f"[sla] unknown key(s): {', '.join(sorted(unknown))}")
    value = raw.get("fault_exclusion", FaultExclusion.HIDDEN.value)
    try:
        return SlaConfig(fault_exclusion=FaultExclusion(value))
    except ValueError as exc:
        choices = " or ".join(repr(m.value) for m in FaultExclusion)
        raise ConfigError(f"[sla] fault_exclusion must be {choices}, got {value!r}") from exc


@dataclass(frozen=True)
class Config:
    """The whole daemon configuration, validated."""

    server: ServerConfig = field(default_factory=ServerConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    log: LogConfig = field(default_factory=LogConfig)
    ingest: IngestConfig = field(default_factory=IngestConfig)
    calendar: BusinessCalendar = field(default_factory=BusinessCalendar)
    plans: Mapping[str, PlanPolicy] = field(default_factory=lambda: dict(DEFAULT_PLANS))
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    notify: NotifyConfig = field(default_factory=lambda: parse_notify_config({}))
    sla: SlaConfig = field(default_factory=SlaConfig)
    prices: PriceList = SEED_PRICES
    sections: Mapping[str, Any] = field(default_factory=dict)
    source: str = "<defaults>"


def _parse_scalar(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _apply_env(raw: dict[str, Any], environ: Mapping[str, str]) -> None:
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        path = [part.lower() for part in name[len(ENV_PREFIX) :].split("__")]
        node = raw
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"environment variable {name} overrides a non-table key")
            node = child
        node[path[-1]] = _parse_scalar(value)


def _resolve_url_file(database: dict[str, Any], base: Path) -> None:
    value = database.pop("url_file", None)
    if value is None:
        return
    path = (base / str(value)).expanduser()
    try:
        database["url"] = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"[database] url_file: cannot read {path}: {exc.strerror}") from exc


def _section(raw: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = raw.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"[{name}] must be a table")
    return value


def _build(cls: type[Any], raw: Mapping[str, Any], name: str) -> Any:
    known = set(cls.__dataclass_fields__)
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(f"[{name}] unknown key(s): {', '.join(sorted(unknown))}")
    try:
        obj = cls(**raw)
    except TypeError as exc:
        raise ConfigError(f"[{name}] {exc}") from exc
    defaults = cls()
    for key in cls.__dataclass_fields__:
        expected = type(getattr(defaults, key))
        value = getattr(obj, key)
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise ConfigError(f"[{name}] {key} must be {expected.__name__}, got {value!r}")
    return obj


def load_config(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Read, merge and validate the configuration; raises ConfigError naming the bad key."""
    environ = os.environ if environ is None else environ
    raw: dict[str, Any] = {}
    base = Path.cwd()
    source = "<defaults>"
    if path is not None:
        file = Path(path)
        try:
            raw = tomllib.loads(file.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read config file {file}: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{file}: invalid TOML: {exc}") from exc
        base = file.resolve().parent
        source = str(file)
    _apply_env(raw, environ)
    _resolve_url_file(_section(raw, "database"), base)

    server = _build(ServerConfig, _section(raw, "server"), "server")
    if not 0 < server.port < 65536:
        raise ConfigError(f"[server] port must be 1-65535, got {server.port}")
    database = _build(DatabaseConfig, _section(raw, "database"), "database")
    log = _build(LogConfig, _section(raw, "log"), "log")
    if log.format not in ("json", "text"):
        raise ConfigError(f"[log] format must be 'json' or 'text', got {log.format!r}")
    ingest = _build(IngestConfig, _section(raw, "ingest"), "ingest")
    if not 1 <= ingest.max_batch_events <= 10_000:
        raise ConfigError("[ingest] max_batch_events must be 1-10000")
    if ingest.correlator not in ("process", "thread"):
        raise ConfigError(
            f"[ingest] correlator must be 'process' or 'thread', got {ingest.correlator!r}"
        )
    try:
        calendar = BusinessCalendar.from_config(**_section(raw, "calendar"))
        plans = apply_overrides(DEFAULT_PLANS, _section(raw, "plans"))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"[calendar]/[plans]: {exc}") from exc
    scheduler = _build(SchedulerConfig, _section(raw, "scheduler"), "scheduler")
    try:
        notify = parse_notify_config(_section(raw, "notify"), base_dir=base)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    try:
        prices = price_list_from_config(_section(raw, "prices"), SEED_PRICES)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    sla = _sla_config(_section(raw, "sla"))
    core = {
        *("server", "database", "log", "ingest", "calendar", "plans", "scheduler", "notify"),
        "sla",
        "prices",
    }
    sections = {k: v for k, v in raw.items() if k not in core}
    return Config(
        server=server,
        database=database,
        log=log,
        ingest=ingest,
        calendar=calendar,
        plans=plans,
        scheduler=scheduler,
        notify=notify,
        sla=sla,
        prices=prices,
        sections=sections,
        source=source,
    )
