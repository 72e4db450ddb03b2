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

import difflib
import inspect
import os
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from daemon.notify.config import NotifyConfig, parse_notify_config
from daemon.sources.registry import config_sections
from sla_engine.calendar import BusinessCalendar
from sla_engine.charges import SEED_PRICES, PriceList, price_list_from_config
from sla_engine.faults import FaultExclusion
from sla_engine.policy import DEFAULT_PLANS, PlanPolicy, apply_overrides

ENV_PREFIX = "SLAD_"
CORE_SECTIONS = frozenset(
    {
        *("server", "database", "log", "ingest", "calendar", "plans", "scheduler", "notify"),
        *("sla", "prices", "console"),
    }
)
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_URL_FORMS = (
    "write sqlite:///path/to/slad.db (a relative path is relative to the folder slad runs"
    " in; four slashes for an absolute one) or"
    " postgresql+psycopg://user:password@host:5432/database"
)


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
    correlation_pass_ms: int = 100
    wait_timeout_seconds: int = 30
    max_clock_skew_seconds: int = 300
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


CONSOLE_LANGUAGES = ("ja", "en")


@dataclass(frozen=True)
class ConsoleConfig:
    """The operator's console at `/console`; see `[console]` in config.example.toml.

    `idle_minutes`: a session unused that long ends (the board's own polling does not
    count as use). `secure_cookie`: mark the session cookie Secure even when slad itself
    is reached over plain HTTP (behind a TLS-terminating proxy); over https it always is.
    """

    language: str = "ja"
    idle_minutes: int = 720
    secure_cookie: bool = False
    poll_seconds: int = 10


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
    console: ConsoleConfig = field(default_factory=ConsoleConfig)
    sections: Mapping[str, Any] = field(default_factory=dict)
    source: str = "<defaults>"


_MAY_BE_ZERO = frozenset({"past_tolerance_seconds", "wait_timeout_seconds"})
_CALENDAR_KEYS = frozenset(inspect.signature(BusinessCalendar.from_config).parameters)


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


def _refuse_unknown_sections(
    raw: Mapping[str, Any], known: Collection[str], environ: Mapping[str, str]
) -> None:
    """Refuse a top-level table no part of slad reads: a misspelt `[sever]` would
    otherwise pass as valid and be ignored."""
    for name in sorted(set(raw) - set(known)):
        close = difflib.get_close_matches(name, sorted(known), n=1)
        hint = f"; did you mean [{close[0]}]?" if close else ""
        prefix = f"{ENV_PREFIX}{name.upper()}__"
        origin = next((f" (from {v})" for v in sorted(environ) if v.startswith(prefix)), "")
        raise ConfigError(
            f"unknown section [{name}]{origin}{hint} Known sections: {', '.join(sorted(known))}"
        )


def check_database_url(url: str) -> None:
    """Refuse a URL slad cannot store into, saying what to write instead (the password,
    if any, masked)."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"[database] url {url!r} is not a database URL; {_URL_FORMS}") from exc
    shown = parsed.render_as_string(hide_password=True)
    backend, _, driver = parsed.drivername.partition("+")
    if backend == "sqlite" and driver in ("", "pysqlite"):
        return
    if backend == "postgresql" and driver in ("", "psycopg"):
        return
    if backend in ("postgresql", "postgres"):
        fixed = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=True)
        raise ConfigError(
            f"[database] url {shown!r}: slad talks to PostgreSQL through psycopg 3; write {fixed!r}"
        )
    raise ConfigError(
        f"[database] url {shown!r}: slad stores its data in SQLite or PostgreSQL only; {_URL_FORMS}"
    )


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
        least = 0 if key in _MAY_BE_ZERO else 1
        if expected is int and value < least:
            raise ConfigError(f"[{name}] {key} must be at least {least}, got {value}")
        if expected is str and not value.strip():
            raise ConfigError(f"[{name}] {key} must not be empty")
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
    _refuse_unknown_sections(raw, CORE_SECTIONS | config_sections(), environ)
    _resolve_url_file(_section(raw, "database"), base)

    server = _build(ServerConfig, _section(raw, "server"), "server")
    if not 0 < server.port < 65536:
        raise ConfigError(f"[server] port must be 1-65535, got {server.port}")
    database = _build(DatabaseConfig, _section(raw, "database"), "database")
    check_database_url(database.url)
    log = _build(LogConfig, _section(raw, "log"), "log")
    if log.format not in ("json", "text"):
        raise ConfigError(f"[log] format must be 'json' or 'text', got {log.format!r}")
    if log.level.upper() not in LOG_LEVELS:
        raise ConfigError(f"[log] level must be one of {', '.join(LOG_LEVELS)}, got {log.level!r}")
    ingest = _build(IngestConfig, _section(raw, "ingest"), "ingest")
    if not 1 <= ingest.max_batch_events <= 10_000:
        raise ConfigError("[ingest] max_batch_events must be 1-10000")
    if ingest.max_clock_skew_seconds < 0:
        raise ConfigError("[ingest] max_clock_skew_seconds must be 0 or more")
    if ingest.correlator not in ("process", "thread"):
        raise ConfigError(
            f"[ingest] correlator must be 'process' or 'thread', got {ingest.correlator!r}"
        )
    calendar_raw = _section(raw, "calendar")
    unknown = sorted(set(calendar_raw) - _CALENDAR_KEYS)
    if unknown:
        raise ConfigError(f"[calendar] unknown key(s): {', '.join(unknown)}")
    try:
        calendar = BusinessCalendar.from_config(**calendar_raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"[calendar] {exc}") from exc
    try:
        plans = apply_overrides(DEFAULT_PLANS, _section(raw, "plans"))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"[plans] {exc}") from exc
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
    console = _build(ConsoleConfig, _section(raw, "console"), "console")
    if console.language not in CONSOLE_LANGUAGES:
        raise ConfigError(f"[console] language must be 'ja' or 'en', got {console.language!r}")
    sections = {k: v for k, v in raw.items() if k not in CORE_SECTIONS}
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
        console=console,
        sections=sections,
        source=source,
    )
