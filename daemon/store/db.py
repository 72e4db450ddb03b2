"""Engine and session set-up, and the schema-version check that guards `slad run`."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

import migrations

log = logging.getLogger("slad.store")

MIGRATIONS_DIR = Path(migrations.__file__).parent
BUSY_TIMEOUT_MS = 30_000
BEGIN_TIMEOUT = BUSY_TIMEOUT_MS / 1000
BEGIN_POLL = 0.0005
READ_ONLY = "slad_read_only"  # execution option of `read_only_sessions`


def make_engine(url: str, *, echo: bool = False, **kwargs: Any) -> Engine:
    """An engine with the settings each backend needs to be a safe store.

    SQLite gets WAL, enforced foreign keys, a full sync at each commit (a 2xx answer to
    a source means the event survives a power cut) and a busy timeout, so a second
    writer waits instead of failing with "database is locked". Transactions are opened
    by SQLAlchemy as `BEGIN IMMEDIATE` (the driver's own handling would let a savepoint
    start and commit a transaction of its own, and a deferred transaction that reads
    before it writes fails at once, without waiting, when another connection wrote in
    between; `read_only_sessions` begin deferred, as they never write). Commits never
    checkpoint the WAL (that stalled whichever ingest commit crossed the threshold): the
    daemon runs `WalCheckpointer` instead, and SQLite checkpoints when the last
    connection closes. The wait for `BEGIN IMMEDIATE` polls
    every `BEGIN_POLL` seconds instead of using SQLite's busy handler, whose sleeps grow
    to 100 ms: with the correlator committing every few milliseconds, that backoff would
    keep missing the gaps and starve the ingest writer.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # SQLAlchemy, not the driver, opens transactions
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA wal_autocheckpoint=0")  # WalCheckpointer's job
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            dbapi_conn = conn.connection.dbapi_connection
            if conn.get_execution_options().get(READ_ONLY):
                dbapi_conn.execute("PRAGMA query_only=1")
                dbapi_conn.execute("BEGIN")
            else:
                begin_immediate(dbapi_conn)

        @event.listens_for(engine, "commit")
        @event.listens_for(engine, "rollback")
        def _sqlite_end(conn: Any) -> None:
            if conn.get_execution_options().get(READ_ONLY):
                conn.connection.dbapi_connection.execute("PRAGMA query_only=0")

        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True, **kwargs)


# What SQLite says when the store is busy or its file cannot be used, as opposed to a
# statement it cannot run (which sqlite3 reports as an OperationalError too).
_SQLITE_UNAVAILABLE = ("locked", "busy", "unable to open", "disk i/o", "readonly", "disk is full")


def unavailable(exc: BaseException) -> bool:
    """Whether `exc` means the database cannot be used right now (a PostgreSQL restart,
    a lost connection, no connection in the pool, SQLite held by another writer), so
    the request may succeed when retried, rather than a fault of the request or of slad.
    """
    if isinstance(exc, PoolTimeout):
        return True
    if not isinstance(exc, SQLAlchemyError):
        return False
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if not isinstance(exc, OperationalError | InterfaceError):
        return False
    if isinstance(exc.orig, sqlite3.Error):
        message = str(exc.orig).lower()
        return any(sign in message for sign in _SQLITE_UNAVAILABLE)
    return True


def describe(url: str) -> str:
    """How messages name a database: an SQLite file by its absolute path, any other by
    its URL with the password masked."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return parsed.render_as_string(hide_password=True)
    if not parsed.database or parsed.database == ":memory:":
        return "an in-memory SQLite database"
    return f"the SQLite file {sqlite_path(url)}"


def sqlite_path(url: str) -> Path | None:
    """The absolute path of an SQLite database file (None for other backends or memory)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database).expanduser().resolve()


def begin_immediate(dbapi_conn: Any) -> float:
    """`BEGIN IMMEDIATE`, retried every `BEGIN_POLL` s for up to `BEGIN_TIMEOUT` s;
    the seconds it waited for another writer (0 when the store was free)."""
    began = time.monotonic()
    deadline = began + BEGIN_TIMEOUT
    dbapi_conn.execute("PRAGMA busy_timeout=0")
    waited = False
    try:
        while True:
            try:
                dbapi_conn.execute("BEGIN IMMEDIATE")
                return time.monotonic() - began if waited else 0.0
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
            waited = True
            time.sleep(BEGIN_POLL)
    finally:
        dbapi_conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")


class WalCheckpointer:
    """Copies the SQLite WAL back into the database file every `interval` seconds.

    A passive checkpoint blocks neither readers nor writers, so on its own thread it
    keeps the WAL small without ever delaying a commit.
    """

    def __init__(self, engine: Engine, interval: float = 1.0) -> None:
        self._engine = engine
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._engine.dialect.name == "sqlite" and self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="slad-wal", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None

    def checkpoint(self) -> tuple[int, int]:
        """One passive checkpoint: (frames in the WAL, frames copied to the database)."""
        raw = self._engine.raw_connection()  # outside any transaction, as SQLite requires
        try:
            cursor = raw.cursor()
            cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
            _busy, frames, copied = cursor.fetchone() or (0, 0, 0)
            cursor.close()
        finally:
            raw.close()
        return int(frames), int(copied)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.checkpoint()
            except Exception:
                log.exception("WAL checkpoint failed")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def read_only_sessions(engine: Engine) -> sessionmaker[Session]:
    """Sessions for work that only reads: token lookups, polls for what is due, scrapes.

    On SQLite every other transaction begins `IMMEDIATE`, taking the store's one write
    lock, so a read would queue behind an alert storm's commits and then hold up the
    next one. These begin deferred and read a snapshot instead: they neither wait for a
    writer nor delay one. SQLite's `query_only` is on for their duration, so a write
    through them fails at once instead of racing other writers. On PostgreSQL they are
    ordinary sessions.
    """
    return session_factory(engine.execution_options(**{READ_ONLY: True}))


def alembic_config(engine: Engine) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision`; the only way slad creates or changes tables."""
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


def head_revision() -> str:
    script = ScriptDirectory.from_config(alembic_config(create_engine("sqlite://")))
    head = script.get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def schema_is_current(engine: Engine) -> bool:
    return current_revision(engine) == head_revision()
