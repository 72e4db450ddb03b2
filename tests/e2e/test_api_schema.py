"""The running daemon answers as its OpenAPI document says, on SQLite and PostgreSQL.

Schemathesis reads `/openapi.json` from a real `slad run` and sends every operation in
it generated requests, valid and invalid, with an admin token and with an ingest token.
Each answer must be no server error, carry a status the document lists for that
operation, in a documented content type, with a body matching the documented schema.
The store is seeded first through read-your-writes cases (customers, contracts,
resources, incidents, alerts, requests, windows, window changes, notices, hours, a
closed month, tokens), so generated small ids reach real rows and their conflicts, not
only 404s.
The seed and the example count are fixed: a run is reproducible and bounded.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.e2e.slad_process import SladProcess, free_port, slad
from tests.faults.read_your_writes import WRITE_CASES, World

pytestmark = pytest.mark.e2e

POSTGRES_URL = os.environ.get("SLAD_TEST_POSTGRES_URL")
SEED = 20261201
MAX_EXAMPLES = 6
CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
    )
)
REVOKE = "/v1/tokens/{token_id}/revoke"
INGEST_PATHS = "^/v1/(events|webhooks)"
SEED_ROUTES = [  # rows of every kind, and states that refuse changes (409s)
    ("POST", "/v1/events/{event_id}/retry"),
    ("POST", "/v1/incidents/{incident_id}/report"),
    ("POST", "/v1/incidents/{incident_id}/merge"),
    ("POST", "/v1/alerts/{alert_id}/split"),
    ("POST", "/v1/alerts/{alert_id}/assign"),
    ("POST", "/v1/maintenance-windows"),
    ("POST", "/v1/customer-incidents/{request_id}/{step}"),
    ("POST", "/v1/operations-requests/{request_id}/{step}"),
    ("POST", "/v1/support-requests/{request_id}/reply"),
    ("POST", "/v1/outbox/{message_id}/retry"),
    ("POST", "/v1/provider-notices/{notice_id}/confirm-impact"),
    ("POST", "/v1/contracts/{contract_id}/hours"),
    ("POST", "/v1/charges/{month}/close"),
    ("POST", "/v1/tokens"),
    ("POST", "/v1/window-changes/{change_id}/accept"),
    ("POST", "/v1/window-changes/{change_id}/reject"),
]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp(f"schema-{request.param}")
    dropper = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'slad.db'}"
    else:
        if not POSTGRES_URL:
            pytest.skip("SLAD_TEST_POSTGRES_URL is not set")
        name = f"slad_schema_{uuid.uuid4().hex[:10]}"
        admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
        dropper = (admin, name)
    config = tmp / "slad.toml"
    config.write_text(
        f'[database]\nurl = "{url}"\n[log]\nformat = "text"\n'
        "[prices.professional_support]\nincluded_hours = 4\nhourly_rate_yen = 12000\n"
    )
    slad(config, "migrate")
    tokens = {
        role: slad(config, "token", "create", "--role", role, "--name", role).strip()
        for role in ("admin", "operator", "ingest")
    }
    process = SladProcess(config, free_port(), tmp / "slad.log").start()
    try:
        world = World(process.url, url, tokens)
        for route in SEED_ROUTES:
            WRITE_CASES[route](world)
        yield world
    finally:
        process.kill()
        if dropper is not None:
            engine, name = dropper
            with engine.connect() as conn:
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
                    ),
                    {"n": name},
                )
                conn.execute(text(f'DROP DATABASE "{name}"'))
            engine.dispose()


def schemathesis(
    world: World, role: str, *selection: str, report: Path, phases: str = "coverage,fuzzing"
) -> None:
    """Run schemathesis over the selected operations of the running daemon's document,
    as `role`; fail with its account of each failure."""
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        f"{world.url}/openapi.json",
        "--header",
        f"Authorization: Bearer {world.tokens[role]}",
        "--checks",
        CHECKS,
        "--phases",
        phases,
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--workers",
        "1",  # two threads compiling patterns at once trip CPython 3.11's AST depth check
        "--request-timeout",
        "30",
        "--generation-database",
        "none",
        "--no-color",
        "--output-truncate",
        "false",
        *selection,
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=600, check=False, cwd=report.parent
    )
    report.write_text(done.stdout + done.stderr)
    summary = done.stdout[done.stdout.rfind("SUMMARY") :]
    print(f"schemathesis as {role}: {summary.strip().splitlines()[-1] if summary else '?'}")
    assert done.returncode == 0, (
        f"schemathesis as {role} (full log {report}):\n"
        + done.stdout[-20000:]
        + done.stderr[-2000:]
    )


def test_every_operation_answers_as_documented_to_an_admin(world: World, tmp_path: Path) -> None:
    schemathesis(world, "admin", "--exclude-path", REVOKE, report=tmp_path / "admin.txt")


def test_ingest_operations_answer_as_documented_to_an_ingest_token(
    world: World, tmp_path: Path
) -> None:
    """Generated events and webhooks as a source sends them; the admin run already took
    these operations through the coverage phase's edge cases."""
    schemathesis(
        world,
        "ingest",
        "--include-path-regex",
        INGEST_PATHS,
        report=tmp_path / "ingest.txt",
        phases="fuzzing",
    )


def test_token_revocation_answers_as_documented(world: World, tmp_path: Path) -> None:
    """Last, on its own: a generated id may be the admin token's own."""
    schemathesis(world, "admin", "--include-path", REVOKE, report=tmp_path / "revoke.txt")
