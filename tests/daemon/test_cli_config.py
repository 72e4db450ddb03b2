"""Configuration loading, the `slad` command line, and migrations matching the models."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, select

from daemon.auth import authenticate
from daemon.cli import EXIT_CONFIG, EXIT_DATABASE, EXIT_SCHEMA, main
from daemon.config import ConfigError, load_config
from daemon.store.db import WalCheckpointer, head_revision, make_engine, session_factory, upgrade
from daemon.store.models import AuditEntry, Base

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """`main` sets up logging as the daemon does, on the stderr pytest captures for the
    test; later tests must not log into that stream once pytest has closed it."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_example_config_is_the_embedded_default() -> None:
    from_file = load_config(EXAMPLE, environ={})
    defaults = load_config(None, environ={})
    assert from_file.server == defaults.server
    assert from_file.database == defaults.database
    assert from_file.calendar == defaults.calendar
    assert from_file.scheduler == defaults.scheduler
    assert dict(from_file.plans) == dict(defaults.plans)
    assert from_file.prices == defaults.prices


def test_environment_overrides_and_url_file(tmp_path: Path) -> None:
    (tmp_path / "db-url").write_text("sqlite:///elsewhere.db\n")
    (tmp_path / "slad.toml").write_text('[database]\nurl_file = "db-url"\n')
    config = load_config(
        tmp_path / "slad.toml",
        environ={
            "SLAD_SERVER__PORT": "9000",
            "SLAD_LOG__FORMAT": "text",
            "SLAD_PLANS__BASIC__AUTO_CONTACT": "false",
        },
    )
    assert config.server.port == 9000
    assert config.log.format == "text"
    assert config.database.url == "sqlite:///elsewhere.db"
    assert config.plans["basic"].auto_contact is False


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[server]\nprot = 1\n", "unknown key(s): prot"),
        ("[server]\nport = 70000\n", "port must be 1-65535"),
        ('[server]\nport = "80"\n', "port must be int"),
        ('[log]\nformat = "xml"\n', "format must be"),
        ('[calendar]\nopening = "9h30"\n', "opening"),
        ("[plans.platinum]\nauto_contact = true\n", "platinum"),
        ("[plans.basic.clocks.contact]\nslo_minutes = -5\n", "slo_minutes"),
        ('[notify.routes.default]\nwarning = ["nowhere"]\n', "nowhere"),
        ("[server\n", "invalid TOML"),
    ],
)
def test_bad_config_names_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(path, environ={})


def test_cli_check_config_and_bad_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(EXAMPLE), "check-config"]) == 0
    assert "config OK" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text("[server]\nport = 0\n")
    assert main(["--config", str(bad), "check-config"]) == EXIT_CONFIG
    assert "config error" in capsys.readouterr().err


def test_cli_run_refuses_outdated_schema_then_migrate_token_list(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "slad.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "slad.db"}"\n')
    assert main(["--config", str(config), "run"]) == EXIT_SCHEMA
    assert "run `slad migrate`" in capsys.readouterr().err
    assert main(["--config", str(config), "migrate"]) == 0
    assert f"schema at {head_revision()}" in capsys.readouterr().out
    assert (
        main(["--config", str(config), "token", "create", "--role", "viewer", "--name", "grafana"])
        == 0
    )
    token = capsys.readouterr().out.strip()
    assert token.startswith("slad_") and len(token) > 30
    assert main(["--config", str(config), "incidents", "list", "--json"]) == 0
    assert capsys.readouterr().out == ""


def test_migrations_create_exactly_the_models(database: tuple[str, Engine]) -> None:
    _url, engine = database
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_fresh_sqlite_file_in_a_new_folder(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'new' / 'dir' / 'slad.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0


def test_the_checkpointer_copies_the_wal_back_without_a_commit_doing_it(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'slad.db'}")
    upgrade(engine)
    with engine.begin() as conn:
        for n in range(200):
            conn.exec_driver_sql(
                "INSERT INTO customers (name, locale, created_at) VALUES (?, 'ja', ?)",
                (f"c{n}", "2026-11-24 00:00:00"),
            )
    frames, copied = WalCheckpointer(engine).checkpoint()
    assert frames > 0, "commits left the WAL to the checkpointer"
    assert copied == frames


def test_check_config_warns_when_no_channel_hears_sla_breaches(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(EXAMPLE), "check-config"]) == 0
    err = capsys.readouterr().err
    assert "no notification channel receives sla_breached" in err
    assert "basic, standard, full_managed" in err

    routed = tmp_path / "routed.toml"
    routed.write_text(
        '[notify.channels.ops]\ntype = "webhook"\nurl = "https://hooks.example/slad"\n'
        'secret = "s3cret-s3cret-s3cret"\n'
        '[notify.routes.default]\nsla_breached = ["ops"]\n'
        "[notify.routes.plans.basic]\nsla_breached = []\n"
    )
    assert main(["--config", str(routed), "check-config"]) == 0
    err = capsys.readouterr().err
    assert "for plan(s) basic:" in err, "a plan table that empties the route is named"

    routed.write_text(routed.read_text().replace("sla_breached = []", 'warning = ["ops"]'))
    assert main(["--config", str(routed), "check-config"]) == 0
    assert "sla_breached" not in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[sever]\nport = 8080\n", "unknown section [sever]; did you mean [server]?"),
        ("[zabix.instances.main]\napi_url = 'https://z'\n", "did you mean [zabbix]?"),
        ("[server]\n[ingest.nested]\nx = 1\n", "[ingest] unknown key(s): nested"),
        ('[calendar]\nopenning = "09:00"\n', "[calendar] unknown key(s): openning"),
        ('[log]\nlevel = "INFOO"\n', "[log] level must be one of DEBUG, INFO"),
        ("[scheduler]\nheartbeat_seconds = 0\n", "heartbeat_seconds must be at least 1"),
        (
            '[database]\nurl = "postgres://slad:hunter2@db/slad"\n',
            "write 'postgresql+psycopg://slad:***@db/slad'",
        ),
        ('[database]\nurl = "mysql://slad:hunter2@db/slad"\n', "SQLite or PostgreSQL only"),
        ('[database]\nurl = "slad.db"\n', "is not a database URL; write sqlite:///"),
    ],
)
def test_config_that_looks_valid_but_is_not_is_refused(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(message)) as refused:
        load_config(path, environ={})
    assert "hunter2" not in str(refused.value)


