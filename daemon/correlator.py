"""The correlator: turns inbox events into alerts and incidents, oldest first.

It runs on its own thread and wakes when the inbox commits (and every `idle_poll`
seconds, which picks up events another replica accepted). Each pass takes the oldest
pending events, correlates them in one transaction and commits. A pass has a fixed
cost (reading the pending rows and what they touch, the commit) that no event pays
alone: the batch is the backlog, as much of it as `BatchSize` says the per-event work
of `pass_seconds` covers at the cost an event was measured to take (doubled after each
pass that leaves events behind, up to `BATCH_GROWTH_MAX` times), so a storm's
backlog is correlated in large batches and a lone alert at once.

Ingest comes first: a source waits for its answer, an incident can wait a moment for
its alert. When the inbox spends a fifth of its time waiting for the store's write
lock (only SQLite has one), it says so (`yield_to_ingest`), and the correlator doubles
the pause between its passes, up to `YIELD_GAP_MAX`; once the inbox has not said so
for `YIELD_HOLD` seconds the pause halves back towards `PASS_GAP` (`Pacing`). So under
an alert storm correlation keeps a share of the store's time that grows with the
batch a pass takes, and at any lesser load it runs at full speed.

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
from typing import Protocol

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from daemon.ingest import Ingestor
from daemon.leader import lock_key
from daemon.store.models import AlertEventRecord

log = logging.getLogger("slad.ingest")

PASS_EVENTS_MIN = 16  # a pass reads at least this many pending events (if there are)
PASS_EVENTS_MAX = 2000  # and at most this many, however cheap events were measured
BATCH_GROWTH_MAX = 16  # a backlog lets a pass take up to this many budgets' worth
FIRST_EVENT_COST = 0.001  # seconds an event is taken to cost before one was measured
RETRY_PAUSE = 1.0  # seconds before retrying after the store failed a whole pass
PASS_GAP = 0.002  # seconds between passes, in which a waiting inbox commit gets the store
YIELD_GAP_MAX = 0.032  # longest pause between passes while the inbox waits for the store
YIELD_HOLD = 0.25  # seconds without a complaint from the inbox before the pause shrinks


class Signal(Protocol):
    """What `serve` waits on: `ThreadSignal`, or the child process's socket
    (`daemon.correlator_process.SocketSignal`)."""

    def wait(self, timeout: float | None = None) -> bool: ...

    def clear(self) -> None: ...

    def is_set(self) -> bool: ...

    def contended(self) -> bool:
        """Whether the inbox said it is held up since the last look (consumes it)."""
        ...


class ThreadSignal:
    """`Signal` for the correlator thread: the inbox's wake-up and contention flags."""

    def __init__(self) -> None:
        self._wake = threading.Event()
        self._contended = threading.Event()

    def set(self) -> None:
        self._wake.set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._wake.wait(timeout)

    def clear(self) -> None:
        self._wake.clear()

    def is_set(self) -> bool:
        return self._wake.is_set()

    def set_contended(self) -> None:
        self._contended.set()

    def contended(self) -> bool:
        contended = self._contended.is_set()
        self._contended.clear()
        return contended


class Pacing:
    """The pause before each pass: doubled (up to `YIELD_GAP_MAX`) whenever the inbox
    says it is held up by correlation, halved back towards `PASS_GAP` once it has not
    said so for `YIELD_HOLD` seconds."""

    def __init__(self, timer: Callable[[], float] = time.monotonic) -> None:
        self._timer = timer
        self.gap = PASS_GAP
        self._complained = -YIELD_HOLD

    def after_pass(self, contended: bool) -> float:
        now = self._timer()
        if contended:
            self._complained = now
            self.gap = min(YIELD_GAP_MAX, self.gap * 2)
        elif now - self._complained >= YIELD_HOLD:
            self.gap = max(PASS_GAP, self.gap / 2)
        return self.gap


