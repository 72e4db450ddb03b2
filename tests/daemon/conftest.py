"""Daemon tests run against real SQLite and, when SLAD_TEST_POSTGRES_URL is set, PostgreSQL.

Every test gets a fresh database (a temporary SQLite file, or a new PostgreSQL schema),
created by the Alembic migrations like in production, and a controllable clock.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from daemon.app import create_app
from daemon.auth import create_token
from daemon.config import Config, DatabaseConfig, load_config
from daemon.services import Services, build_services
from daemon.store.db import make_engine, upgrade

POSTGRES_URL = os.environ.get("SLAD_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", "postgresql"]


@dataclass
class FakeMonotonic:
    """An injected monotonic timer (seconds) for code that measures spans, moved by hand."""

    now: float = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeClock:
    """The injected time source: tests move it, nothing sleeps."""

    now: datetime = field(default_factory=lambda: datetime(2026, 11, 24, 1, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> datetime:
        self.now += timedelta(**kwargs)
        return self.now

    def set(self, instant: datetime) -> datetime:
        self.now = instant
        return instant


@contextmanager
def unmigrated_database(backend: str, directory: Path) -> Iterator[tuple[str, Engine]]:
    """An empty database on `backend` with no schema yet: a SQLite file in `directory`,
    or a new PostgreSQL schema (skipped when SLAD_TEST_POSTGRES_URL is unset), dropped
    after."""
    if backend == "sqlite":
        url = f"sqlite:///{directory / 'slad.db'}"
        engine = make_engine(url)
        yield url, engine
        engine.dispose()
        return
    if not POSTGRES_URL:
        pytest.skip("SLAD_TEST_POSTGRES_URL is not set: PostgreSQL tests skipped")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    joiner = "&" if "?" in POSTGRES_URL else "?"
    url = f"{POSTGRES_URL}{joiner}options=-csearch_path%3D{schema}"  # for child processes too
    engine = make_engine(url)
    yield url, engine
    engine.dispose()
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@contextmanager
def migrated_database(backend: str, directory: Path) -> Iterator[tuple[str, Engine]]:
    """A migrated, empty database on `backend` (see `unmigrated_database`)."""
    with unmigrated_database(backend, directory) as (url, engine):
        upgrade(engine)
        yield url, engine


@pytest.fixture(params=BACKENDS)
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    """An empty database on each backend, with no schema yet."""
    with unmigrated_database(request.param, tmp_path) as db:
        yield db


@pytest.fixture
def database(empty_database: tuple[str, Engine]) -> tuple[str, Engine]:
    """A migrated, empty database on each backend."""
    upgrade(empty_database[1])
    return empty_database


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_config(url: str, **changes: Any) -> Config:
    """The embedded defaults on database `url`, with `changes` to Config fields.

    The correlator runs as a thread, so it correlates with the injected clock.
    """
    config = replace(load_config(None, environ={}), database=DatabaseConfig(url=url), **changes)
    return replace(config, ingest=replace(config.ingest, correlator="thread"))


@dataclass
class Api:
    """A test client with one token per role."""

    client: TestClient
    services: Services
    clock: FakeClock
    tokens: dict[str, str]

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def get(self, path: str, role: str = "viewer", **kw: Any) -> Any:
        return self.client.get(path, headers=self.headers(role), **kw)

    def post(self, path: str, json: Any = None, role: str = "operator", **kw: Any) -> Any:
        return self.client.post(path, json=json, headers=self.headers(role), **kw)

    def patch(self, path: str, json: Any = None, role: str = "operator", **kw: Any) -> Any:
        return self.client.patch(path, json=json, headers=self.headers(role), **kw)

    def delete(self, path: str, role: str = "operator", **kw: Any) -> Any:
        return self.client.delete(path, headers=self.headers(role), **kw)

    def ok(self, response: Any, status: int = 200) -> Any:
        assert response.status_code == status, response.text
        return response.json()


ApiFactory = Callable[..., Api]


def open_api(url: str, engine: Engine, clock: FakeClock, label: str, **changes: Any) -> Api:
    """An app on database `url` with one token per role, its client entered (the caller
    exits it); `label` keeps the token names of several apps on one database apart."""
    services = build_services(
        make_config(url, **changes), clock=clock, engine=engine, background=False
    )
    tokens: dict[str, str] = {}
    with services.sessions.begin() as session:
        for role in ("viewer", "operator", "admin", "ingest"):
            tokens[role] = create_token(session, f"test-{role}-{label}", role, clock())
    client = TestClient(create_app(services))
    client.__enter__()
    return Api(client, services, clock, tokens)


@pytest.fixture
def api_factory(database: tuple[str, Engine], clock: FakeClock) -> Iterator[ApiFactory]:
    """Build apps on the test database; `changes` replace Config fields (e.g. notify)."""
    url, engine = database
    clients: list[TestClient] = []

    def build(**changes: Any) -> Api:
        api = open_api(url, engine, clock, str(len(clients)), **changes)
        clients.append(api.client)
        return api

    yield build
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def api(api_factory: ApiFactory) -> Api:
    return api_factory()


def seed_registry(api: Api, plan: str = "standard", **contract: Any) -> dict[str, int]:
    """A customer with one contract and one resource mapped by Zabbix host `web01`."""
    customer = api.ok(api.post("/v1/customers", {"name": f"acme-{plan}"}, role="admin"), 201)
    body = {"customer_id": customer["id"], "plan": plan, "billing_start": "2026-04-01", **contract}
    contract_row = api.ok(api.post("/v1/contracts", body, role="admin"), 201)
    resource = api.ok(
        api.post(
            "/v1/resources",
            {
                "contract_id": contract_row["id"],
                "name": "web01",
                "kind": "vm",
                "selectors": [{"zabbix.host": "web01"}],
            },
            role="admin",
        ),
        201,
    )
    return {"customer": customer["id"], "contract": contract_row["id"], "resource": resource["id"]}


def seed_resource(api: Api, name: str, *selectors: dict[str, str], customer: str = "acme") -> int:
    """A customer on the standard plan with one resource `name` that `selectors` map
    (the sources' tests: the resource their alerts are about); its id."""
    row = api.ok(api.post("/v1/customers", {"name": customer}, role="admin"), 201)
    body = {"customer_id": row["id"], "plan": "standard", "billing_start": "2026-04-01"}
    contract = api.ok(api.post("/v1/contracts", body, role="admin"), 201)
    resource = {
        "contract_id": contract["id"],
        "name": name,
        "kind": "vm",
        "selectors": list(selectors),
    }
    return int(api.ok(api.post("/v1/resources", resource, role="admin"), 201)["id"])


def event(
    key: str,
    kind: str,
    detected_at: datetime,
    problem: str = "p1",
    host: str = "web01",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "event_key": key,
        "problem_key": problem,
        "kind": kind,
        "detected_at": detected_at.isoformat(),
        "title": f"problem {problem}",
        "resource_ids": {"zabbix.host": host},
        **extra,
    }
