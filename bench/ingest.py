"""Benchmark: committed ingest rate and latency of `POST /v1/events` on SQLite.

A webhook answer means "committed" (to the inbox: `202`), so ingest is bounded by the
store, not by HTTP. The budget says how much of the HTTP stack's own speed slad keeps:
committed ingest at no less than half the rate of a bare FastAPI app that accepts the
same POST and does nothing (`bench/bare_app.py`, measured in the same run under the same
load), and a p99 below 50 ms at a steady 1,000 alerts/s. Correlation (turning the
inbox into alerts and incidents) runs in slad's correlator process meanwhile; after the
load the run waits for it to clear the backlog and prints how fast it did.

The run starts `slad migrate` and `slad run` on a fresh SQLite file in a temporary
directory, seeds a customer, contract and resource through the REST API, then drives
both servers over loopback with the same events: `wrk` with a Lua request generator when
it is installed, else a minimal asyncio client with one connection per unit of
concurrency. The fixed-rate phase (always the asyncio client) is open-loop: each request
is due at its own instant and its latency counts from then, so a server that falls
behind shows it in the p99 instead of slowing the client down. The same phase against
the bare app shows the floor that the client and HTTP themselves set.

Both servers run side by side and the closed-loop runs alternate between them
(`--rounds`, three each by default); the ratio compares the median runs. A shared host
moves single runs by a third, and alternation lets both servers meet the same weather.
While the bare app is measured, slad and its correlator are frozen (SIGSTOP), so the
bare app has the machine that slad had, not less.

    .venv/bin/python bench/ingest.py              # print the figures
    .venv/bin/python bench/ingest.py --check      # ... and exit 1 when over budget
    .venv/bin/python bench/ingest.py --client python --duration 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import httpx

ROOT = Path(__file__).resolve().parent.parent
RATIO_BUDGET = 0.5
FIXED_RATE = 1_000  # alerts/s in the open-loop phase
P99_BUDGET_MS = 50.0
MAX_IN_FLIGHT = 256  # open-loop requests on the wire at once
MAPPED_HOST = "bench-web01"
UNMAPPED_HOST = "bench-unknown"
MIX = (
    "per 10 events: 8 problems on distinct problem keys mapped to the seeded resource,"
    " 1 recovery of one of them, 1 problem of an unmapped host (unassigned)"
)

WRK_SCRIPT = """
local token, detected, phase, mapped, unmapped = %s, %s, %s, %s, %s
local threads, counter = {}, 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. token

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

local function event(key, problem, kind, host)
  return string.format(
    '{"event_key":"%%s","problem_key":"%%s","kind":"%%s","detected_at":"%%s",' ..
    '"severity":"high","title":"bench","resource_ids":{"zabbix.host":"%%s"}}',
    key, problem, kind, detected, host)
end

function request()
  local i = counter
  counter = counter + 1
  local prefix = phase .. "-t" .. tid
  local slot = i %% 10
  local body
  if slot == 8 then
    body = event(prefix .. "-e" .. i, prefix .. "-p" .. (i - 8), "recovery", mapped)
  elseif slot == 9 then
    body = event(prefix .. "-e" .. i, prefix .. "-u" .. i, "problem", unmapped)
  else
    body = event(prefix .. "-e" .. i, prefix .. "-p" .. i, "problem", mapped)
  end
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests":%%d,"duration_us":%%d,"p50_us":%%d,"p99_us":%%d,"errors":%%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
"""


@dataclass(frozen=True)
class Figures:
    """What one load phase measured."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int

    @property
    def rate(self) -> float:
        """2xx answers (for slad: committed events) per second."""
        return (self.requests - self.errors) / self.seconds