class BatchSize:
    """How many pending events a pass reads: enough that the per-event work fills
    `budget` seconds at the cost per event measured so far (a moving average over
    passes), between `PASS_EVENTS_MIN` and `PASS_EVENTS_MAX`. The pass's fixed cost
    (reading the pending rows and what they touch, the commit) is left out of the
    measure, so it never shrinks the batch: a pass whose fixed cost alone exceeds the
    budget still takes as many events as the budget covers.

    A backlog makes the batch grow (`after_pass`): each pass that took a full batch
    and left events behind doubles the next one's budget, up to `BATCH_GROWTH_MAX`
    budgets, so a storm is worked off in passes whose fixed cost (the correlators'
    turn on PostgreSQL, reading what the batch touches, the commit, much of it waiting
    on the server) is shared by more events: on PostgreSQL, where ingest never waits
    for a pass, a tenfold `correlation_pass_ms` took one replica's correlation from
    1,541 to 1,763 events/s and two replicas' from 981 to 1,651/s under the same load.
    Growing only while a backlog lasts keeps a lone alert's pass short. A pass that
    empties the inbox, or an inbox held up by the store (SQLite, where a longer pass
    holds the write lock longer), brings it back to one budget."""

    def __init__(self, budget: float) -> None:
        self._budget = budget
        self.per_event = FIRST_EVENT_COST
        self.growth = 1

    def limit(self) -> int:
        events = int(self._budget * self.growth / self.per_event)
        return max(PASS_EVENTS_MIN, min(PASS_EVENTS_MAX, events))

    def measured(self, events: int, seconds: float) -> None:
        """A pass correlated `events` in `seconds` (its fixed cost left out)."""
        if events:
            self.per_event = 0.7 * self.per_event + 0.3 * max(seconds / events, 1e-6)

    def after_pass(self, full: bool, contended: bool) -> None:
        """The last pass took as many events as it could (`full`: more wait behind
        them); the inbox said it was held up by the store since the pass before."""
        if full and not contended:
            self.growth = min(BATCH_GROWTH_MAX, self.growth * 2)
        else:
            self.growth = 1


