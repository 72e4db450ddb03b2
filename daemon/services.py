"""Everything a running daemon is wired from, built once by the app factory.

There is no global state: tests build as many independent `Services` as they like,
each with its own database and an injected time source.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from daemon.batcher import CommitBatcher
from daemon.config import Config
from daemon.ingest import Ingestor
from daemon.store.db import make_engine, session_factory

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    """The daemon's collaborators; `clock` is the only source of "now"."""

    config: Config
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Clock
    ingestor: Ingestor
    batcher: CommitBatcher
    extras: dict[str, object] = field(default_factory=dict)

    @property
    def horizon(self) -> timedelta:
        return timedelta(days=self.config.ingest.window_horizon_days)

    def start(self) -> None:
        self.batcher.start()

    def stop(self) -> None:
        self.batcher.stop()


def build_services(
    config: Config, clock: Clock = system_clock, engine: Engine | None = None
) -> Services:
    engine = engine or make_engine(config.database.url, echo=config.database.echo)
    sessions = session_factory(engine)
    ingestor = Ingestor(
        plans=dict(config.plans), horizon=timedelta(days=config.ingest.window_horizon_days)
    )
    batcher = CommitBatcher(sessions, ingestor, clock, max_events=config.ingest.commit_batch_max)
    return Services(config, engine, sessions, clock, ingestor, batcher)
