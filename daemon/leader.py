"""Leader election: only one process writes clocks and runs pollers (DESIGN invariant 6).

On PostgreSQL the leader holds a session-level advisory lock on a dedicated
connection. When the leader dies its connection closes and the lock is free; a follower
retrying every `retry` seconds takes over. TCP keepalives make a vanished host's
connection die within seconds too.

SQLite is single-node: one `slad run` per database file. The process that runs holds
an exclusive lock on `<database file>.lock` for its whole life (the kernel releases it
when the process ends, even by `kill -9`); a second `slad run` on the same file refuses
to start, naming the file, instead of leading beside the first and recording every
breach and notification twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import zlib
from pathlib import Path
from typing import Protocol

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

log = logging.getLogger("slad.leader")


def lock_key(name: str) -> int:
    """The advisory lock id for a cluster name: daemons sharing a database and a name
    elect one leader among them."""
    return zlib.crc32(f"slad:{name}".encode())


class AlreadyRunning(RuntimeError):
    """Another `slad run` serves this SQLite database."""


class Leadership(Protocol):
    def claim(self) -> None:
        """Before serving: raise `AlreadyRunning` when this process may never lead."""

    def try_acquire(self) -> bool:
        """Acquire or confirm leadership; False when another process leads."""

    def release(self) -> None: ...


class SingleNode:
    """SQLite: the one process that holds the database file's lock leads.

    `path` is the database file (None for an in-memory database, which no other
    process can open). The lock is an `flock` on a file of its own beside the database,
    so it never meets SQLite's own locks on the database file.
    """

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._fd: int | None = None
        self._warned = False

    @property
    def lock_path(self) -> Path | None:
        return None if self._path is None else self._path.with_name(self._path.name + ".lock")

    def claim(self) -> None:
        if not self.try_acquire():
            raise AlreadyRunning(
                f"another slad is already running on the SQLite database {self._path}"
                f" (it holds {self.lock_path}); SQLite serves one slad at a time:"
                " stop the other one, or use PostgreSQL to run replicas"
            )

    def try_acquire(self) -> bool:
        lock_path = self.lock_path
        if self._fd is not None or lock_path is None:
            return True
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            if not self._warned:
                log.warning("another slad runs on the SQLite database %s; not leading", self._path)
                self._warned = True
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the lock
            self._fd = None


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

    def claim(self) -> None:
        """Replicas share a PostgreSQL database: a follower waits for its turn."""

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
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return SingleNode(None)
    return SingleNode(Path(database).expanduser().resolve())
