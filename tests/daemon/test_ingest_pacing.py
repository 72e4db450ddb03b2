"""Ingest comes first: the correlator yields the store while the inbox waits for it."""

from __future__ import annotations

import socket
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from daemon.api.events import to_alert_event
from daemon.api.schemas import EventIn
from daemon.correlator import (
    BATCH_GROWTH_MAX,
    FIRST_EVENT_COST,
    PASS_EVENTS_MAX,
    PASS_GAP,
    YIELD_GAP_MAX,
    YIELD_HOLD,
    BatchSize,
    Pacing,
)
from daemon.correlator_process import SocketSignal
from daemon.inbox import ContentionMeter, InboxWriter
from daemon.store.db import begin_immediate, make_engine, upgrade
from tests.daemon.conftest import FakeMonotonic, event

T0 = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'slad.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


def held_write_lock(path: str, seconds: float) -> sqlite3.Connection:
    """Another writer holding SQLite's write lock for `seconds`, then committing."""
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    threading.Timer(seconds, other.commit).start()
    return other


def test_begin_immediate_reports_how_long_another_writer_held_the_store(
    sqlite_engine: Engine,
) -> None:
    path = str(sqlite_engine.url.database)
    free = sqlite_engine.raw_connection()
    try:
        assert begin_immediate(free.dbapi_connection) == 0.0
        free.rollback()
        other = held_write_lock(path, 0.05)
        assert begin_immediate(free.dbapi_connection) >= 0.04
        free.rollback()
        other.close()
    finally:
        free.close()


def test_the_meter_complains_only_when_waits_fill_a_fifth_of_the_window() -> None:
    ticks = FakeMonotonic()
    meter = ContentionMeter(window=0.1, share=0.2, timer=ticks)
    ticks.now += 0.05
    assert meter.record(0.03) is False  # the window is not over yet
    ticks.now += 0.05
    assert meter.record(0.0) is True  # 30 ms of 100 ms spent waiting
    ticks.now += 0.1
    assert meter.record(0.01) is False  # a lone short wait in a new window
    ticks.now += 1.0
    assert meter.record(0.15) is False  # 150 ms of a whole second


def test_pacing_backs_off_while_ingest_waits_and_recovers_after_a_quiet_spell() -> None:
    ticks = FakeMonotonic()
    pacing = Pacing(timer=ticks)
    assert pacing.after_pass(contended=False) == PASS_GAP
    gaps = [pacing.after_pass(contended=True) for _ in range(10)]
    assert gaps[0] == 2 * PASS_GAP
    assert gaps[-1] == YIELD_GAP_MAX
    ticks.now += YIELD_HOLD / 2
    assert pacing.after_pass(contended=False) == YIELD_GAP_MAX  # still holding back
    ticks.now += YIELD_HOLD
    assert pacing.after_pass(contended=False) == YIELD_GAP_MAX / 2
    settled = [pacing.after_pass(contended=False) for _ in range(10)]
    assert settled[-1] == PASS_GAP


def test_a_backlog_grows_the_batch_until_a_pass_empties_the_inbox() -> None:
    """Passes that each leave events behind take ever more of them, so a storm's
    backlog shares each pass's fixed cost among more events; once one empties the
    inbox, the next is back to what one budget covers."""
    budget = 100 * FIRST_EVENT_COST  # a hundred events at the first estimate
    batch = BatchSize(budget)
    assert batch.limit() == 100
    limits = []
    for _ in range(6):
        batch.after_pass(full=True, contended=False)
        limits.append(batch.limit())
    assert limits == [min(100 * 2**n, 100 * BATCH_GROWTH_MAX) for n in range(1, 7)]
    batch.after_pass(full=False, contended=False)
    assert batch.limit() == 100


def test_the_batch_never_grows_past_its_cap_or_while_ingest_waits_for_the_store() -> None:
    batch = BatchSize(1000 * FIRST_EVENT_COST)
    for _ in range(4):
        batch.after_pass(full=True, contended=False)
    assert batch.limit() == PASS_EVENTS_MAX
    batch.after_pass(full=True, contended=True)  # SQLite: a longer pass holds the lock longer
    assert batch.limit() == 1000


def test_the_inbox_asks_the_correlator_to_yield_when_it_waited_for_the_store(
    sqlite_engine: Engine,
) -> None:
    complaints: list[str] = []
    inbox = InboxWriter(
        sqlite_engine,
        on_contended=lambda: complaints.append("yield"),
        contention=ContentionMeter(window=0.0),  # judge every commit on its own
    )
    inbox.start()
    try:
        first = to_alert_event(EventIn.model_validate(event("e1", "problem", T0)), T0)
        assert inbox.submit([first]).result(timeout=10).results[0].status == "accepted"
        assert complaints == []
        other = held_write_lock(str(sqlite_engine.url.database), 0.1)
        second = to_alert_event(EventIn.model_validate(event("e2", "problem", T0)), T0)
        assert inbox.submit([second]).result(timeout=10).results[0].status == "accepted"
        other.close()
        assert complaints == ["yield"]
    finally:
        inbox.stop()


def test_the_child_reads_yield_requests_apart_from_wake_ups() -> None:
    ours, theirs = socket.socketpair()
    signal = SocketSignal(theirs)
    try:
        ours.send(b"w")
        assert signal.contended() is False
        ours.send(b"wyw")
        assert signal.contended() is True
        assert signal.contended() is False  # consumed
        assert signal.stopping is False
    finally:
        ours.close()
        theirs.close()
