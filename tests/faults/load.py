"""A load client for fault tests, and the verdict on what slad kept of its events.

The client sends events with unique keys at a bounded rate from a few threads and
retries every event until slad acknowledges it (as a source does), honouring
`Retry-After`. A reader polls the incident list beside it. Both count every answer, so
a test can hold slad to its promises: every acknowledged event stored exactly once and
correlated, and no 500 (a database outage is a 503 with `Retry-After`).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import create_engine, func, select

from daemon.store.models import Alert, AlertEventRecord, Incident

RETRY_AFTER_CAP = 1.0  # seconds: honour Retry-After, but keep the run short


@dataclass
class Answers:
    """What clients heard: statuses (or `error: <kind>`) and 503s lacking Retry-After."""

    statuses: Counter[str] = field(default_factory=Counter)
    without_retry_after: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, response: httpx.Response | None, error: Exception | None = None) -> None:
        with self.lock:
            if response is None:
                self.statuses[f"error: {type(error).__name__}"] += 1
                return
            self.statuses[str(response.status_code)] += 1
            if response.status_code == 503 and "retry-after" not in response.headers:
                self.without_retry_after += 1

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    def count(self, predicate: Any) -> int:
        return sum(n for status, n in self.statuses.items() if predicate(status))

    @property
    def server_errors(self) -> int:
        return self.count(lambda s: s.startswith("5"))

    @property
    def internal_errors(self) -> int:
        """5xx other than 503: what no fault of the database may cause."""
        return self.count(lambda s: s.startswith("5") and s != "503")


class LoadClient:
    """Sends one event per request, `rate` requests a second in all, until stopped."""

    def __init__(self, url: str, token: str, reader_token: str, rate: float = 40.0) -> None:
        self.url = url
        self.token = token
        self.reader_token = reader_token
        self.workers = 4
        self.interval = self.workers / rate
        self.ingest = Answers()
        self.reads = Answers()
        self.sent: set[str] = set()
        self.acknowledged: dict[str, float] = {}  # key -> when it was acknowledged
        self._keys = (f"k{n:06d}" for n in itertools.count())
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> LoadClient:
        targets = [self._send] * self.workers + [self._read]
        self._threads = [threading.Thread(target=t, daemon=True) for t in targets]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        """Stop sending new events; events not yet acknowledged are retried until they
        are (or 60 s pass), as a source would."""
        self._stop.set()
        for thread in self._threads:
            thread.join(90)

    def acknowledged_since(self, instant: float) -> int:
        with self._lock:
            return sum(1 for at in self.acknowledged.values() if at >= instant)

    def _send(self) -> None:
        retries: list[str] = []
        give_up = None
        with httpx.Client(base_url=self.url, timeout=10) as client:
            while True:
                if self._stop.is_set():
                    give_up = give_up or time.monotonic() + 60
                    if not retries or time.monotonic() > give_up:
                        return
                with self._lock:
                    key = retries.pop(0) if retries else next(self._keys)
                    self.sent.add(key)
                pause = self.interval
                try:
                    response = client.post(
                        "/v1/events",
                        json=event(key),
                        headers={"Authorization": f"Bearer {self.token}"},
                    )
                except httpx.HTTPError as exc:
                    self.ingest.record(None, exc)
                    retries.append(key)
                    time.sleep(pause)
                    continue
                self.ingest.record(response)
                if response.status_code in (200, 202):
                    with self._lock:
                        self.acknowledged[key] = time.monotonic()
                else:
                    retries.append(key)
                    if response.status_code == 503:
                        asked = float(response.headers.get("retry-after", "0") or 0)
                        pause = max(pause, min(asked, RETRY_AFTER_CAP))
                time.sleep(pause)

    def _read(self) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as client:
            while not self._stop.is_set():
                try:
                    response = client.get(
                        "/v1/incidents",
                        params={"limit": 5},
                        headers={"Authorization": f"Bearer {self.reader_token}"},
                    )
                    self.reads.record(response)
                except httpx.HTTPError as exc:
                    self.reads.record(None, exc)
                time.sleep(0.2)


def event(key: str) -> dict[str, Any]:
    """A problem of its own for each key: it must become exactly one incident."""
    return {
        "event_key": key,
        "problem_key": key,
        "kind": "problem",
        "detected_at": datetime.now(UTC).isoformat(),
        "title": f"fault test {key}",
        "resource_ids": {"zabbix.host": "web01"},
    }


@dataclass
class Verdict:
    requests: int
    acknowledged: int
    lost: int
    duplicated: int
    stuck: int
    server_errors: int
    internal_errors: int
    without_retry_after: int
    statuses: dict[str, int]
    reads: dict[str, int]

    def line(self, name: str) -> str:
        return (
            f"{name}: requests={self.requests} acknowledged={self.acknowledged}"
            f" lost={self.lost} duplicated={self.duplicated} stuck={self.stuck}"
            f" 5xx={self.server_errors} (non-503={self.internal_errors},"
            f" 503 without Retry-After={self.without_retry_after})"
            f" ingest={dict(sorted(self.statuses.items()))}"
            f" reads={dict(sorted(self.reads.items()))}"
        )


def stored(database_url: str, keys: set[str]) -> tuple[set[str], set[str], set[str]]:
    """Of `keys`: those stored, those not correlated yet (or set aside as failed),
    and those whose problem became more than one alert or incident."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            events = {
                row.event_key.removeprefix("generic:"): row.outcome
                for row in conn.execute(
                    select(AlertEventRecord.event_key, AlertEventRecord.outcome)
                )
            }
            per_problem: Counter[str] = Counter()
            for model in (Alert, Incident):
                rows = conn.execute(
                    select(model.problem_key, func.count()).group_by(model.problem_key)
                )
                for problem, n in rows:
                    if n > 1:
                        per_problem[problem.removeprefix("generic:")] += n
    finally:
        engine.dispose()
    present = keys & events.keys()
    pending = {k for k in present if events[k] in (None, "failed")}
    return present, pending, keys & per_problem.keys()


def verdict(load: LoadClient, database_url: str, bound: float = 60.0) -> Verdict:
    """Wait up to `bound` seconds for every acknowledged event to be correlated, then
    count what slad kept."""
    acked = set(load.acknowledged)
    deadline = time.monotonic() + bound
    while True:
        present, pending, duplicated = stored(database_url, acked)
        if not pending or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    return Verdict(
        requests=load.ingest.requests + load.reads.requests,
        acknowledged=len(acked),
        lost=len(acked - present),
        duplicated=len(duplicated),
        stuck=len(pending),
        server_errors=load.ingest.server_errors + load.reads.server_errors,
        internal_errors=load.ingest.internal_errors + load.reads.internal_errors,
        without_retry_after=load.ingest.without_retry_after + load.reads.without_retry_after,
        statuses=dict(load.ingest.statuses),
        reads=dict(load.reads.statuses),
    )