def test_a_misspelt_environment_section_names_its_variable() -> None:
    with pytest.raises(ConfigError, match=re.escape("[sever] (from SLAD_SEVER__PORT)")):
        load_config(None, environ={"SLAD_SEVER__PORT": "9000"})


def test_check_config_fails_where_run_would(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[log]\nlevel = "INFOO"\n')
    assert main(["--config", str(bad), "check-config"]) == EXIT_CONFIG
    assert main(["--config", str(bad), "run"]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert err.count("[log] level") == 2 and "Traceback" not in err


def test_a_command_run_elsewhere_names_the_missing_database_and_creates_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SLAD_CONFIG", raising=False)
    argv = ["token", "create", "--role", "admin", "--name", "me"]
    assert main(argv) == EXIT_SCHEMA
    err = capsys.readouterr().err
    assert f"no database at {tmp_path / 'slad.db'}" in err and "slad migrate" in err
    assert list(tmp_path.iterdir()) == []


def test_schema_refusals_and_database_errors_name_the_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = tmp_path / "stale.db"
    upgrade(make_engine(f"sqlite:///{stale}"), "0001")
    config = tmp_path / "slad.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{stale}"\n')
    assert main(["--config", str(config), "token", "list"]) == EXIT_SCHEMA
    assert f"the schema of the SQLite file {stale} is at 0001" in capsys.readouterr().err

    closed = tmp_path / "closed.toml"
    closed.write_text('[database]\nurl = "postgresql+psycopg://slad:hunter2@127.0.0.1:1/slad"\n')
    assert main(["--config", str(closed), "token", "list"]) == EXIT_DATABASE
    err = capsys.readouterr().err
    assert "database error on postgresql+psycopg://slad:***@127.0.0.1:1/slad" in err
    assert "hunter2" not in err


def test_token_lifecycle_on_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "slad.toml"
    url = f"sqlite:///{tmp_path / 'slad.db'}"
    config.write_text(f'[database]\nurl = "{url}"\n')
    slad = ["--config", str(config)]
    assert main([*slad, "migrate"]) == 0
    create = [*slad, "token", "create", "--role", "ingest", "--name", "zabbix"]
    assert main([*create, "--expires-at", "2099-01-01T09:00:00+09:00"]) == 0
    token = capsys.readouterr().out.strip()
    assert main([*create, "--expires-at", "2099-01-01T09:00:00"]) == EXIT_CONFIG
    assert "needs an offset" in capsys.readouterr().err

    assert main([*slad, "token", "list", "--json"]) == 0
    (listed,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (listed["name"], listed["role"], listed["state"]) == ("zabbix", "ingest", "active")
    assert listed["expires_at"] == "2099-01-01T00:00:00Z"
    assert token not in json.dumps(listed)

    assert main([*slad, "token", "revoke", str(listed["id"]), "--reason", "retired"]) == 0
    assert main([*slad, "token", "revoke", str(listed["id"])]) == EXIT_CONFIG
    assert "was revoked at" in capsys.readouterr().err
    assert main([*slad, "token", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["state"] == "revoked"

    engine = make_engine(url)
    with session_factory(engine)() as session:
        assert authenticate(session, token) is None
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert [(e.action, e.target_id, e.reason) for e in entries] == [
        ("token.create", str(listed["id"]), None),
        ("token.revoke", str(listed["id"]), "retired"),
    ]
    assert all(e.actor.startswith("cli:") for e in entries)
