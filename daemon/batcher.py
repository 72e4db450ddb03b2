"""Group commit for ingest: many concurrent requests, one transaction.

A webhook may only answer 2xx once its events are committed, and a commit (an fsync on
SQLite, a round trip on PostgreSQL) costs far more than applying one event. The batcher
is one writer thread that drains every submission waiting in its queue, applies them in
one transaction (the ingestor's fast path, without savepoints) and commits once, then
completes each submission's future. On SQLite it is also the one writer the database
wants. Should the shared transaction fail, each submission is retried in its own, with
a savepoint per event, so one poisoned event fails only its own submission.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from connectors.events import AlertEvent
from daemon.ingest import Ingestor, IngestResult

log = logging.getLogger("slad.ingest")

AfterCommit = Callable[[Sequence[IngestResult]], None]


@dataclass
class _Submission:
    events: Sequence[AlertEvent]
    future: Future[list[IngestResult]] = field(default_factory=Future)


class CommitBatcher:
    """Serialises ingest into batched transactions on a background thread."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        ingestor: Ingestor,
        clock: Callable[[], datetime],
        max_events: int = 500,
        after_commit: AfterCommit | None = None,
    ) -> None:
        self._sessions = sessions
        self._ingestor = ingestor
        self._clock = clock
        self._max_events = max_events
        self._after_commit = after_commit
        self._queue: queue.Queue[_Submission | None] = queue.Queue()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="slad-ingest", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Finish everything already submitted, then stop the writer thread."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def submit(self, events: Sequence[AlertEvent]) -> Future[list[IngestResult]]:
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
        try:
            with self._sessions.begin() as session:
                now = self._clock()
                outcomes = self._ingestor.apply_batch(session, [s.events for s in batch], now)
        except Exception:
            log.warning(
                "batched ingest commit failed; retrying submissions one by one", exc_info=True
            )
            for submission in batch:
                self._process_alone(submission)
            return
        for submission, results in zip(batch, outcomes, strict=True):
            self._complete(submission, results)

    def _process_alone(self, submission: _Submission) -> None:
        try:
            with self._sessions.begin() as session:
                results = self._ingestor.apply(session, submission.events, self._clock())
        except Exception as exc:
            log.exception("ingest failed for a submission of %d events", len(submission.events))
            submission.future.set_exception(exc)
            return
        self._complete(submission, results)

    def _complete(self, submission: _Submission, results: list[IngestResult]) -> None:
        submission.future.set_result(results)
        if self._after_commit is not None:
            try:
                self._after_commit(results)
            except Exception:
                log.exception("after-commit hook failed")
