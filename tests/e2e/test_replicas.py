"""Two real slad replicas on one PostgreSQL database: one leader, failover, restart.

Waiting here is on real processes (bounded polling), never on an SLA deadline: the
events are back-dated so their breaches are already due when they arrive.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from daemon.store.models import Heartbeat
from tests.e2e.slad_process import SladProcess, free_port, slad, wait_for

POSTGRES_URL = os.environ.get("SLAD_TEST_POSTGRES_URL")
pytestmark = pytest.mark.e2e


@pytest.fixture
def database_url() -> Iterator[str]:
    if not POSTGRES_URL:
        pytest.skip("SLAD_TEST_POSTGRES_URL is not set: replica tests need PostgreSQL")
    name = f"slad_e2e_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    yield url
    with admin.connect() as conn:
        conn.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
            {"n": name},
        )
        conn.execute(text(f'DROP DATABASE "{name}"'))
    admin.dispose()


def heartbeat_holder(url: str) -> str | None:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            row = conn.execute(select(Heartbeat.holder, Heartbeat.seen_at)).first()
    finally:
        engine.dispose()
    if row is None or datetime.now(UTC) - row.seen_at > timedelta(seconds=3):
        return None
    return str(row.holder)


def test_leader_failover_and_restart(tmp_path: Path, database_url: str) -> None:
    config = tmp_path / "slad.toml"
    config.write_text(
        f'[database]\nurl = "{database_url}"\n'
        "[scheduler]\nleader_retry_seconds = 1\nheartbeat_seconds = 1\n"
        "rearm_seconds = 2\ndowntime_threshold_seconds = 4\n"
        '[log]\nformat = "text"\n'
    )
    slad(config, "migrate")
    admin = slad(config, "token", "create", "--role", "admin", "--name", "e2e").strip()
    first = SladProcess(config, free_port(), tmp_path / "a.log").start()
    second = SladProcess(config, free_port(), tmp_path / "b.log").start()
    replicas = {first.pid: first, second.pid: second}
    try:
        holder = wait_for(lambda: heartbeat_holder(database_url), 20, "a leader heartbeat")
        leader = replicas[int(holder.rsplit(":", 1)[1])]
        follower = second if leader is first else first

        customer = leader.request("POST", "/v1/customers", admin, json={"name": "acme"}).json()
        contract = follower.request(
            "POST",
            "/v1/contracts",
            admin,
            json={"customer_id": customer["id"], "plan": "standard", "billing_start": "2026-04-01"},
        ).json()
        follower.request(
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

        leader.kill()
        new_holder = wait_for(
            lambda: (h := heartbeat_holder(database_url)) and h.endswith(f":{follower.pid}") and h,
            15,
            "the follower to take over within 15 s",
        )
        assert new_holder.endswith(f":{follower.pid}")

        detected = datetime.now(UTC) - timedelta(minutes=45)
        result = follower.request(
            "POST",
            "/v1/events?wait=true",
            admin,
            json={
                "event_key": "e1",
                "problem_key": "cpu",
                "kind": "problem",
                "detected_at": detected.isoformat(),
                "resource_ids": {"zabbix.host": "web01"},
            },
        ).json()["results"][0]
        incident = result["incident_id"]

        def breach_recorded() -> list[str] | None:
            body = follower.request("GET", f"/v1/incidents/{incident}", admin).json()
            kinds = [t["kind"] for t in body["timeline"]]
            return kinds if "slo_breached" in kinds else None

        kinds = wait_for(breach_recorded, 15, "the new leader to record the SLO breach")
        assert kinds.count("slo_breached") == 1
        body = follower.request("GET", f"/v1/incidents/{incident}", admin).json()
        breach = next(t for t in body["timeline"] if t["kind"] == "slo_breached")
        assert breach["at"] == (detected + timedelta(minutes=30)).isoformat().replace(
            "+00:00", "Z"
        ), "recorded at the instant it happened"

        follower.stop()
        wait_for(lambda: heartbeat_holder(database_url) is None, 10, "the heartbeat to go stale")
        restarted = SladProcess(config, free_port(), tmp_path / "c.log").start()
        replicas[restarted.pid] = restarted

        def fault() -> list[dict[str, object]] | None:
            return (
                restarted.request(
                    "GET", "/v1/maintenance-windows", admin, params={"kind": "monitoring_fault"}
                ).json()
                or None
            )

        [window] = wait_for(fault, 15, "the downtime to become a monitoring fault")
        assert window["scope"] == "all" and window["author"] == "slad"
        assert window["end"] is not None
    finally:
        for process in replicas.values():
            process.kill()
