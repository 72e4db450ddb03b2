"""`slad`: the one command-line entry point (run, migrate, check-config, token, incidents,
sources, source setup|check, charges, report)."""

from __future__ import annotations

import argparse
import gc
import getpass
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from daemon.config import Config, ConfigError, load_config
from daemon.store.db import (
    current_revision,
    describe,
    head_revision,
    make_engine,
    schema_is_current,
    session_factory,
    sqlite_path,
    upgrade,
)

EXIT_CONFIG = 2
EXIT_SCHEMA = 3
EXIT_DATABASE = 4
EXIT_RUNNING = 5
EXIT_SETUP = 6
EXIT_PIPE = 141
"""As a shell reports a command ended by SIGPIPE."""


class Refused(Exception):
    """A command cannot go on; `main` prints the message and exits with `code`."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def _load(args: argparse.Namespace) -> Config:
    return load_config(args.config)


def open_store(config: Config) -> Engine:
    """The configured database, which must exist and carry this slad's schema.

    A missing SQLite file is not created here (only `slad migrate` does that): run from
    another folder, a relative path would otherwise make an empty database and hide the
    real one. Every refusal names the database.
    """
    url = config.database.url
    path = sqlite_path(url)
    if path is not None and not path.exists():
        raise Refused(
            EXIT_SCHEMA,
            f"there is no database at {path} ([database] url = {url!r}, relative to the"
            f" folder slad runs in: {Path.cwd()}); run `slad migrate` to create it, or point"
            " --config or SLAD_DATABASE__URL at the existing one",
        )
    engine = make_engine(url, echo=config.database.echo)
    if not schema_is_current(engine):
        raise Refused(
            EXIT_SCHEMA,
            f"the schema of {describe(url)} is at {current_revision(engine) or 'empty'},"
            f" this slad needs {head_revision()}; run `slad migrate` first",
        )
    return engine


def _source_settings(config: Config) -> dict[str, list[str]]:
    """Every registered source's configured instance names (validating their tables)."""
    from daemon.sources.registry import CONNECTORS

    instances = {}
    for connector in (factory() for factory in CONNECTORS):
        try:
            settings = connector.parse_config(config.sections.get(connector.name))
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
        instances[connector.name] = list(settings.instances)
    return instances


def cmd_check_config(args: argparse.Namespace) -> int:
    config = _load(args)
    sources = _source_settings(config)
    check_notify(config)
    plans = ", ".join(
        f"{p.key}({'+'.join(c.name for c in p.clocks if c.enabled)})" for p in config.plans.values()
    )
    print(f"config OK: {config.source}")
    print(f"  listen    {config.server.host}:{config.server.port}")
    print(f"  database  {describe(config.database.url)}")
    cal = config.calendar
    print(f"  calendar  {cal.timezone} {cal.opening}-{cal.closing}")
    print(f"  plans     {plans}")
    for name, instances in sources.items():
        print(f"  {name:<9} {', '.join(instances) or '-'}")
    print(f"  notify    {', '.join(config.notify.channels) or '-'}")
    for warning in config_warnings(config):
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def check_notify(config: Config) -> None:
    """Build what `run` builds from `[notify]` (templates, channels), so a value that
    would stop the daemon stops `check-config` instead."""
    from daemon.notify.channels import build_channels
    from daemon.notify.templates import TemplateSet

    try:
        TemplateSet.load(config.notify.templates_dir)
        build_channels(config.notify, lambda: datetime.now(UTC))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"[notify] {exc}") from exc


def config_warnings(config: Config) -> list[str]:
    """What a valid configuration still gets wrong for an on-call team."""
    from daemon.notify.config import channels_for
    from daemon.notify.events import NotifyEvent

    unheard = [
        plan
        for plan in config.plans
        if not channels_for(config.notify.routes, NotifyEvent.SLA_BREACHED, plan, None)
    ]
    if not unheard:
        return []
    return [
        f"no notification channel receives sla_breached for plan(s) {', '.join(unheard)}:"
        " an SLA breach would only be logged; route it in [notify.routes.default]"
    ]


