"""When the database fails, clients hear 503 with `Retry-After`, never a 2xx or a 500.

A write route answers only once its change is committed: a commit that fails answers
503 and leaves nothing behind. A database that cannot be reached answers 503 on every
route (reads, writes, ingest, readiness) and slad serves again once it is back.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from daemon.store.models import AlertEventRecord, AuditEntry, Customer
from tests.daemon.conftest import Api, seed_registry
from tests.daemon.conftest import event as alert_event


def lost_connection(api: Api) -> OperationalError:
    """The error the backend's driver raises when the server goes away mid-transaction."""
    if api.services.engine.dialect.name == "sqlite":
        orig: Exception = sqlite3.OperationalError("disk I/O error")
    else:
        orig = psycopg.OperationalError("server closed the connection unexpectedly")
    return OperationalError("COMMIT", {}, orig)


@contextmanager
def database_down(api: Api) -> Iterator[None]:
    """No connection can be opened (a PostgreSQL restart, an unreadable SQLite file)."""
    engine = api.services.engine
    engine.dispose()

    def refuse(*_args: Any) -> None:
        if engine.dialect.name == "sqlite":
            raise sqlite3.OperationalError("unable to open database file")
        raise psycopg.OperationalError("connection refused: the database system is starting up")

    event.listen(engine, "do_connect", refuse)
    try:
        yield
    finally:
        event.remove(engine, "do_connect", refuse)


def stored(api: Api) -> tuple[int, int, int]:
    with api.services.sessions() as session:
        return tuple(  # type: ignore[return-value]
            session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Customer, AuditEntry, AlertEventRecord)
        )


def assert_unavailable(response: Any) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) > 0
    assert response.json()["type"] == "urn:slad:problem:database-unavailable"


def test_a_commit_that_fails_answers_503_and_stores_nothing(api: Api) -> None:
    before = stored(api)
    error = lost_connection(api)

    def fail(_session: Session) -> None:
        raise error

    event.listen(api.services.sessions, "before_commit", fail)
    try:
        response = api.post("/v1/customers", {"name": "acme"}, role="admin")
    finally:
        event.remove(api.services.sessions, "before_commit", fail)
    assert_unavailable(response)
    assert stored(api) == before
    assert api.ok(api.get("/v1/customers")) == []


def test_an_unreachable_database_answers_503_on_every_kind_of_route(api: Api) -> None:
    seed = seed_registry(api)
    for role in ("viewer", "admin", "ingest"):  # the tokens are known before the outage
        api.client.get("/v1/customers", headers=api.headers(role))
    before = stored(api)
    with database_down(api):
        assert_unavailable(api.get("/v1/incidents"))
        assert_unavailable(api.get(f"/v1/customers/{seed['customer']}"))
        assert_unavailable(api.post("/v1/customers", {"name": "during"}, role="admin"))
        assert_unavailable(
            api.post("/v1/events", alert_event("e1", "problem", api.clock()), role="ingest")
        )
        ready = api.client.get("/readyz")
        assert ready.status_code == 503 and "retry-after" in ready.headers
    assert stored(api) == before

    assert api.ok(api.post("/v1/customers", {"name": "after"}, role="admin"), 201)
    api.ok(api.post("/v1/events", alert_event("e1", "problem", api.clock()), role="ingest"), 202)
    assert api.client.get("/readyz").json() == {"status": "ready"}
    assert stored(api)[2] == before[2] + 1


def test_an_unknown_token_during_an_outage_is_503_not_401(api: Api) -> None:
    with database_down(api):
        response = api.client.get("/v1/incidents", headers={"Authorization": "Bearer slad_new"})
    assert_unavailable(response)