class Correlator:
    """Drains the inbox; `run_pending` is the whole job, `serve` only schedules it.

    As a thread (`start`) it runs in the daemon's process with the injected clock;
    `daemon.correlator_process` runs the same `serve` loop in a child process.
    `readers` (read-only sessions, by default `sessions`) serve the callers waiting
    for outcomes.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        ingestor: Ingestor,
        clock: Callable[[], datetime],
        *,
        pass_seconds: float = 0.1,
        idle_poll: float = 1.0,
        after_commit: Callable[[], None] | None = None,
        readers: sessionmaker[Session] | None = None,
    ) -> None:
        self._sessions = sessions
        self._ingestor = ingestor
        self._clock = clock
        self._idle_poll = idle_poll
        self._after_commit = after_commit
        self._signal = ThreadSignal()
        self._pacing = Pacing()
        self._batch = BatchSize(pass_seconds)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._waiters = Waiters(readers or sessions)

    def start(self) -> None:
        if self._thread is None:
            self._stopping.clear()
            self._thread = threading.Thread(
                target=self.serve,
                args=(self._signal, self._stopping.is_set),
                name="slad-correlator",
                daemon=True,
            )
            self._thread.start()

    def stop(self) -> None:
        """Stop the thread after the pass under way; pending events stay in the inbox."""
        if self._thread is not None:
            self._stopping.set()
            self._signal.set()
            self._thread.join()
            self._thread = None

    @property
    def running(self) -> bool:
        """Whether the correlator thread is alive to correlate."""
        return self._thread is not None and self._thread.is_alive()

    def wake(self) -> None:
        self._signal.set()

    def yield_to_ingest(self) -> None:
        """The inbox had to wait for the store: pause longer between passes."""
        self._signal.set_contended()

    def settled(self, watermark: int) -> Future[None]:
        """A future completed once every event with an id <= `watermark` is correlated."""
        future = self._waiters.add(watermark)
        self._signal.set()
        return future

    def serve(self, wake: Signal, stopping: Callable[[], bool]) -> None:
        """Correlate whenever woken (or every `idle_poll` s) until `stopping()`.

        A stop ends the loop after the pass under way: what is still pending stays in
        the inbox, committed, for the next start, so stopping never waits on a backlog.
        """
        while not stopping():
            wake.wait(self._idle_poll)
            wake.clear()
            if stopping():
                return
            try:
                self.run_pending(stopping, contended=wake.contended)
            except Exception:
                log.exception("correlation failed; retrying in %.0f s", RETRY_PAUSE)
                time.sleep(RETRY_PAUSE)

    def run_pending(
        self,
        stopping: Callable[[], bool] = lambda: False,
        contended: Callable[[], bool] = lambda: False,
    ) -> int:
        """Correlate pending events pass by pass until none is left (or `stopping()`);
        the number correlated.

        `contended()` says the inbox was held up by the store since the last look; the
        pause between passes follows `Pacing`, so a backlog left by a burst is cleared
        at full speed once the burst is over.
        """
        done = 0
        while not stopping():
            limit = self._batch.limit()
            count = self._pass(limit)
            done += count
            self._waiters.release()  # a storm's backlog never holds up an earlier caller
            if count == 0:
                break
            held_up = contended()
            self._batch.after_pass(full=count >= limit, contended=held_up)
            time.sleep(self._pacing.after_pass(held_up))
        return done

    def _pass(self, limit: int) -> int:
        try:
            with self._sessions.begin() as session:
                self._take_turn(session)
                records = self._read(session, limit)
                began: list[float] = []
                results = self._ingestor.correlate(
                    session, records, self._clock(), lambda: began.append(time.monotonic())
                )
                count = len(results)
                if began:
                    self._batch.measured(count, time.monotonic() - began[0])
        except Exception:
            log.warning("a correlation pass failed; retrying event by event", exc_info=True)
            count = self._pass_one_by_one(limit)
        if count and self._after_commit is not None:
            self._after_commit()
        return count

    def _take_turn(self, session: Session) -> None:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key("correlator")}
            )

    def _read(self, session: Session, limit: int) -> list[AlertEventRecord]:
        stmt = (
            select(AlertEventRecord)
            .where(AlertEventRecord.outcome.is_(None))
            .order_by(AlertEventRecord.id)
            .limit(limit)
        )
        return list(session.scalars(stmt))

    def _pass_one_by_one(self, limit: int) -> int:
        with self._sessions.begin() as session:
            self._take_turn(session)
            records = self._read(session, limit)
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


class Waiters:
    """Futures waiting for the inbox to be correlated up to a watermark.

    It looks at the inbox every few milliseconds while anyone waits, so give it
    read-only sessions (`daemon.store.db.read_only_sessions`): a look then never takes
    the store's write lock from the inbox or the correlator.
    """

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._lock = threading.Lock()
        self._waiting: list[tuple[int, Future[None]]] = []

    def add(self, watermark: int) -> Future[None]:
        future: Future[None] = Future()
        with self._lock:
            self._waiting.append((watermark, future))
        return future

    def __bool__(self) -> bool:
        with self._lock:
            return bool(self._waiting)

    def release(self) -> None:
        """Complete every waiter whose watermark is below the oldest pending event."""
        if not self:
            return
        with self._sessions() as session:
            lowest = session.scalar(
                select(func.min(AlertEventRecord.id)).where(AlertEventRecord.outcome.is_(None))
            )
        with self._lock:
            still: list[tuple[int, Future[None]]] = []
            for watermark, future in self._waiting:
                if lowest is None or watermark < lowest:
                    future.set_result(None)
                else:
                    still.append((watermark, future))
            self._waiting = still
