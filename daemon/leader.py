"""Leader election: only one process writes clocks and runs pollers (DESIGN invariant 6).

On PostgreSQL the leader holds a session-level advisory lock on a dedicated
connection. When the leader dies its connection closes and the lock is free; a follower
retrying every `retry` seconds takes over. TCP keepalives make a vanished host's
connection die within seconds too. SQLite is single-node: its one process always leads.
"""

from __future__ import annotations

import contextlib
import logging
import zlib
from typing import Protocol

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

log = logging.getLogger("slad.leader")


def lock_key(name: str) -> int:
    """The advisory lock id for a cluster name: daemons sharing a database and a name
    elect one leader among them."""
    return zlib.crc32(f"slad:{name}".encode())


class Leadership(Protocol):
    def try_acquire(self) -> bool:
        """Acquire or confirm leadership; False when another process leads."""

    def release(self) -> None: ...


class SingleNode:
    """SQLite: one process per database file, so it always leads."""

    def try_acquire(self) -> bool:
        return True

    def release(self) -> None:
        return None


class AdvisoryLock:
    """A PostgreSQL advisory lock held on its own connection for as long as we lead."""

    def __init__(self, engine: Engine, key: int) -> None:
        self._engine = create_engine(
            engine.url,
            poolclass=NullPool,
            connect_args={
                "keepalives": 1,
                "keepalives_idle": 5,
                "keepalives_interval": 2,
                "keepalives_count": 3,
            },
        )
        self._key = key
        self._conn: Connection | None = None

    def try_acquire(self) -> bool:
        try:
            if self._conn is not None:
                self._conn.execute(text("SELECT 1"))
                return True
            conn = self._engine.connect()
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self._key}).scalar()
            conn.commit()
            if got:
                self._conn = conn
                log.info("became leader")
                return True
            conn.close()
            return False
        except SQLAlchemyError:
            log.warning("lost the leader connection", exc_info=True)
            self._drop()
            return False

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self._key})
                self._conn.commit()
            except SQLAlchemyError:
                log.warning("could not release the leader lock cleanly", exc_info=True)
            self._drop()
        self._engine.dispose()

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(SQLAlchemyError):
                self._conn.invalidate()
            self._conn = None


def leadership_for(engine: Engine, cluster: str) -> Leadership:
    if engine.dialect.name == "postgresql":
        return AdvisoryLock(engine, lock_key(cluster))
    return SingleNode()