def event_body(phase: str, i: int, detected: str) -> dict[str, Any]:
    """Event number `i` of a phase, in the mix that `MIX` describes (same as the Lua script)."""
    slot = i % 10
    if slot == 8:
        problem, kind, host = f"{phase}-p{i - 8}", "recovery", MAPPED_HOST
    elif slot == 9:
        problem, kind, host = f"{phase}-u{i}", "problem", UNMAPPED_HOST
    else:
        problem, kind, host = f"{phase}-p{i}", "problem", MAPPED_HOST
    return {
        "event_key": f"{phase}-e{i}",
        "problem_key": problem,
        "kind": kind,
        "detected_at": detected,
        "severity": "high",
        "title": "bench",
        "resource_ids": {"zabbix.host": host},
    }


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def server(command: list[str], url: str, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Start a server subprocess, wait until `url/healthz` answers, stop it afterwards."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{command[2:4]} exited early:\n{log.read_text()}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not come up:\n{log.read_text()}")
            time.sleep(0.1)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def paused(proc: subprocess.Popen[bytes]) -> Iterator[None]:
    """Freeze a server and its children (its correlator) while the other one is measured."""
    os.killpg(proc.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.killpg(proc.pid, signal.SIGCONT)


def slad(config: Path, *args: str) -> str:
    """Run a `slad` sub-command to completion and return its standard output."""
    done = subprocess.run(
        [sys.executable, "-m", "daemon.cli", "--config", str(config), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def seed(url: str, admin: str) -> None:
    """A customer with a contract and one resource that the mapped events select."""
    headers = {"Authorization": f"Bearer {admin}"}
    with httpx.Client(base_url=url, headers=headers, timeout=10) as client:

        def post(path: str, body: dict[str, Any]) -> int:
            response = client.post(path, json=body)
            response.raise_for_status()
            ident: int = response.json()["id"]
            return ident

        customer = post("/v1/customers", {"name": "bench"})
        contract = post(
            "/v1/contracts",
            {"customer_id": customer, "plan": "standard", "billing_start": "2026-01-01"},
        )
        post(
            "/v1/resources",
            {
                "contract_id": contract,
                "name": MAPPED_HOST,
                "kind": "vm",
                "selectors": [{"zabbix.host": MAPPED_HOST}],
            },
        )


def run_wrk(target: Target, seconds: float, connections: int, tmp: Path) -> Figures:
    """Closed-loop load from wrk: `connections` connections each send as soon as answered."""
    script = tmp / f"{target.phase}.lua"
    quoted = (
        json.dumps(v)
        for v in (target.token, target.detected, target.phase, MAPPED_HOST, UNMAPPED_HOST)
    )
    script.write_text(WRK_SCRIPT % tuple(quoted))
    done = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            f"http://{target.host}:{target.port}/v1/events",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(ln for ln in done.stdout.splitlines() if ln.startswith("RESULT "))
    raw = json.loads(line.removeprefix("RESULT "))
    return Figures(
        raw["requests"],
        raw["duration_us"] / 1e6,
        raw["p50_us"] / 1e3,
        raw["p99_us"] / 1e3,
        raw["errors"],
    )


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection that carries one request at a time.

    httpx spends more CPU per request than the servers measured here (it tops out below
    1,000 requests/s on one core), so the Python load comes from this minimal client:
    it writes prepared requests and reads only the status line and Content-Length.
    """

    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._waiter: asyncio.Future[int] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc or ConnectionError("connection closed"))

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0 or self._waiter is None:
            return
        head = bytes(self._buffer[:end]).decode("latin-1").split("\r\n")
        length = 0
        for header in head[1:]:
            name, _, value = header.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        if len(self._buffer) < end + 4 + length:
            return
        del self._buffer[: end + 4 + length]
        self._waiter.set_result(int(head[0].split(" ", 2)[1]))

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    async def send(self, request: bytes) -> int:
        """Write one request and return the status code of its answer."""
        assert self._transport is not None
        self._waiter = asyncio.get_running_loop().create_future()
        self._transport.write(request)
        try:
            return await self._waiter
        finally:
            self._waiter = None


@dataclass(frozen=True)
class Target:
    """Where the load goes and how each request is written."""

    host: str
    port: int
    token: str
    phase: str
    detected: str

    def request(self, i: int) -> bytes:
        body = json.dumps(event_body(self.phase, i, self.detected)).encode()
        head = (
            f"POST /v1/events HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Authorization: Bearer {self.token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body

    async def connect(self, count: int) -> list[_Connection]:
        loop = asyncio.get_running_loop()
        made = [
            await loop.create_connection(_Connection, self.host, self.port) for _ in range(count)
        ]
        return [protocol for _transport, protocol in made]


async def _closed_loop(target: Target, seconds: float, connections: int) -> Figures:
    """Closed loop: each connection sends its next event as soon as the last is answered."""
    latencies: list[float] = []
    errors = 0
    counter = 0
    pool = await target.connect(connections)
    began = time.perf_counter()
    deadline = began + seconds

    async def worker(conn: _Connection) -> None:
        nonlocal errors, counter
        while time.perf_counter() < deadline:
            request = target.request(counter)
            counter += 1
            sent = time.perf_counter()
            status = await conn.send(request)
            latencies.append(time.perf_counter() - sent)
            errors += not 200 <= status < 300

    await asyncio.gather(*(worker(conn) for conn in pool))
    elapsed = time.perf_counter() - began
    for conn in pool:
        conn.close()
    return summarise(latencies, elapsed, errors)


async def _fixed_rate(target: Target, seconds: float, rate: int, grace: float) -> Figures:
    """Open loop: request `i` is due at `i / rate`; its latency counts from then.

    Requests go out on `MAX_IN_FLIGHT` connections; one waiting for a free connection
    is already late, and its wait counts. Whatever has not been answered `grace`
    seconds after the last request fell due counts as an error of infinite latency.
    """
    latencies: list[float] = []
    errors = 0
    idle: asyncio.Queue[_Connection] = asyncio.Queue()
    pool = await target.connect(MAX_IN_FLIGHT)
    for conn in pool:
        idle.put_nowait(conn)

    async def send(request: bytes, due: float) -> None:
        nonlocal errors
        conn = await idle.get()
        status = await conn.send(request)
        idle.put_nowait(conn)
        latencies.append(time.perf_counter() - due)
        errors += not 200 <= status < 300

    tasks: list[asyncio.Task[None]] = []
    began = time.perf_counter()
    for i in range(round(seconds * rate)):
        request = target.request(i)
        due = began + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(request, due)))
    _answered, late = await asyncio.wait(tasks, timeout=grace)
    for task in late:
        task.cancel()
    await asyncio.gather(*late, return_exceptions=True)
    elapsed = time.perf_counter() - began
    for conn in pool:
        conn.close()
    return summarise(latencies + [math.inf] * len(late), elapsed, errors + len(late))


def summarise(latencies: list[float], elapsed: float, errors: int) -> Figures:
    """Figures from per-request latencies in seconds."""
    ordered = sorted(latencies)
    return Figures(
        len(ordered),
        elapsed,
        percentile(ordered, 0.5) * 1e3,
        percentile(ordered, 0.99) * 1e3,
        errors,
    )


def run_async(coro: Coroutine[Any, Any, Figures]) -> Figures:
    """Run a client coroutine on uvloop when it is there: the client then costs less CPU."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    loop = uvloop.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


def closed_loop(
    client: str, target: Target, seconds: float, connections: int, tmp: Path
) -> Figures:
    if client == "wrk":
        return run_wrk(target, seconds, connections, tmp)
    return run_async(_closed_loop(target, seconds, connections))


def stored_events(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        count: int = conn.execute("SELECT count(*) FROM alert_events").fetchone()[0]
        return count


def pending_events(db: Path) -> int:
    with sqlite3.connect(db, timeout=30) as conn:
        count: int = conn.execute(
            "SELECT count(*) FROM alert_events WHERE outcome IS NULL"
        ).fetchone()[0]
        return count


@dataclass(frozen=True)
class Drain:
    """How the correlator kept up: the backlog the load left and how long it took to clear."""

    backlog: int
    seconds: float
    correlated: int

    @property
    def rate(self) -> float:
        return self.correlated / self.seconds if self.seconds > 0 else math.inf


def drain(db: Path, limit: float) -> Drain:
    """Wait (up to `limit` s) for the correlator to clear the backlog the load left."""
    backlog = pending_events(db)
    began = time.perf_counter()
    left = backlog
    while left and time.perf_counter() - began < limit:
        time.sleep(0.2)
        left = pending_events(db)
    return Drain(backlog, time.perf_counter() - began, backlog - left)


def median_run(runs: list[Figures]) -> Figures:
    """The run with the median rate: the host's noise moves single runs by a third."""
    return sorted(runs, key=lambda f: f.rate)[len(runs) // 2]


def line(name: str, f: Figures) -> str:
    errors = f", {f.errors:,} errors" if f.errors else ""
    return (
        f"{name:<14} {f.rate:>7,.0f} alerts/s   p50 {f.p50_ms:7.1f} ms   p99 {f.p99_ms:7.1f} ms"
        f"   ({f.requests:,} requests in {f.seconds:.1f} s{errors})"
    )


@dataclass(frozen=True)
class Load:
    """The load both servers get: the same client, events, durations and concurrency."""

    client: str
    token: str
    detected: str
    seconds: float
    warmup: float
    connections: int
    rate: int
    rate_seconds: float
    tmp: Path

    def target(self, port: int, phase: str) -> Target:
        return Target("127.0.0.1", port, self.token, phase, self.detected)

    def closed(self, port: int, phase: str) -> tuple[Figures, int]:
        """Warm up, then measure; also returns how many answers (warm-up too) were 2xx."""
        ok = 0
        if self.warmup > 0:
            warm = closed_loop(
                self.client,
                self.target(port, f"{phase}-warm"),
                self.warmup,
                self.connections,
                self.tmp,
            )
            ok += warm.requests - warm.errors
        figures = closed_loop(
            self.client, self.target(port, phase), self.seconds, self.connections, self.tmp
        )
        return figures, ok + figures.requests - figures.errors

    def fixed(self, port: int, phase: str) -> Figures:
        grace = max(5.0, self.rate_seconds)
        return run_async(_fixed_rate(self.target(port, phase), self.rate_seconds, self.rate, grace))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when over budget")
    parser.add_argument("--duration", type=float, default=10, help="seconds per closed-loop run")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of load before each")
    parser.add_argument("--connections", type=int, default=64, help="closed-loop concurrency")
    parser.add_argument("--rate", type=int, default=FIXED_RATE, help="fixed-rate alerts/s")
    parser.add_argument("--rate-duration", type=float, default=10, help="fixed-rate seconds")
    parser.add_argument(
        "--client",
        choices=["auto", "wrk", "python"],
        default="auto",
        help="closed-loop load generator (auto: wrk when installed)",
    )
    parser.add_argument(
        "--drain-limit", type=float, default=300, help="seconds to wait for correlation"
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="closed-loop runs of each server, alternated"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    client = args.client
    if client == "auto":
        client = "wrk" if shutil.which("wrk") else "python"
    elif client == "wrk" and not shutil.which("wrk"):
        parser.error("wrk is not installed")

    tmp = Path(tempfile.mkdtemp(prefix="slad-bench-"))
    try:
        db = tmp / "slad.db"
        slad_port, bare_port = free_port(), free_port()
        config = tmp / "slad.toml"
        config.write_text(
            f'[server]\nhost = "127.0.0.1"\nport = {slad_port}\n\n'
            f'[database]\nurl = "sqlite:///{db}"\n\n'
            '[log]\nformat = "text"\nlevel = "WARNING"\n'
        )
        slad(config, "migrate")
        token = slad(config, "token", "create", "--role", "ingest", "--name", "bench")
        admin = slad(config, "token", "create", "--role", "admin", "--name", "bench-admin")
        detected = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
        answered = 0
        load = Load(
            client,
            token,
            detected,
            args.duration,
            args.warmup,
            args.connections,
            args.rate,
            args.rate_duration,
            tmp,
        )
        slad_url, bare_url = f"http://127.0.0.1:{slad_port}", f"http://127.0.0.1:{bare_port}"
        slad_cmd = [sys.executable, "-m", "daemon.cli", "--config", str(config), "run"]
        bare_cmd = [sys.executable, str(ROOT / "bench" / "bare_app.py"), "--port", str(bare_port)]
        slad_runs: list[Figures] = []
        bare_runs: list[Figures] = []
        with (
            server(slad_cmd, slad_url, tmp / "slad.log") as slad_proc,
            server(bare_cmd, bare_url, tmp / "bare.log"),
        ):
            seed(slad_url, admin)
            for round_no in range(args.rounds):
                figures, ok = load.closed(slad_port, f"slad{round_no}")
                slad_runs.append(figures)
                answered += ok
                with paused(slad_proc):
                    bare_runs.append(load.closed(bare_port, f"bare{round_no}")[0])
            slad_fixed = load.fixed(slad_port, "slad-fixed")
            with paused(slad_proc):
                bare_fixed = load.fixed(bare_port, "bare-fixed")
            answered += slad_fixed.requests - slad_fixed.errors
            drained = drain(db, args.drain_limit)
        committed = stored_events(db)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)

    slad_closed, bare_closed = median_run(slad_runs), median_run(bare_runs)
    ratio = slad_closed.rate / bare_closed.rate
    ratio_ok = ratio >= RATIO_BUDGET and all(run.errors == 0 for run in slad_runs)
    p99_ok = slad_fixed.p99_ms < P99_BUDGET_MS and slad_fixed.errors == 0
    fixed = f"@ {args.rate:,}/s"
    print(
        f"setup:    SQLite, {os.cpu_count()} cores; closed loop: {client}, "
        f"{args.connections} connections, {args.duration:g} s after {args.warmup:g} s warm-up,"
        f" {args.rounds} rounds per server, alternated; "
        f"fixed rate: python client, open loop, {args.rate_duration:g} s"
    )
    print(f"events:   {MIX}")
    for round_no, (slad_run, bare_run) in enumerate(zip(slad_runs, bare_runs, strict=True)):
        print(
            f"round {round_no + 1}:  slad {slad_run.rate:,.0f} alerts/s, bare {bare_run.rate:,.0f}"
            f" alerts/s ({slad_run.rate / bare_run.rate:.0%})"
        )
    print(line("slad", slad_closed) + "  <- median round")
    print(line("bare", bare_closed) + "  <- FastAPI app that accepts the POST and does nothing")
    print(f"ratio:    slad ingests at {ratio:.0%} of the bare app's rate (medians)")
    print(line(f"slad {fixed}", slad_fixed))
    print(line(f"bare {fixed}", bare_fixed) + "  <- client and HTTP floor")
    print(
        f"store:    {committed:,} events committed; {answered:,} were answered 2xx -> "
        f"{'none lost' if committed >= answered else 'LOST EVENTS'}"
    )
    print(
        f"correlate: {drained.backlog:,} events still uncorrelated when the load stopped;"
        f" {drained.correlated:,} correlated in the next {drained.seconds:.1f} s"
        f" ({drained.rate:,.0f} events/s, the correlator process on its own)"
    )
    print(
        f"budget:   committed ingest >= {RATIO_BUDGET:.0%} of bare -> "
        f"{'PASS' if ratio_ok else 'FAIL'} ({ratio:.0%})"
    )
    print(
        f"budget:   slad p99 < {P99_BUDGET_MS:.0f} ms at {args.rate:,} alerts/s -> "
        f"{'PASS' if p99_ok else 'FAIL'} ({slad_fixed.p99_ms:.1f} ms)"
    )
    ok = ratio_ok and p99_ok and committed >= answered
    return 1 if args.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
