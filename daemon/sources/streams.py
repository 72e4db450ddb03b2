"""The leader's consumers of source streams (a Pub/Sub pull subscription and the like).

A `StreamWorker` is a long-running, leader-only thread per instance whose connector
`streams`: it calls the connector's `receive` again and again, and commits what each call
read (events to the inbox, notices to the notice store) before `receive` acknowledges it
to the source. A crash between the two leaves the messages unacknowledged, and the
source delivers them again; event keys make that redelivery a duplicate, never a second
event.

`Runtime` starts the workers when this process becomes leader and stops them when it
steps down or stops. A failing read backs off (``2**(n-1)`` seconds after the n-th
failure in a row, at most `BACKOFF_CAP`), is logged and counted
(``slad_connector_failures_total``); after `failure_threshold` failures in a row an
instance that is not polled opens a monitoring fault (scope ``<source>:<instance>``), closed
by the next successful read. A polled instance leaves faults to its poller, which
observes the same source.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from connectors.source import SourceUnreachable, StreamBatch
from daemon.faults import close_fault, open_fault
from daemon.notices import record_notices
from daemon.sources.runner import InstanceRunner
from daemon.sources.state import record_accepted

log = logging.getLogger("slad.sources")

BACKOFF_CAP = timedelta(minutes=5)
IDLE_PAUSE_SECONDS = 1.0  # after a read that brought nothing, so an empty stream never spins
STOP_WAIT_SECONDS = 30.0


@dataclass
class StreamWorker:
    """The consumer of one instance's stream, run on the leader (module docstring)."""

    runner: InstanceRunner
    clock: Callable[[], datetime]
    name: str = field(init=False)
    failures: int = 0
    first_failure_at: datetime | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        self.name = f"stream:{self.runner.name}"

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"slad-{self.name}", daemon=True)
        self._thread.start()
        log.info("%s: consuming", self.name)

    def stop(self, wait: bool = True) -> None:
        """Stop reading; with `wait`, until the read under way has finished."""
        self._stop.set()
        thread = self._thread
        if wait and thread is not None:
            thread.join(STOP_WAIT_SECONDS)
        self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            pause = self.step()
            if pause:
                self._stop.wait(pause)

    def step(self) -> float:
        """One read and its bookkeeping; the seconds to wait before the next read.

        Recording a failure or a recovery writes the instance's fault to the database,
        which may be down as well: that is logged and retried with the next read (the
        count of failures is kept), never allowed to end the consumer."""
        try:
            taken = self.read_once()
        except Exception:
            log.exception("%s: recording the read's outcome failed", self.name)
            return self._backoff().total_seconds()
        if taken is None:
            return self._backoff().total_seconds()
        return IDLE_PAUSE_SECONDS if taken == 0 else 0.0

    def read_once(self) -> int | None:
        """One read: the number of messages taken, or None when the read failed."""
        runner = self.runner
        try:
            taken = runner.connector.receive(runner.instance, self.commit, self.clock)
        except Exception as exc:
            self._failed(exc)
            return None
        if self.failures:
            self._recovered()
        return taken

    def commit(self, batch: StreamBatch) -> None:
        """Commit what a read brought; returns only once it is committed."""
        runner = self.runner
        now = self.clock()
        if batch.events:
            runner.inbox.submit(batch.events).result()
        if batch.notices:
            with runner.sessions.begin() as session:
                record_notices(session, batch.notices, now)
        note = batch.note or f"{len(batch.events)} event(s), {len(batch.notices)} notice(s)"
        record_accepted(runner.sessions, runner.connector.name, runner.instance.name, note, now)

    def _failed(self, exc: Exception) -> None:
        runner = self.runner
        now = self.clock()
        self.failures += 1
        self.first_failure_at = self.first_failure_at or now
        error = str(exc) or exc.__class__.__name__
        if isinstance(exc, SourceUnreachable):
            log.warning("%s unreadable: %s", self.name, error)
        else:
            log.exception("%s read failed", self.name)
        runner.on_failure(runner.connector.name, runner.instance.name)
        if self.failures >= runner.instance.failure_threshold and not runner.polls():
            with runner.sessions.begin() as session:
                open_fault(
                    session,
                    runner.fault_source,
                    self.first_failure_at,
                    self.failures,
                    error,
                    now,
                    runner.horizon,
                )

    def _recovered(self) -> None:
        runner = self.runner
        log.info("%s: reading again after %d failure(s)", self.name, self.failures)
        if self.failures >= runner.instance.failure_threshold and not runner.polls():
            with runner.sessions.begin() as session:
                close_fault(session, runner.fault_source, self.clock(), runner.horizon)
        self.failures = 0
        self.first_failure_at = None

    def _backoff(self) -> timedelta:
        return min(timedelta(seconds=2 ** min(max(self.failures, 1) - 1, 16)), BACKOFF_CAP)


def stream_workers(
    runners: list[InstanceRunner], clock: Callable[[], datetime]
) -> list[StreamWorker]:
    """A worker for every instance whose connector keeps a stream for it."""
    return [StreamWorker(r, clock) for r in runners if r.connector.streams(r.instance)]
