"""The daemon's background work, run by APScheduler in the daemon process.

Every replica tries for leadership every `leader_retry_seconds`. The leader:
records a gap in the heartbeat as a monitoring fault, catches up on everything that
fell due while nobody led, then keeps one `due` job armed at the earliest pending
instant (re-armed whenever facts change, with a slow safety re-check), delivers the
outbox, writes the heartbeat, runs the source pollers and starts the long-running
stream consumers (stopped again when it steps down). Followers only serve HTTP.

Work itself lives in plain objects that take `now` (`DueProcessor`, `OutboxWorker`,
`DowntimeRecorder`, pollers), so tests drive them directly with an injected clock;
this module only decides when they run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from apscheduler.schedulers.background import BackgroundScheduler

from daemon.config import SchedulerConfig
from daemon.leader import Leadership
from daemon.outbox import OutboxWorker
from daemon.scheduler import DowntimeRecorder, DueProcessor

log = logging.getLogger("slad.runtime")

POKE_SPACING = timedelta(seconds=1)  # a storm of changes re-arms at most once a second


class Poller(Protocol):
    """A source's periodic reconciliation (leader only).

    `tick` runs every `interval` (spread by up to `jitter` either way, so instances and
    replicas do not poll in step); it may skip a run, e.g. to back off after failures.
    """

    name: str
    interval: timedelta
    jitter: timedelta

    def tick(self, now: datetime) -> None: ...


class Stream(Protocol):
    """A leader-only long-running consumer (a source's pull subscription): started when
    this process becomes leader, stopped when it steps down or stops."""

    name: str

    def start(self) -> None: ...

    def stop(self, wait: bool = True) -> None: ...


@dataclass
class Runtime:
    config: SchedulerConfig
    clock: Callable[[], datetime]
    leadership: Leadership
    processor: DueProcessor
    outbox: OutboxWorker
    downtime: DowntimeRecorder
    pollers: list[Poller] = field(default_factory=list)
    streams: list[Stream] = field(default_factory=list)
    on_leader_change: Callable[[bool], None] | None = None
    leading: bool = False
    _scheduler: BackgroundScheduler | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _next_poke: datetime = datetime(2000, 1, 1, tzinfo=UTC)

    def start(self) -> None:
        scheduler = BackgroundScheduler(timezone=UTC)
        scheduler.add_job(
            self._leader_tick,
            "interval",
            id="leader",
            seconds=self.config.leader_retry_seconds,
            next_run_time=datetime.now(UTC),
            max_instances=1,
            coalesce=True,
        )
        self._scheduler = scheduler  # set first: the leader job may run at once
        scheduler.start()

    def stop(self) -> None:
        # Jobs reach the scheduler only under `_lock` and only while `_scheduler` is set;
        # clearing it first lets running jobs finish without touching the scheduler,
        # whose shutdown holds its job-store lock while it waits for them.
        with self._lock:
            scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None:
            scheduler.shutdown(wait=True)
        for stream in self.streams:
            stream.stop()
        if self.leading:
            self.leadership.release()
            self._set_leading(False)

    def poke(self) -> None:
        """Facts changed: re-arm the due job and deliver new outbox rows soon.

        Soon, not at once: pokes are spaced `POKE_SPACING` apart, so a burst of ingest
        commits costs one re-arm a second instead of one per commit.
        """
        if not self.leading:
            return
        now = datetime.now(UTC)
        with self._lock:
            if self._scheduler is None or now < self._next_poke - POKE_SPACING:
                return  # a poke is already scheduled for the next slot
            when = max(now, self._next_poke)
            self._next_poke = when + POKE_SPACING
            for job_id in ("due", "outbox"):
                job = self._scheduler.get_job(job_id)
                if job is not None and (job.next_run_time is None or when < job.next_run_time):
                    job.modify(next_run_time=when)

    def _set_leading(self, leading: bool) -> None:
        self.leading = leading
        if self.on_leader_change is not None:
            self.on_leader_change(leading)

    def _leader_tick(self) -> None:
        with self._lock:
            leading = self.leadership.try_acquire()
            if leading and not self.leading:
                self._become_leader()
            elif not leading and self.leading:
                self._step_down()

    def _become_leader(self) -> None:
        if self._scheduler is None:
            return
        now = self.clock()
        self.downtime.record_gap(now)
        self.downtime.beat(now)
        self._set_leading(True)
        jobs: list[tuple[str, Callable[[], None], float, bool, float]] = [
            ("due", self._run_due, self.config.rearm_seconds, True, 0),
            ("outbox", self._run_outbox, self.config.outbox_interval_seconds, True, 0),
            ("heartbeat", self._beat, self.config.heartbeat_seconds, False, 0),
        ]
        jobs += [
            (
                f"poll:{p.name}",
                self._guarded(p),
                p.interval.total_seconds(),
                True,
                p.jitter.total_seconds(),
            )
            for p in self.pollers
        ]
        real_now = datetime.now(UTC)
        for job_id, run, seconds, at_once, jitter in jobs:
            # APScheduler reads an explicit next_run_time=None as "paused": omit it instead.
            start = {"next_run_time": real_now} if at_once else {}
            spread = {"jitter": int(jitter)} if jitter >= 1 else {}
            self._scheduler.add_job(
                run,
                "interval",
                id=job_id,
                seconds=seconds,
                max_instances=1,
                coalesce=True,
                **start,
                **spread,
            )
        for stream in self.streams:
            stream.start()
        log.info("leading: scheduler, outbox, pollers and streams started")

    def _step_down(self) -> None:
        if self._scheduler is None:
            return
        for job in self._scheduler.get_jobs():
            if job.id != "leader":
                job.remove()
        for stream in self.streams:
            stream.stop(wait=False)  # under the leader lock: never wait on a read here
        self._set_leading(False)
        log.warning("no longer leading: background work stopped")

    def _run_due(self) -> None:
        try:
            self.processor.run_due(self.clock(), stopping=lambda: self._scheduler is None)
        except Exception:
            log.exception("recording due clocks failed")
        self._arm()

    def _arm(self) -> None:
        """Wake the due job at the earliest pending instant (or the safety re-check)."""
        nxt = self.processor.next_due()
        if nxt is None:
            return
        when = max(nxt, datetime.now(UTC))
        with self._lock:
            job = None if self._scheduler is None else self._scheduler.get_job("due")
            if job is not None and (job.next_run_time is None or when < job.next_run_time):
                job.modify(next_run_time=when)

    def _run_outbox(self) -> None:
        try:
            if self.outbox.deliver_due(self.clock()):
                self._arm()
        except Exception:
            log.exception("outbox delivery failed")

    def _beat(self) -> None:
        try:
            self.downtime.beat(self.clock())
        except Exception:
            log.exception("heartbeat failed")

    def _guarded(self, poller: Poller) -> Callable[[], None]:
        def run() -> None:
            try:
                poller.tick(self.clock())
            except Exception:
                log.exception("poller %s failed", poller.name)
            self._arm()

        return run
