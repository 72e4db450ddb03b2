"""The ingest inbox: accepted events are committed first and correlated after.

A source may only be answered 2xx once its events are durable, and a commit (an fsync
on SQLite, a round trip on PostgreSQL) costs far more than storing one row. The writer
is one thread that drains every submission waiting in its queue, inserts their events
into `alert_events` with one statement (SQLAlchemy Core, not the ORM: the rows are plain)
and commits once, then completes each
submission's future with `accepted` or `duplicate` per event. Turning the events into
alerts and incidents is the correlator's job (`daemon.correlator`), so a burst of
alerts costs the sender no more than the insert.

Redelivery, a key repeated within a batch and a concurrent duplicate from another
replica are all absorbed by the insert's `ON CONFLICT DO NOTHING`, so none costs an
error or a query of its own.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from connectors.events import AlertEvent
from daemon.ingest import IngestResult
from daemon.store.models import AlertEventRecord

log = logging.getLogger("slad.ingest")


@dataclass(frozen=True, slots=True)
class Acceptance:
    """What the inbox did with one submission.

    `watermark` is the highest inbox id visible when the submission committed: once the
    correlator has no pending event at or below it, every event of the submission (and
    the original of every duplicate stored before it) has been correlated.
    """

    results: list[IngestResult]
    watermark: int


@dataclass
class _Submission:
    events: Sequence[AlertEvent]
    future: Future[Acceptance] = field(default_factory=Future)


class InboxWriter:
    """Serialises inbox inserts into batched transactions on a background thread."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        max_events: int = 500,
        after_commit: Callable[[], None] | None = None,
    ) -> None:
        self._sessions = sessions
        self._max_events = max_events
        self._after_commit = after_commit
        self._queue: queue.Queue[_Submission | None] = queue.Queue()
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
        if self._thread is None:
            raise RuntimeError("the ingest writer is not running")
        submission = _Submission(events)
        self._queue.put(submission)
        return submission.future

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
            with self._sessions.begin() as session:
                outcomes = accept(session, [s.events for s in batch])
        except Exception as exc:
            if len(batch) > 1:
                for submission in batch:
                    self._process([submission])
                return
            log.exception(
                "the inbox could not commit a submission of %d events", len(batch[0].events)
            )
            batch[0].future.set_exception(exc)
            return
        for submission, acceptance in zip(batch, outcomes, strict=True):
            submission.future.set_result(acceptance)
        if self._after_commit is not None:
            self._after_commit()


def accept(session: Session, submissions: Sequence[Sequence[AlertEvent]]) -> list[Acceptance]:
    """Insert every new event of `submissions` into the inbox, in order.

    One multi-row `INSERT ... ON CONFLICT DO NOTHING RETURNING event_key`: the keys it
    returns were stored now; any other (stored before, by another replica in between,
    or earlier in this very batch) is a duplicate.
    """
    rows = [_row(event) for events in submissions for event in events]
    inserted = set(session.execute(_insert_ignoring_duplicates(session), rows).scalars())
    watermark = session.scalar(select(func.max(AlertEventRecord.id))) or 0
    outcomes: list[Acceptance] = []
    for events in submissions:
        results: list[IngestResult] = []
        for event in events:
            if event.event_key in inserted:
                inserted.discard(event.event_key)  # a repeat later in the batch is a duplicate
                results.append(IngestResult(event.event_key, "accepted"))
            else:
                results.append(IngestResult(event.event_key, "duplicate"))
        outcomes.append(Acceptance(results, watermark))
    return outcomes


def _insert_ignoring_duplicates(session: Session) -> Any:
    table = AlertEventRecord.__table__
    assert isinstance(table, Table)
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        insert(table)
        .on_conflict_do_nothing(index_elements=["event_key"])
        .returning(table.c.event_key)
    )


def _row(event: AlertEvent) -> dict[str, Any]:
    return {
        "event_key": event.event_key,
        "problem_key": event.problem_key,
        "source": event.source,
        "instance": event.instance,
        "kind": event.kind.value,
        "severity": event.severity.value,
        "title": event.title,
        "resource_ids": dict(event.resource_ids),
        "detected_at": event.detected_at,
        "detected_at_estimated": event.detected_at_estimated,
        "received_at": event.received_at,
        "raw": event.raw,
    }
