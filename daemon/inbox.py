"""The ingest inbox: accepted events are committed first and correlated after.

A source may only be answered 2xx once its events are durable, and a commit (an fsync
on SQLite, a round trip on PostgreSQL) costs far more than storing one row. The writer
is one thread that drains every submission waiting in its queue, inserts their events
into `alert_events` and commits once, then completes each submission with `accepted`
or `duplicate` per event. Turning the events into alerts and incidents is the
correlator's job (`daemon.correlator`), so a burst of alerts costs the sender no more
than the insert.

The writer shares its process with the HTTP server, and every bit of Python it runs
is taken from answering requests (one interpreter lock). So it works on the driver's
connection with one prepared multi-row `INSERT` instead of through a session, converts
values with the column types' own bind processors (the stored form is exactly what
the ORM writes and reads), and completes the asynchronous waiters of a whole batch
with one call into their event loop.

Redelivery, a key repeated within a batch and a concurrent duplicate from another
replica are all absorbed by the insert's `ON CONFLICT DO NOTHING`, so none costs an
error or a query of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine, Table
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError

from connectors.events import AlertEvent
from daemon.ingest import IngestResult
from daemon.store.db import begin_immediate
from daemon.store.models import AlertEventRecord

log = logging.getLogger("slad.ingest")

COLUMNS = (
    "event_key",
    "problem_key",
    "source",
    "instance",
    "kind",
    "severity",
    "title",
    "resource_ids",
    "detected_at",
    "detected_at_estimated",
    "received_at",
    "raw",
)
ROWS_PER_STATEMENT = 80  # 960 parameters: under every SQLite build's limit


@dataclass(frozen=True, slots=True)
class Acceptance:
    """What the inbox did with one submission.

    `watermark` is the highest inbox id visible when the submission committed: once the
    correlator has no pending event at or below it, every event of the submission (and
    the original of every duplicate stored before it) has been correlated.
    """

    results: list[IngestResult]
    watermark: int


@dataclass(slots=True)
class _Submission:
    """Events waiting for the writer, and who waits for them: a thread (`future`) or
    a coroutine (`waiter`, completed in its own event loop)."""

    events: Sequence[AlertEvent]
    future: Future[Acceptance] | None = None
    waiter: asyncio.Future[Acceptance] | None = None


class InboxWriter:
    """Serialises inbox inserts into batched transactions on a background thread.

    `after_commit` runs after each commit (it wakes the correlator); `on_contended`
    whenever the writer spent a significant share of the last moment waiting for
    another writer to release the store (SQLite), so the correlator leaves it more room.
    """

    def __init__(
        self,
        engine: Engine,
        max_events: int = 500,
        after_commit: Callable[[], None] | None = None,
        on_contended: Callable[[], None] | None = None,
        contention: ContentionMeter | None = None,
    ) -> None:
        self._engine = engine
        self._on_contended = on_contended
        self._contention = contention or ContentionMeter()
        self._statement = InboxStatement(engine.dialect)
        self._max_events = max_events
        self._after_commit = after_commit
        self._queue: queue.SimpleQueue[_Submission | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="slad-inbox", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Commit everything already submitted, then stop the writer thread."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def submit(self, events: Sequence[AlertEvent]) -> Future[Acceptance]:
        """Queue `events`; the future completes once they are committed (for threads)."""
        future: Future[Acceptance] = Future()
        self._put(_Submission(events, future=future))
        return future

    async def accept(self, events: Sequence[AlertEvent]) -> Acceptance:
        """Queue `events` and return once they are committed (for coroutines)."""
        waiter: asyncio.Future[Acceptance] = asyncio.get_running_loop().create_future()
        self._put(_Submission(events, waiter=waiter))
        return await waiter

    def _put(self, submission: _Submission) -> None:
        if self._thread is None:
            raise RuntimeError("the ingest writer is not running")
        self._queue.put(submission)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            count = len(first.events)
            stopping = False
            while count < self._max_events:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stopping = True
                    break
                batch.append(nxt)
                count += len(nxt.events)
            self._process(batch)
            if stopping:
                return

    def _process(self, batch: list[_Submission]) -> None:
        """Commit `batch` in one transaction; should the store refuse it, commit each
        submission alone, so only the one it refuses fails."""
        try:
            outcomes = self._commit([s.events for s in batch])
        except Exception as exc:
            if len(batch) > 1:
                for submission in batch:
                    self._process([submission])
                return
            log.exception(
                "the inbox could not commit a submission of %d events", len(batch[0].events)
            )
            _settle(batch, [exc])
            return
        _settle(batch, outcomes)
        if self._after_commit is not None:
            self._after_commit()

    def _commit(self, submissions: list[Sequence[AlertEvent]]) -> list[Acceptance]:
        """`_commit_raw`, with the driver's errors raised as SQLAlchemy's (the API
        answers a database that is unavailable with 503 from those)."""
        dbapi_error = self._engine.dialect.loaded_dbapi.Error
        try:
            return self._commit_raw(submissions)
        except dbapi_error as exc:
            raise DBAPIError.instance(
                None, None, exc, dbapi_error, dialect=self._engine.dialect
            ) from exc

    def _commit_raw(self, submissions: list[Sequence[AlertEvent]]) -> list[Acceptance]:
        raw = self._engine.raw_connection()
        try:
            if self._engine.dialect.name == "sqlite":
                waited = begin_immediate(raw.dbapi_connection)
                if self._contention.record(waited) and self._on_contended is not None:
                    self._on_contended()
            cursor = raw.cursor()
            try:
                outcomes = self._statement.accept(cursor, submissions)
                raw.commit()
            except Exception:
                with contextlib.suppress(self._engine.dialect.loaded_dbapi.Error):
                    raw.rollback()  # a lost connection cannot; the pool discards it
                raise
            finally:
                cursor.close()
        finally:
            raw.close()
        return outcomes


class ContentionMeter:
    """Whether the inbox is held up by other writers: the share of each `window` of
    seconds spent waiting for the store's write lock, against `share`.

    A lone wait is no reason to slow correlation down (at a moderate load a commit
    now and then lands during a pass and waits a few milliseconds); waiting for a
    fifth of the time is: ingest is then paced by the store, not by its senders.
    """

    def __init__(
        self,
        window: float = 0.1,
        share: float = 0.2,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self._window = window
        self._share = share
        self._timer = timer
        self._began = timer()
        self._waited = 0.0

    def record(self, waited: float) -> bool:
        """Count one wait; true when it closes a window spent waiting over `share`."""
        self._waited += waited
        elapsed = self._timer() - self._began
        if elapsed < self._window:
            return False
        held_up = self._waited >= self._share * elapsed
        self._began, self._waited = self._timer(), 0.0
        return held_up


def _settle(batch: list[_Submission], outcomes: Sequence[Acceptance | Exception]) -> None:
    """Complete every waiter of `batch`: threads directly, coroutines with one call
    into each event loop (a call per waiter would wake the loop once per request)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Acceptance], Any]]] = {}
    for submission, outcome in zip(batch, outcomes, strict=True):
        if submission.future is not None:
            if isinstance(outcome, Exception):
                submission.future.set_exception(outcome)
            else:
                submission.future.set_result(outcome)
        elif (waiter := submission.waiter) is not None:
            by_loop.setdefault(waiter.get_loop(), []).append((waiter, outcome))
    for loop, settled in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed loop has nobody waiting any more
            loop.call_soon_threadsafe(_complete, settled)


