"""Read-only sessions: reads that neither wait for SQLite's write lock nor take it, and
that refuse to write."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import OperationalError

from daemon.store.db import make_engine, read_only_sessions, session_factory, upgrade
from daemon.store.models import Customer


@pytest.fixture
def sqlite(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'slad.db'}")
    upgrade(engine)
    return engine


def customer(name: str) -> Customer:
    return Customer(name=name, created_at=datetime(2026, 11, 24, tzinfo=UTC))


def customers(engine: Engine) -> list[str]:
    with read_only_sessions(engine)() as session:
        return list(session.scalars(select(Customer.name).order_by(Customer.name)))


def test_a_read_does_not_wait_for_a_writer_holding_the_store(sqlite: Engine) -> None:
    with session_factory(sqlite).begin() as session:
        session.add(customer("acme"))
    writer = sqlite.raw_connection()
    try:
        writer.dbapi_connection.execute("BEGIN IMMEDIATE")  # the store's one write lock
        writer.dbapi_connection.execute(
            "INSERT INTO customers (name, locale, created_at)"
            " VALUES ('uncommitted', 'ja', '2026-11-24')"
        )
        # An ordinary session would now wait for the lock (up to the busy timeout);
        # a reader sees the last committed state at once.
        assert customers(sqlite) == ["acme"]
    finally:
        writer.dbapi_connection.execute("ROLLBACK")
        writer.close()


def test_a_reader_does_not_hold_up_a_writer(sqlite: Engine) -> None:
    with read_only_sessions(sqlite)() as reading:
        assert reading.scalar(select(func.count()).select_from(Customer)) == 0
        with session_factory(sqlite).begin() as writing:  # would wait if the read held the lock
            writing.add(customer("acme"))
    assert customers(sqlite) == ["acme"]


def test_a_write_through_a_reader_fails_and_changes_nothing(sqlite: Engine) -> None:
    with (
        pytest.raises(OperationalError, match="readonly"),
        read_only_sessions(sqlite).begin() as session,
    ):
        session.add(customer("acme"))
    assert customers(sqlite) == []


def test_connections_write_again_after_serving_a_reader(sqlite: Engine) -> None:
    engine = make_engine(str(sqlite.url), pool_size=1, max_overflow=0)  # one connection for both
    customers(engine)
    with session_factory(engine).begin() as session:
        session.add(customer("acme"))
    assert customers(engine) == ["acme"]
    engine.dispose()


def test_readers_read_on_every_backend(database: tuple[str, Engine]) -> None:
    engine = database[1]
    with session_factory(engine).begin() as session:
        session.add(customer("acme"))
    assert customers(engine) == ["acme"]
