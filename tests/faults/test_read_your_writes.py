"""Read-your-writes through a real `slad run`: every write route, then a GET at once.

Each case runs several times on each backend: an answer sent before its commit shows
up as a GET that misses the change now and then, not every time.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.e2e.slad_process import SladProcess, free_port, slad
from tests.faults.read_your_writes import (
    WRITE_CASES,
    ZABBIX_SECRET,
    World,
    aws_instance_config,
    azure_instance_config,
    gcp_instance_config,
    write_routes,
)

pytestmark = pytest.mark.e2e

POSTGRES_URL = os.environ.get("SLAD_TEST_POSTGRES_URL")
ROUNDS = 3


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp(f"ryw-{request.param}")
    dropper = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'slad.db'}"
    else:
        if not POSTGRES_URL:
            pytest.skip("SLAD_TEST_POSTGRES_URL is not set")
        name = f"slad_ryw_{uuid.uuid4().hex[:10]}"
        admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
        dropper = (admin, name)
    config = tmp / "slad.toml"
    config.write_text(
        f'[database]\nurl = "{url}"\n'
        '[log]\nformat = "text"\n'
        "[zabbix.instances.main]\n"
        f'api_url = "http://127.0.0.1:{free_port()}/api_jsonrpc.php"\n'
        'api_token = "unused"\napi_timeout_seconds = 1\ntimezone = "Asia/Tokyo"\n'
        f'webhook_secret = "{ZABBIX_SECRET}"\n'
        + aws_instance_config()
        + gcp_instance_config()
        + azure_instance_config()
    )
    slad(config, "migrate")
    tokens = {
        role: slad(config, "token", "create", "--role", role, "--name", role).strip()
        for role in ("admin", "operator", "ingest")
    }
    process = SladProcess(config, free_port(), tmp / "slad.log").start()
    try:
        yield World(process.url, url, tokens)
    finally:
        process.kill()
        if dropper is not None:
            admin, name = dropper
            with admin.connect() as conn:
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
                    ),
                    {"n": name},
                )
                conn.execute(text(f'DROP DATABASE "{name}"'))
            admin.dispose()


def test_every_write_route_of_the_running_process_has_a_case(world: World) -> None:
    document = httpx.get(f"{world.url}/openapi.json", timeout=30).json()
    routes = write_routes(document)
    assert routes - WRITE_CASES.keys() == set(), "write routes without a read-your-writes case"
    assert WRITE_CASES.keys() - routes == set(), "cases for routes that no longer exist"


@pytest.mark.parametrize("route", sorted(WRITE_CASES), ids=lambda r: f"{r[0]} {r[1]}")
def test_a_get_right_after_a_write_sees_it(world: World, route: tuple[str, str]) -> None:
    for _ in range(ROUNDS):
        WRITE_CASES[route](world)
