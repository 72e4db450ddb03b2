"""The correlator: turns inbox events into alerts and incidents, oldest first.

It runs on its own thread and wakes when the inbox commits (and every `idle_poll`
seconds, which picks up events another replica accepted). Each pass takes the oldest
pending events, correlates them in one transaction and commits; passes are cut short
after `pass_seconds` so that a burst never holds the store's write lock (SQLite has
one) long enough to delay the inbox's next commit.

On PostgreSQL every replica runs a correlator; a transaction-scoped advisory lock makes
them take turns, so events are correlated in inbox order and two replicas never race
for the same incident. A pass that fails is retried event by event, each in its own
savepoint; an event that still fails is marked `failed` with its error and set aside,
so one poisoned event never blocks the ones behind it.

`settled(watermark)` gives callers that want the outcome (`POST /v1/events?wait=true`)
a future that completes once no event at or below the watermark is pending.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from daemon.ingest import Ingestor
from daemon.leader import lock_key
from daemon.store.models import AlertEventRecord

log = logging.getLogger("slad.ingest")

PASS_EVENTS = 200  # most events one pass reads
RETRY_PAUSE = 1.0  # seconds before retrying after the store failed a whole pass


class Correlator:
    """Drains the inbox; `run_pending` is the whole job, the thread only schedules it."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        ingestor: Ingestor,
        clock: Callable[[], datetime],
        *,
        pass_seconds: float = 0.02,
        idle_poll: float = 1.0,
        after_commit: Callable[[], None] | None = None,
    ) -> None:
        self._sessions = sessions
        self._ingestor = ingestor
        self._clock = clock
        self._pass_seconds = pass_seconds
        self._idle_poll = idle_poll
        self._after_commit = after_commit
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._waiters: list[tuple[int, Future[None]]] = []
        self._waiters_lock = threading.Lock()

    def start(self) -> None:
        if self._thread is None:
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="slad-correlator", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Correlate what is pending, then stop the thread."""
        if self._thread is not None:
            self._stopping = True
            self._wake.set()
            self._thread.join()
            self._thread = None

    def wake(self) -> None:
        self._wake.set()

    def settled(self, watermark: int) -> Future[None]:
        """A future completed once every event with an id <= `watermark` is correlated."""
        future: Future[None] = Future()
        with self._waiters_lock:
            self._waiters.append((watermark, future))
        self._wake.set()
        return future

    def _run(self) -> None:
        while True:
            self._wake.wait(self._idle_poll)
            self._wake.clear()
            try:
                self.run_pending()
            except Exception:
                log.exception("correlation failed; retrying in %.0f s", RETRY_PAUSE)
                time.sleep(RETRY_PAUSE)
                continue
            if self._stopping:
                return

    def run_pending(self) -> int:
        """Correlate every pending event, pass by pass; the number correlated."""
        done = 0
        while True:
            count = self._pass()
            done += count
            if count == 0:
                break
        self._release_waiters()
        return done

    def _pass(self) -> int:
        deadline = time.monotonic() + self._pass_seconds
        try:
            with self._sessions.begin() as session:
                records = self._take_turn_and_read(session)
                results = self._ingestor.correlate(
                    session, records, self._clock(), lambda: time.monotonic() >= deadline
                )
                count = len(results)
        except Exception:
            log.warning("a correlation pass failed; retrying event by event", exc_info=True)
            count = self._pass_one_by_one()
        if count and self._after_commit is not None:
            self._after_commit()
        return count

    def _take_turn_and_read(self, session: Session) -> list[AlertEventRecord]:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key("correlator")}
            )
        stmt = (
            select(AlertEventRecord)
            .where(AlertEventRecord.outcome.is_(None))
            .order_by(AlertEventRecord.id)
            .limit(PASS_EVENTS)
        )
        return list(session.scalars(stmt))

    def _pass_one_by_one(self) -> int:
        with self._sessions.begin() as session:
            records = self._take_turn_and_read(session)
            now = self._clock()
            for record in records:
                try:
                    self._ingestor.correlate_one(session, record, now)
                except Exception as exc:
                    log.exception("event %s could not be correlated; set aside", record.event_key)
                    record.outcome = "failed"
                    record.correlated_at = now
                    record.error = f"{type(exc).__name__}: {exc}"[:2000]
        return len(records)

    def _release_waiters(self) -> None:
        with self._waiters_lock:
            if not self._waiters:
                return
        with self._sessions() as session:
            lowest = session.scalar(
                select(func.min(AlertEventRecord.id)).where(AlertEventRecord.outcome.is_(None))
            )
        with self._waiters_lock:
            waiting: list[tuple[int, Future[None]]] = []
            for watermark, future in self._waiters:
                if lowest is None or watermark < lowest:
                    future.set_result(None)
                else:
                    waiting.append((watermark, future))
            self._waiters = waiting
