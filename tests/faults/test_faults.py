"""Crashes under load: the daemon killed, the correlator child killed, PostgreSQL
restarted, each while a client sends events at a bounded rate.

After each: every acknowledged event is stored exactly once and correlated within a
bound, no client saw a 500 (a database outage answers 503 with `Retry-After`), and slad
recovered on its own (the daemon kill aside, nothing is restarted by hand). PostgreSQL
runs as a private server the test starts and restarts itself.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.slad_process import SladProcess, free_port, slad, wait_for
from tests.faults.conftest import SUMMARY
from tests.faults.load import LoadClient, verdict
from tests.faults.postgres import PrivatePostgres, server_binaries

pytestmark = pytest.mark.e2e

WARM_UP = 3.0  # seconds of load before the fault
AFTER = 4.0  # seconds of load once slad serves again
CORRELATION_BOUND = 60.0  # seconds after the load stops for every event to be correlated


@pytest.fixture(scope="module")
def postgres() -> Iterator[PrivatePostgres]:
    bindir = server_binaries()
    if bindir is None:
        pytest.skip("no PostgreSQL server binaries under /usr/lib/postgresql")
    server = PrivatePostgres.create(bindir)
    server.start()
    yield server
    server.remove()


def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'slad.db'}"
    server: PrivatePostgres = request.getfixturevalue("postgres")
    return server.create_database(f"faults_{uuid.uuid4().hex[:10]}")


def correlators(pid: int) -> list[int]:
    """The correlator children of the `slad run` process `pid` (multiprocessing's
    resource tracker is a child too)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            if parent == pid and b"spawn_main" in command:
                found.append(int(entry.name))
    return found


def ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def start_slad(tmp_path: Path, url: str) -> tuple[SladProcess, str, str]:
    config = tmp_path / "slad.toml"
    config.write_text(
        f'[database]\nurl = "{url}"\n'
        "[scheduler]\nleader_retry_seconds = 1\n"
        '[log]\nformat = "text"\n'
    )
    slad(config, "migrate")
    ingest = slad(config, "token", "create", "--role", "ingest", "--name", "load").strip()
    admin = slad(config, "token", "create", "--role", "admin", "--name", "admin").strip()
    process = SladProcess(config, free_port(), tmp_path / "slad.log").start()
    customer = process.request("POST", "/v1/customers", admin, json={"name": "acme"}).json()
    contract = process.request(
        "POST",
        "/v1/contracts",
        admin,
        json={"customer_id": customer["id"], "plan": "standard", "billing_start": "2026-04-01"},
    ).json()
    process.request(
        "POST",
        "/v1/resources",
        admin,
        json={
            "contract_id": contract["id"],
            "name": "web01",
            "kind": "vm",
            "selectors": [{"zabbix.host": "web01"}],
        },
    ).raise_for_status()
    return process, ingest, admin


def kill_daemon(process: SladProcess, _postgres: PrivatePostgres | None) -> SladProcess:
    process.kill()
    time.sleep(1.0)
    return process.start()  # the one restart by hand: a supervisor's


def kill_correlator(process: SladProcess, _postgres: PrivatePostgres | None) -> SladProcess:
    (child,) = correlators(process.pid)
    os.kill(child, signal.SIGKILL)
    wait_for(
        lambda: (now := correlators(process.pid)) and now != [child], 15, "a new correlator child"
    )
    return process


def restart_postgres(process: SladProcess, postgres: PrivatePostgres | None) -> SladProcess:
    assert postgres is not None
    postgres.stop("immediate")  # a crash: every connection cut at once
    time.sleep(2.0)
    postgres.start()
    return process


FAULTS = {
    "daemon-kill": kill_daemon,
    "correlator-kill": kill_correlator,
    "postgres-restart": restart_postgres,
}
CASES = [
    ("sqlite", "daemon-kill"),
    ("sqlite", "correlator-kill"),
    ("postgresql", "daemon-kill"),
    ("postgresql", "correlator-kill"),
    ("postgresql", "postgres-restart"),
]


@pytest.mark.parametrize(("backend", "fault"), CASES, ids=[f"{b}-{f}" for b, f in CASES])
def test_acknowledged_events_survive_the_fault_exactly_once(
    backend: str, fault: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = database_url(backend, tmp_path, request)
    server = request.getfixturevalue("postgres") if backend == "postgresql" else None
    process, ingest, admin = start_slad(tmp_path, url)
    load = LoadClient(process.url, ingest, admin).start()
    try:
        time.sleep(WARM_UP)
        process = FAULTS[fault](process, server)
        wait_for(lambda: ready(process.url), 60, "slad to be ready again")
        recovered = time.monotonic()
        time.sleep(AFTER)
        load.stop()
        result = verdict(load, url, CORRELATION_BOUND)
        SUMMARY.append(result.line(f"{backend} {fault}"))
        print(result.line(f"{backend} {fault}"))

        assert load.acknowledged_since(recovered) > 0, "slad must serve again on its own"
        assert len(load.sent) == result.acknowledged, "every event is acknowledged in the end"
        assert result.lost == 0
        assert result.duplicated == 0
        assert result.stuck == 0
        assert result.internal_errors == 0, result.statuses
        assert result.without_retry_after == 0
        assert process.proc is not None and process.proc.poll() is None
    finally:
        load.stop()
        process.kill()