def _complete(settled: list[tuple[asyncio.Future[Acceptance], Acceptance | Exception]]) -> None:
    for waiter, outcome in settled:
        if waiter.done():  # the request was cancelled (client gone); the events stay committed
            continue
        if isinstance(outcome, Exception):
            waiter.set_exception(outcome)
        else:
            waiter.set_result(outcome)


class InboxStatement:
    """The inbox's `INSERT ... ON CONFLICT (event_key) DO NOTHING RETURNING event_key`,
    written for the connection's dialect, run on the driver's cursor.

    The keys it returns were stored now; any other (stored before, by another replica
    in between, or earlier in this very batch) is a duplicate.
    """

    def __init__(self, dialect: Dialect) -> None:
        table = AlertEventRecord.__table__
        assert isinstance(table, Table)
        self._table = table.name
        self._marker = "?" if dialect.paramstyle == "qmark" else "%s"
        self._processors = [
            table.c[name].type.dialect_impl(dialect).bind_processor(dialect) or _unchanged
            for name in COLUMNS
        ]
        self._dbapi_error = dialect.loaded_dbapi.Error
        self._dialect = dialect

    def accept(self, cursor: Any, submissions: Sequence[Sequence[AlertEvent]]) -> list[Acceptance]:
        """Insert every new event of `submissions`, in order, and say what became of each."""
        rows = [self._row(event) for events in submissions for event in events]
        inserted: set[str] = set()
        for start in range(0, len(rows), ROWS_PER_STATEMENT):
            chunk = rows[start : start + ROWS_PER_STATEMENT]
            sql = _insert_sql(self._table, self._marker, len(chunk))
            params = [value for row in chunk for value in row]
            try:
                cursor.execute(sql, params)
                inserted.update(key for (key,) in cursor.fetchall())
            except self._dbapi_error as exc:
                raise DBAPIError.instance(
                    sql, None, exc, self._dbapi_error, dialect=self._dialect
                ) from exc
        cursor.execute(f"SELECT max(id) FROM {self._table}")
        (watermark,) = cursor.fetchone()
        outcomes: list[Acceptance] = []
        for events in submissions:
            results: list[IngestResult] = []
            for event in events:
                if event.event_key in inserted:
                    inserted.discard(event.event_key)  # a repeat later in the batch is a duplicate
                    results.append(IngestResult(event.event_key, "accepted"))
                else:
                    results.append(IngestResult(event.event_key, "duplicate"))
            outcomes.append(Acceptance(results, int(watermark or 0)))
        return outcomes

    def _row(self, event: AlertEvent) -> list[Any]:
        values = (
            event.event_key,
            event.problem_key,
            event.source,
            event.instance,
            event.kind.value,
            event.severity.value,
            event.title,
            dict(event.resource_ids),
            event.detected_at,
            event.detected_at_estimated,
            event.received_at,
            event.raw,
        )
        return [process(value) for process, value in zip(self._processors, values, strict=True)]


def _unchanged(value: Any) -> Any:
    """The bind processor of a column whose values the driver takes as they are."""
    return value


@lru_cache(maxsize=ROWS_PER_STATEMENT)
def _insert_sql(table: str, marker: str, rows: int) -> str:
    row = "(" + ", ".join([marker] * len(COLUMNS)) + ")"
    return (
        f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES {', '.join([row] * rows)}"
        " ON CONFLICT (event_key) DO NOTHING RETURNING event_key"
    )