def cmd_migrate(args: argparse.Namespace) -> int:
    config = _load(args)
    engine = make_engine(config.database.url)
    before = current_revision(engine)
    upgrade(engine)
    after = current_revision(engine)
    was = "" if before == after else f" (was {before or 'empty'})"
    print(f"{describe(config.database.url)}: schema at {after}{was}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    import uvicorn

    from daemon.app import create_app
    from daemon.leader import AlreadyRunning
    from daemon.logs import configure
    from daemon.services import build_services

    config = _load(args)
    configure(config.log.format, config.log.level)
    services = build_services(config, engine=open_store(config))
    try:
        services.runtime.leadership.claim()
    except AlreadyRunning as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_RUNNING
    app = create_app(services)
    # Everything built so far lives as long as the process: moved out of the collector's
    # view, a full collection under load costs milliseconds instead of a latency spike.
    gc.freeze()
    uvicorn.run(
        app, host=config.server.host, port=config.server.port, log_config=None, access_log=False
    )
    return 0


def _actor() -> str:
    """Who the audit log names for a command-line change: the operating-system user."""
    return f"cli:{getpass.getuser()}"


def _expiry(args: argparse.Namespace, now: datetime) -> datetime | None:
    if args.expires_in_days is not None:
        return now + timedelta(days=args.expires_in_days)
    if args.expires_at is None:
        return None
    try:
        instant = datetime.fromisoformat(args.expires_at)
    except ValueError as exc:
        raise Refused(EXIT_CONFIG, f"--expires-at: not an RFC 3339 instant: {exc}") from exc
    if instant.tzinfo is None:
        raise Refused(EXIT_CONFIG, "--expires-at needs an offset, e.g. 2027-04-01T00:00:00+09:00")
    return instant.astimezone(UTC)


def cmd_token_create(args: argparse.Namespace) -> int:
    from daemon.auth import issue_token, token_audit

    engine = open_store(_load(args))
    now = datetime.now(UTC)
    expires = _expiry(args, now)
    try:
        with session_factory(engine).begin() as session:
            row, token = issue_token(session, args.name, args.role, now, expires)
            token_audit(session, row, "token.create", _actor(), now, None)
            token_id = row.id
    except ValueError as exc:
        raise Refused(EXIT_CONFIG, str(exc)) from exc
    print(token)
    until = f", valid until {expires:%Y-%m-%dT%H:%M:%SZ}" if expires else ""
    print(
        f"# {args.role} token {args.name!r} (id {token_id}{until}): shown once, store it now",
        file=sys.stderr,
    )
    return 0


def cmd_token_list(args: argparse.Namespace) -> int:
    from daemon.auth import token_state
    from daemon.store.models import ApiToken

    engine = open_store(_load(args))
    now = datetime.now(UTC)
    with session_factory(engine)() as session:
        rows = list(session.scalars(select(ApiToken).order_by(ApiToken.id)))
        table = [
            {
                "id": r.id,
                "name": r.name,
                "role": r.role,
                "state": token_state(r, now),
                "created_at": _instant(r.created_at),
                "expires_at": _instant(r.expires_at),
                "revoked_at": _instant(r.revoked_at),
            }
            for r in rows
        ]
    if args.json:
        for row in table:
            print(json.dumps(row, ensure_ascii=False))
        return 0
    print(f"{'id':>5}  {'role':<8} {'state':<8} {'created':<20} {'expires':<20} name")
    for row in table:
        print(
            f"{row['id']:>5}  {row['role']:<8} {row['state']:<8} {row['created_at']:<20}"
            f" {row['expires_at'] or '-':<20} {row['name']}"
        )
    return 0


def _instant(value: datetime | None) -> str | None:
    return None if value is None else f"{value.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"


def cmd_token_revoke(args: argparse.Namespace) -> int:
    from daemon.auth import revoke_token, token_audit

    engine = open_store(_load(args))
    now = datetime.now(UTC)
    try:
        with session_factory(engine).begin() as session:
            row = revoke_token(session, args.id, now)
            token_audit(session, row, "token.revoke", _actor(), now, args.reason)
            name = row.name
    except (LookupError, ValueError) as exc:
        raise Refused(EXIT_CONFIG, str(exc.args[0])) from exc
    print(f"revoked token {args.id} ({name}); running daemons refuse it within 10 seconds")
    return 0


def _incident_command(args: argparse.Namespace, show: Callable[..., None]) -> int:
    """Open the store read-only and print what `show` renders at the current instant."""
    config = _load(args)
    engine = open_store(config)
    zone = config.calendar.timezone
    with session_factory(engine)() as session:
        show(session, datetime.now(UTC), zone)
    return 0


def cmd_incidents_list(args: argparse.Namespace) -> int:
    from daemon.incident_tables import list_incidents, print_list

    return _incident_command(
        args,
        lambda session, now, zone: print_list(
            list_incidents(session, args.status, args.limit), now, zone, args.json, sys.stdout
        ),
    )


def cmd_incidents_due(args: argparse.Namespace) -> int:
    from daemon.incident_tables import due_rows, print_due

    return _incident_command(
        args,
        lambda session, now, zone: print_due(
            due_rows(session, now), now, zone, args.json, sys.stdout
        ),
    )


def cmd_sources(args: argparse.Namespace) -> int:
    """Each source instance's watermark, last poll, last webhooks and open fault."""
    from daemon.sources.registry import CONNECTORS
    from daemon.sources.status import source_status
    from daemon.store.db import session_factory

    config = _load(args)
    configured = []
    for connector in (factory() for factory in CONNECTORS):
        settings = connector.parse_config(config.sections.get(connector.name))
        configured += [
            (connector.name, i.name, connector.polls(i)) for i in settings.instances.values()
        ]
    engine = open_store(config)
    with session_factory(engine)() as session:
        entries = source_status(session, configured)
    for entry in entries:
        if args.json:
            print(json.dumps(entry, default=_iso, ensure_ascii=False))
            continue
        print(_source_line(entry))
    if not entries:
        print("no source instances are configured", file=sys.stderr)
    return 0


def _connector_instance(config: Config, source: str, name: str) -> tuple[Any, Any]:
    """The registered connector `source` and its configured instance `name`."""
    from daemon.sources.registry import CONNECTORS

    connectors = {c.name: c for c in (factory() for factory in CONNECTORS)}
    connector = connectors.get(source)
    if connector is None:
        raise ConfigError(f"no source {source!r}; slad knows {', '.join(sorted(connectors))}")
    try:
        instances = connector.parse_config(config.sections.get(source)).instances
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    if name not in instances:
        raise ConfigError(f"no {source} instance {name!r} in [{source}.instances]")
    return connector, instances[name]


def _slad_url(config: Config, given: str | None) -> str:
    return (given or f"http://{config.server.host}:{config.server.port}").rstrip("/")


def cmd_source_setup(args: argparse.Namespace) -> int:
    """Configure the source side of an instance through its API (idempotent)."""
    from connectors.source import SourceUnreachable

    config = _load(args)
    connector, instance = _connector_instance(config, args.source, args.instance)
    url = f"{_slad_url(config, args.slad_url)}/v1/webhooks/{args.source}/{args.instance}"
    options = {
        "url": url,
        "slad_url": (args.slad_url or "").rstrip("/"),
        "user": args.user or "",
        "host_groups": ",".join(args.host_group),
        "fix": "1" if args.fix else "",
        "alarm_prefix": args.alarm_prefix or "",
    }
    try:
        steps = connector.setup(instance, options)
    except (NotImplementedError, ValueError, SourceUnreachable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_SETUP
    for step in steps:
        print(f"ok  {step}")
    return 0


def cmd_source_check(args: argparse.Namespace) -> int:
    """Prove the path end to end: the source's side, then a signed test webhook."""
    import httpx

    from connectors.source import CheckStep, SourceUnreachable

    config = _load(args)
    connector, instance = _connector_instance(config, args.source, args.instance)
    try:
        steps = connector.check(instance)
    except (NotImplementedError, SourceUnreachable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_SETUP
    test = connector.signed_test(instance)
    if test is not None:
        url = f"{_slad_url(config, args.slad_url)}/v1/webhooks/{args.source}/{args.instance}"
        url += f"/{test.subpath}" if test.subpath else ""
        try:
            answer = httpx.post(
                url,
                content=test.body,
                headers=dict(test.headers),
                params=dict(test.query),
                timeout=30,
            )
            control = answer.status_code == 200 and "note" in answer.json()
            detail = f"{url}: HTTP {answer.status_code} {answer.text[:200]}"
        except (httpx.HTTPError, ValueError) as exc:
            control, detail = False, f"{url}: {exc}"
        steps.append(CheckStep("signed test webhook accepted, nothing stored", control, detail))
    steps = _awaited(config, args.source, args.instance, steps)
    for step in steps:
        detail = f": {step.detail}" if step.detail else ""
        print(f"{'ok  ' if step.ok else 'FAIL'} {step.name}{detail}")
    return 0 if all(step.ok for step in steps) else EXIT_SETUP


AWAIT_SECONDS = 30.0


def _awaited(config: Config, source: str, instance: str, steps: list[Any]) -> list[Any]:
    """Each step that `awaits` a note holds once the instance's last accepted webhook
    shows it (read from the store, for up to `AWAIT_SECONDS`)."""
    import dataclasses
    import time

    from daemon.store.models import SourceInstanceState

    pending = [s for s in steps if s.ok and s.awaits]
    if not pending:
        return steps
    sessions = session_factory(open_store(config))
    seen: set[str] = set()
    deadline = time.monotonic() + AWAIT_SECONDS
    while True:
        with sessions() as session:
            state = session.get(SourceInstanceState, (source, instance))
            note = state.last_accepted_note if state is not None else None
            if note is not None and note in {s.awaits for s in pending}:
                seen.add(note)
        if all(s.awaits in seen for s in pending) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    return [
        dataclasses.replace(s, ok=False, detail=f"{s.detail}; slad did not show {s.awaits!r}")
        if s in pending and s.awaits not in seen
        else s
        for s in steps
    ]


def _iso(value: object) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _source_line(entry: dict[str, Any]) -> str:
    def when(part: dict[str, Any] | None, *keys: str) -> str:
        if part is None:
            return "-"
        return " ".join(str(_iso(part[k])) for k in keys if part.get(k) is not None)

    poll = entry["last_poll"]
    polled = "-" if poll is None else ("ok " if poll["ok"] else "FAILED ") + when(poll, "at")
    if poll is not None and not poll["ok"]:
        polled += f" ({poll['error']})"
    fault = entry["open_fault"]
    faulty = "-" if fault is None else f"since {_iso(fault['start'])} (window {fault['window_id']})"
    lines = [
        f"{entry['source']}:{entry['instance']}"
        + ("" if entry["configured"] else "  (webhooks for unconfigured instances)"),
        f"  watermark      {_iso(entry['watermark']) if entry['watermark'] else '-'}",
        f"  last poll      {polled}",
        f"  last accepted  {when(entry['last_accepted'], 'at', 'note')}",
        f"  last rejected  {when(entry['last_rejected'], 'at', 'reason', 'detail')}",
        f"  open fault     {faulty}",
    ]
    lines += [f"  finding        {finding}" for finding in entry.get("findings") or ()]
    return "\n".join(lines)


def cmd_charges(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from daemon.charges import ChargesRefused, statement
    from daemon.charges_output import render
    from daemon.store.db import session_factory
    from daemon.store.models import Customer
    from sla_engine.charges import BillingMonth

    config = _load(args)
    engine = open_store(config)
    try:
        month = BillingMonth.parse(args.month)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    with session_factory(engine)() as session:
        customer = None
        if args.customer is not None:
            customer = session.scalar(
                select(Customer.id).where(
                    Customer.id == int(args.customer)
                    if args.customer.isdigit()
                    else Customer.name == args.customer
                )
            )
            if customer is None:
                print(f"error: no customer {args.customer!r}", file=sys.stderr)
                return EXIT_CONFIG
        try:
            found = statement(session, month, config.prices, config.calendar, customer)
        except ChargesRefused as exc:
            print(f"error: {exc.detail}", file=sys.stderr)
            return EXIT_CONFIG
    print(render(found, args.format), end="")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """One customer's monthly SLA report, as `GET /v1/reports/sla/customers/{id}` gives it."""
    from daemon.customer_report.build import build_report
    from daemon.customer_report.render import render
    from daemon.store.models import Customer

    if args.format == "pdf" and args.output is None and sys.stdout.isatty():
        raise Refused(
            EXIT_CONFIG, "a PDF is not for the terminal: give --output FILE or redirect stdout"
        )
    config = _load(args)
    engine = open_store(config)
    horizon = timedelta(days=config.ingest.window_horizon_days)
    with session_factory(engine)() as session:
        customer = session.scalar(
            select(Customer).where(
                Customer.id == int(args.customer)
                if args.customer.isdigit()
                else Customer.name == args.customer
            )
        )
        if customer is None:
            raise Refused(EXIT_CONFIG, f"no customer with the id or name {args.customer!r}")
        try:
            report = build_report(
                session, customer, args.month, config.calendar, datetime.now(UTC), horizon
            )
        except ValueError as exc:
            raise Refused(EXIT_CONFIG, str(exc)) from exc
    body = render(report, args.format)
    if args.output is None:
        sys.stdout.buffer.write(body)
    else:
        Path(args.output).write_bytes(body)
        print(f"wrote {args.output} ({len(body)} bytes)", file=sys.stderr)
    return 0


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not positive")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="slad", description="Alert-to-incident SLA daemon")
    p.add_argument(
        "--config",
        "-c",
        default=os.environ.get("SLAD_CONFIG"),
        help="TOML config file (default: $SLAD_CONFIG, else built-in defaults)",
    )
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="serve the API and run the daemon").set_defaults(func=cmd_run)
    sub.add_parser("migrate", help="create or upgrade the database schema").set_defaults(
        func=cmd_migrate
    )
    sub.add_parser(
        "check-config", help="validate the configuration and print a summary"
    ).set_defaults(func=cmd_check_config)
    token = sub.add_parser("token", help="API tokens").add_subparsers(
        dest="token_cmd", required=True
    )
    create = token.add_parser("create", help="create a token and print it once")
    create.add_argument("--role", required=True, choices=["viewer", "operator", "admin", "ingest"])
    create.add_argument("--name", required=True)
    expiry = create.add_mutually_exclusive_group()
    expiry.add_argument("--expires-at", help="refused from this RFC 3339 instant on")
    expiry.add_argument(
        "--expires-in-days", type=_positive, help="refused this many days from now on"
    )
    create.set_defaults(func=cmd_token_create)
    listing = token.add_parser("list", help="list tokens (never their secrets)")
    listing.add_argument("--json", action="store_true", help="one JSON object a line")
    listing.set_defaults(func=cmd_token_list)
    revoke = token.add_parser("revoke", help="revoke a token for good")
    revoke.add_argument("id", type=_positive, help="the token's id (see `token list`)")
    revoke.add_argument("--reason", help="why, for the audit log")
    revoke.set_defaults(func=cmd_token_revoke)
    incidents = sub.add_parser("incidents", help="incidents").add_subparsers(
        dest="incidents_cmd", required=True
    )
    lst = incidents.add_parser("list", help="list recent incidents")
    lst.add_argument("--status", choices=["open", "resolved"])
    lst.add_argument("--limit", type=int, default=20)
    lst.add_argument("--json", action="store_true", help="one JSON object a line")
    lst.set_defaults(func=cmd_incidents_list)
    due = incidents.add_parser(
        "due", help="owed clocks (contact or report not yet recorded), soonest due first"
    )
    due.add_argument("--json", action="store_true", help="one JSON object a line")
    due.set_defaults(func=cmd_incidents_due)
    sources = sub.add_parser("sources", help="each source instance's polls, webhooks and faults")
    sources.add_argument("--json", action="store_true", help="one JSON object a line")
    sources.set_defaults(func=cmd_sources)
    charges = sub.add_parser("charges", help="a month's charges, line by line")
    charges.add_argument("month", help="YYYY-MM")
    charges.add_argument("--customer", help="customer id or exact name")
    charges.add_argument("--format", choices=["text", "csv", "json"], default="text")
    charges.set_defaults(func=cmd_charges)
    report = sub.add_parser("report", help="one customer's monthly SLA report")
    report.add_argument("customer", help="customer id or exact name")
    report.add_argument("month", help="YYYY-MM, in the calendar's zone")
    report.add_argument("--format", choices=["json", "csv", "html", "pdf"], default="json")
    report.add_argument(
        "--output", "-o", help="write to FILE (needed for pdf unless stdout is redirected)"
    )
    report.set_defaults(func=cmd_report)
    source = sub.add_parser("source", help="set up or check a source instance").add_subparsers(
        dest="source_cmd", required=True
    )
    setup = source.add_parser("setup", help="configure the source side through its API")
    check = source.add_parser("check", help="prove the path from the source to slad")
    for command in (setup, check):
        command.add_argument("source", help="e.g. zabbix")
        command.add_argument("instance", help="the instance name in the config")
        command.add_argument(
            "--slad-url", help="slad as the source reaches it (default: server.host:port)"
        )
    setup.add_argument("--user", help="Zabbix: the user that gets the slad media")
    setup.add_argument(
        "--host-group", action="append", default=[], help="Zabbix: limit the action (repeat)"
    )
    setup.add_argument(
        "--fix", action="store_true", help="AWS: add the topic to alarms' ALARM and OK actions"
    )
    setup.add_argument("--alarm-prefix", help="AWS: only alarms whose names start with this")
    setup.set_defaults(func=cmd_source_setup)
    check.set_defaults(func=cmd_source_check)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        code: int = args.func(args)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`slad incidents due | head`): what it wanted was printed.
        # Point stdout at /dev/null so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_PIPE
    except Refused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except SQLAlchemyError as exc:
        where = describe(load_config(args.config).database.url)
        cause = exc.args[0] if exc.args else ""
        print(f"database error on {where}: {exc.__class__.__name__}: {cause}", file=sys.stderr)
        return EXIT_DATABASE
    return code


if __name__ == "__main__":
    sys.exit(main())
