"""What the daemon's log configuration lets through."""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from apscheduler.events import EVENT_JOB_MAX_INSTANCES, JobEvent
from apscheduler.schedulers.background import BackgroundScheduler

from daemon.logs import configure


@pytest.fixture
def log() -> Iterator[io.StringIO]:
    """What the daemon's logging, as `slad run` configures it, writes; the test run's
    logging afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure("text", "INFO")
    written = io.StringIO()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(written)
    try:
        yield written
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def test_a_run_skipped_while_the_last_one_runs_is_not_logged(log: io.StringIO) -> None:
    """A job that falls due while it still runs is skipped by design; the daemon's
    log does not say so every few seconds, and other scheduler warnings still show."""
    release, skipped = threading.Event(), threading.Event()

    def listener(event: JobEvent) -> None:
        skipped.set()

    scheduler = BackgroundScheduler(timezone=UTC)
    scheduler.add_listener(listener, EVENT_JOB_MAX_INSTANCES)
    job = scheduler.add_job(
        release.wait,
        "interval",
        id="due",
        hours=1,
        next_run_time=datetime.now(UTC),
        max_instances=1,
        coalesce=True,
    )
    scheduler.start()
    try:
        job.modify(next_run_time=datetime.now(UTC))  # due again while it runs
        assert skipped.wait(10), "the scheduler never skipped the overlapping run"
    finally:
        release.set()
        scheduler.shutdown(wait=True)
    logging.getLogger("apscheduler.scheduler").warning("Run time of job was missed by 0:01:00")
    written = log.getvalue()
    assert "maximum number of running instances" not in written
    assert "WARNING apscheduler.scheduler Run time of job was missed" in written
