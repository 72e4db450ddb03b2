"""Everything a running daemon is wired from, built once by the app factory.

There is no global state: tests build as many independent `Services` as they like,
each with its own database and an injected time source, and drive the background
work (`processor`, `outbox`, `downtime`) directly instead of starting `runtime`.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from daemon.auth import TokenCache
from daemon.config import Config
from daemon.correlator import Correlator
from daemon.correlator_process import CorrelatorProcess
from daemon.inbox import InboxWriter
from daemon.ingest import Ingestor
from daemon.leader import leadership_for
from daemon.metrics import Metrics
from daemon.notices import NoticeWorker
from daemon.notifier import Notifier, notifying_ingestor
from daemon.notify.channels import build_channels
from daemon.notify.templates import TemplateSet
from daemon.outbox import OutboxWorker
from daemon.runtime import Runtime
from daemon.scheduler import DowntimeRecorder, DueProcessor
from daemon.sources.runner import SourceRuntime, build_sources
from daemon.sources.streams import stream_workers
from daemon.store.db import WalCheckpointer, make_engine, read_only_sessions, session_factory

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    """The daemon's collaborators; `clock` is the only source of "now"."""

    config: Config
    engine: Engine
    sessions: sessionmaker[Session]
    readers: sessionmaker[Session]
    clock: Clock
    ingestor: Ingestor
    inbox: InboxWriter
    correlator: Correlator | CorrelatorProcess
    notifier: Notifier
    processor: DueProcessor
    outbox: OutboxWorker
    downtime: DowntimeRecorder
    runtime: Runtime
    metrics: Metrics
    notices: NoticeWorker
    sources: SourceRuntime
    background: bool = True
    tokens: TokenCache = field(default_factory=TokenCache)
    checkpointer: WalCheckpointer = field(init=False)

    def __post_init__(self) -> None:
        self.checkpointer = WalCheckpointer(self.engine)

    @property
    def horizon(self) -> timedelta:
        return timedelta(days=self.config.ingest.window_horizon_days)

    def start(self) -> None:
        self.checkpointer.start()
        self.correlator.start()
        self.inbox.start()
        if self.background:
            self.runtime.start()

    def stop(self) -> None:
        """Stop the background work (its pollers and streams commit through the inbox),
        commit what was accepted, then stop; pending correlation resumes at next start."""
        if self.background:
            self.runtime.stop()
        self.inbox.stop()
        self.correlator.stop()
        self.checkpointer.stop()


def build_services(
    config: Config,
    clock: Clock = system_clock,
    engine: Engine | None = None,
    background: bool = True,
) -> Services:
    """Wire the daemon. `background=False` leaves scheduling to the caller (tests)."""
    engine = engine or make_engine(config.database.url, echo=config.database.echo)
    sessions = session_factory(engine)
    quiet_sessions = session_factory(engine)
    readers = read_only_sessions(engine)
    horizon = timedelta(days=config.ingest.window_horizon_days)
    notifier = Notifier(config.notify, TemplateSet.load(config.notify.templates_dir))
    ingestor = notifying_ingestor(config, notifier)
    metrics = Metrics(readers, clock)
    processor = DueProcessor(
        quiet_sessions,
        readers,
        notifier,
        config.calendar,
        horizon,
        observe_lag=metrics.observe_scheduler_lag,
    )
    outbox = OutboxWorker(
        quiet_sessions,
        readers,
        build_channels(config.notify, clock),
        horizon,
        observe=metrics.observe_delivery,
    )
    downtime = DowntimeRecorder(
        quiet_sessions,
        horizon,
        holder=f"{socket.gethostname()}:{os.getpid()}",
        threshold=timedelta(seconds=config.scheduler.downtime_threshold_seconds),
    )
    runtime = Runtime(
        config.scheduler,
        clock,
        leadership_for(engine, config.scheduler.cluster),
        processor,
        outbox,
        downtime,
        on_leader_change=metrics.set_leader,
    )
    event.listen(sessions, "after_commit", lambda _session: runtime.poke())
    correlator: Correlator | CorrelatorProcess
    if config.ingest.correlator == "process":
        correlator = CorrelatorProcess(config, readers, on_change=runtime.poke)
    else:
        correlator = Correlator(
            sessions,
            ingestor,
            clock,
            pass_seconds=config.ingest.correlation_pass_ms / 1000,
            readers=readers,
        )
    inbox = InboxWriter(
        engine,
        max_events=config.ingest.commit_batch_max,
        after_commit=correlator.wake,
        on_contended=correlator.yield_to_ingest,
    )
    notices = NoticeWorker(
        quiet_sessions,
        readers,
        notifier,
        horizon,
        interval=timedelta(seconds=config.scheduler.outbox_interval_seconds),
    )
    runtime.pollers.append(notices)
    sources = build_sources(
        config.sections,
        sessions,
        inbox,
        horizon,
        on_health=metrics.set_connector_up,
        on_failure=metrics.count_connector_failure,
    )
    runtime.pollers.extend(r for r in sources.runners.values() if r.polls())
    runtime.streams.extend(stream_workers(list(sources.runners.values()), clock))
    return Services(
        config,
        engine,
        sessions,
        readers,
        clock,
        ingestor,
        inbox,
        correlator,
        notifier,
        processor,
        outbox,
        downtime,
        runtime,
        metrics,
        notices,
        sources,
        background,
    )
