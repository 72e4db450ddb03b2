"""Scheduler benchmark: lag from due instant to recorded breach, and RSS, at many open incidents.

Seeds a database in bulk (multi-row Core inserts) with open incidents whose clocks are
evaluated by the engine (the same evaluation ingest stores): first the ones that fall
due much later, then `--due` that reach their contact SLO during the measured window,
which starts once seeding is done however long it took. Then it runs a real `slad run`
process on that database, waits for the window to pass, and reads the breach entries it
recorded: lag = recorded_at - the instant the breach happened. The baseline, measured
in the same run on the same backend, is the same daemon on an empty database (RSS) and
the scheduler's wake-up when a single clock falls due (lag).

    .venv/bin/python bench/scheduler.py [--incidents 100000] [--due 2000] [--check]
    .venv/bin/python bench/scheduler.py --incidents 1000000 \
        --database postgresql://postgres@127.0.0.1/test
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

from sqlalchemy import Table, func, insert, select

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.stores import fresh_database  # noqa: E402
from daemon.clocks import INCIDENT_CLOCKS, policy_snapshot  # noqa: E402
from daemon.store.db import make_engine, session_factory, upgrade  # noqa: E402
from daemon.store.models import (  # noqa: E402
    Clock,
    Contract,
    Customer,
    Incident,
    Resource,
    TimelineEntry,
)
from sla_engine.clock import evaluate_elapsed  # noqa: E402
from sla_engine.intervals import IntervalSet  # noqa: E402
from sla_engine.policy import DEFAULT_PLANS, clocks_for  # noqa: E402

LAG_P99_BUDGET = 1.0
RSS_BUDGET_MB = 300.0
CHUNK = 5000  # rows a multi-row insert writes
INCIDENTS = cast(Table, Incident.__table__)
CLOCKS = cast(Table, Clock.__table__)
STOP_WAIT = 60.0  # seconds slad gets to stop before it is killed (the figures still count)


def registry(url: str) -> tuple[int, int, int]:
    """Migrate the database and make the resource every incident is on: its ids and
    those of its contract and customer."""
    engine = make_engine(url)
    upgrade(engine)
    sessions = session_factory(engine)
    window_start = datetime.now(UTC)
    with sessions.begin() as session:
        customer = Customer(name="bench", locale="ja", created_at=window_start)
        session.add(customer)
        session.flush()
        contract = Contract(
            customer_id=customer.id,
            plan="standard",
            billing_start=window_start.date(),
            created_at=window_start,
        )
        session.add(contract)
        session.flush()
        resource = Resource(
            contract_id=contract.id,
            name="r",
            kind="vm",
            created_at=window_start,
            added_on=contract.billing_start,
        )
        session.add(resource)
        session.flush()
        ids = (resource.id, contract.id, customer.id)
    engine.dispose()
    return ids


def seed(
    url: str,
    ids: tuple[int, int, int],
    numbers: range,
    detected_at: Callable[[int], datetime],
) -> None:
    """Bulk-insert open incidents numbered `numbers`, each detected at `detected_at(n)`,
    with their clocks as the engine judges them now."""
    engine = make_engine(url)
    sessions = session_factory(engine)
    policy = policy_snapshot(clocks_for(DEFAULT_PLANS["standard"], ()), INCIDENT_CLOCKS)
    now = datetime.now(UTC)
    judged: dict[datetime, dict[str, object]] = {}  # incidents detected alike share a verdict
    for first in range(numbers.start, numbers.stop, CHUNK):
        rows: list[dict[str, object]] = []
        clock_rows: list[dict[str, object]] = []
        report_rows: list[dict[str, object]] = []
        for n in range(first, min(first + CHUNK, numbers.stop)):
            detected = detected_at(n)
            rows.append(
                {
                    "id": n + 1,
                    "resource_id": ids[0],
                    "contract_id": ids[1],
                    "customer_id": ids[2],
                    "plan": "standard",
                    "source": "bench",
                    "instance": "",
                    "problem_key": f"p{n}",
                    "group_key": f"p{n}",  # one incident per problem: all open on one resource
                    "title": "bench",
                    "severity": "high",
                    "status": "open",
                    "detected_at": detected,
                    "received_at": detected,
                    "detected_at_estimated": False,
                    "policy": policy,
                    "created_at": now,
                }
            )
            if detected not in judged:
                judged[detected] = contact_clock(detected, now)
            clock_rows.append({"incident_id": n + 1, **judged[detected]})
            report_rows.append(
                {
                    "incident_id": n + 1,
                    "name": "report",
                    "plan": "standard",
                    "state": "pending",
                    "recorded": [],
                }
            )
        with sessions.begin() as session:  # Core's inserts: the ORM's bulk path costs more
            session.execute(insert(INCIDENTS), rows)
            session.execute(insert(CLOCKS), clock_rows)
            session.execute(insert(CLOCKS), report_rows)
    engine.dispose()


def contact_clock(detected: datetime, now: datetime) -> dict[str, object]:
    """The contact clock's columns for an incident detected at `detected`, as the
    engine judges it at `now`."""
    ev = evaluate_elapsed(
        detected,
        None,
        now,
        slo=timedelta(minutes=30),
        sla=timedelta(hours=1),
        exclusions=IntervalSet(),
    )
    assert ev.slo_due is not None and ev.sla_due is not None  # no window: all known
    warned = [w.at for w in ev.warnings if w.at is not None]
    pending = [at for at in warned if at > now] + [ev.slo_due, ev.sla_due]
    return {
        "name": "contact",
        "plan": "standard",
        "start_at": detected,
        "slo_due_at": ev.slo_due,
        "sla_due_at": ev.sla_due,
        "counted_seconds": ev.counted.total_seconds(),
        "state": ev.state.value,
        "due_at": min(pending),
        "recorded": [
            f"warning:{w.fraction:g}" for w in ev.warnings if w.at is not None and w.at <= now
        ],
    }


def rss_mb(pid: int) -> tuple[float, float]:
    """Current and peak resident set size of a process, in MB."""
    fields = dict(
        line.split(":", 1)
        for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        if ":" in line
    )
    return (int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024)


def seed_all(
    url: str, incidents: int, due: int, lead: float, window: float
) -> tuple[datetime, float]:
    """Seed `incidents`, of which `due` breach their contact SLO over `window` seconds
    from `lead` seconds after seeding is done; that instant, and the seeding time."""
    rng = random.Random(20261124)
    started = time.monotonic()
    ids = registry(url)
    # Detected in the minute before each is written, at whole seconds (incidents detected
    # alike are judged once): their first mark, the 50 % warning, then falls 14 minutes
    # or more after it is written, past the window however long the seeding takes up to
    # that (`early_marks` counts any that are not).
    seed(
        url,
        ids,
        range(due, incidents),
        lambda _n: datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=rng.randrange(60)),
    )
    window_start = datetime.now(UTC) + timedelta(seconds=lead)
    breaches = [window_start + timedelta(seconds=rng.uniform(0, window)) for _ in range(due)]
    seed(url, ids, range(due), lambda n: breaches[n] - timedelta(minutes=30))
    return window_start, time.monotonic() - started


def early_marks(url: str, before: datetime, due: int) -> int:
    """How many clocks besides the `due` ones fall due before `before`: their marks would
    be recorded in the window too, and measured as lag of a different load."""
    engine = make_engine(url)
    with session_factory(engine)() as session:
        count = session.scalar(select(func.count()).where(Clock.due_at < before)) or 0
    engine.dispose()
    return max(0, count - due)


def run_daemon(url: str, folder: Path, seconds: float) -> tuple[float, float]:
    config = folder / f"slad-{time.monotonic_ns()}.toml"
    port = 18000 + random.Random().randrange(1000)
    config.write_text(
        f'[database]\nurl = "{url}"\n[server]\nport = {port}\n'
        '[log]\nlevel = "WARNING"\n[scheduler]\nrearm_seconds = 15\n'
    )
    log = config.with_suffix(".log")
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "daemon.cli", "--config", str(config), "run"],
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        time.sleep(seconds)
        return rss_mb(proc.pid)
    finally:
        asked = time.monotonic()
        proc.terminate()
        try:
            proc.wait(STOP_WAIT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
            print(f"note:     slad not stopped {STOP_WAIT:.0f} s after SIGTERM; killed\n{tail}")
        else:
            print(f"stop:     slad stopped {time.monotonic() - asked:.1f} s after SIGTERM")


def lags(url: str) -> list[float]:
    engine = make_engine(url)
    with session_factory(engine)() as session:
        rows = session.execute(
            select(TimelineEntry.at, TimelineEntry.recorded_at).where(
                TimelineEntry.kind == "slo_breached"
            )
        ).all()
    engine.dispose()
    return sorted((recorded - at).total_seconds() for at, recorded in rows)


def quantile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=2_000)
    parser.add_argument(
        "--window", type=float, default=20.0, help="seconds over which breaches fall"
    )
    parser.add_argument(
        "--database", help="postgresql://... to measure PostgreSQL (default: SQLite)"
    )
    parser.add_argument("--check", action="store_true", help="exit 1 when over budget")
    args = parser.parse_args()
    backend = "SQLite" if args.database is None else "PostgreSQL"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with fresh_database(args.database, folder, "empty") as base_url:
            upgrade(make_engine(base_url))
            base_rss, _ = run_daemon(base_url, folder, 4)

        with fresh_database(args.database, folder, "single") as single_url:
            seed_all(single_url, 1, 1, 10, 0.0)
            run_daemon(single_url, folder, 20)
            base_lag = lags(single_url)

        with fresh_database(args.database, folder, "bench") as url:
            window_start, seeded = seed_all(url, args.incidents, args.due, 30, args.window)
            early = early_marks(url, window_start + timedelta(seconds=args.window), args.due)
            if early:
                print(f"note:     {early:,} other clocks fall due within the window (slow seeding)")
            wait = (window_start - datetime.now(UTC)).total_seconds() + args.window + 5
            rss, peak = run_daemon(url, folder, max(wait, 10))
            measured = lags(url)
    p50, p99 = statistics.median(measured) if measured else float("nan"), quantile(measured, 0.99)
    ok = len(measured) == args.due and p99 <= LAG_P99_BUDGET and peak < RSS_BUDGET_MB
    print(
        f"inputs:   {args.incidents:,} open incidents, {args.due:,} contact SLO breaches due "
        f"over {args.window:.0f} s (seeded in {seeded:.1f} s with multi-row inserts, {backend})"
    )
    print(
        f"lag:      p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max "
        f"{(measured[-1] if measured else float('nan')) * 1000:.0f} ms "
        f"({len(measured):,} breaches recorded)"
    )
    print(f"rss:      {rss:.0f} MB now, {peak:.0f} MB peak")
    print(
        f"baseline: single due clock lag {base_lag[0] * 1000 if base_lag else float('nan'):.0f} ms;"
        f" idle daemon on an empty database {base_rss:.0f} MB RSS"
    )
    print(
        f"budget:   lag p99 <= {LAG_P99_BUDGET:.0f} s, RSS < {RSS_BUDGET_MB:.0f} MB -> "
        f"{'ok' if ok else 'OVER BUDGET'}"
    )
    return 0 if ok or not args.check else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    sys.exit(main())
