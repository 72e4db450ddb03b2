"""`slad source setup zabbix` connects the real Zabbix from nothing; `check` then passes.

The Zabbix side starts with a user, a host group and a host only: no slad media on the
user, no action. Setup does the rest through the API (run twice: it is idempotent), the
configuration cache is reloaded as the README says, `check` passes without creating
an incident, and a problem then reaches slad through what setup made.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.slad_process import free_port, wait_for
from tests.e2e.zabbix.conftest import REPO, SLAD, SladDaemon, ZabbixE2E

pytestmark = pytest.mark.e2e

SECRET = "e2e-shared-secret"  # the media type is shared with the other Zabbix e2e tests
KEY = "slad.setup.value"


@pytest.fixture(scope="module")
def slad(zabbix: ZabbixE2E, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SladDaemon]:
    workdir: Path = tmp_path_factory.mktemp("slad-setup")
    port = free_port()
    daemon = SladDaemon(
        workdir=workdir,
        port=port,
        config_text=f"""
[server]
host = "127.0.0.1"
port = {port}

[database]
url = "sqlite:///{workdir / "slad.db"}"

[log]
format = "text"

[zabbix.instances.e2e]
api_url = "{zabbix.api_url}"
api_token = "{zabbix.token}"
timezone = "{zabbix.server_tz}"
webhook_secret = "{SECRET}"
poll_interval_seconds = 600
""",
    )
    daemon.prepare()
    daemon.start()
    yield daemon
    daemon.stop()


def cli(slad: SladDaemon, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SLAD, "--config", str(slad.config), *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )


def test_setup_connects_zabbix_and_check_passes(zabbix: ZabbixE2E, slad: SladDaemon) -> None:
    suffix = uuid.uuid4().hex[:8]
    host = f"slad-setup-{suffix}"
    group_name = f"slad setup {suffix}"
    user = f"slad-setup-{suffix}"
    zabbix.call(
        "user.create",
        {
            "username": user,
            "passwd": uuid.uuid4().hex,
            "roleid": "3",
            "usrgrps": [{"usrgrpid": "7"}],
        },
    )
    group_id = zabbix.host_group(group_name)
    host_id = zabbix.create_host(host, group_id)
    zabbix.create_trapper_trigger(host_id, host, KEY, f"Value high on {host}")
    customer = slad.ok("POST", "/v1/customers", json={"name": f"setup {suffix}"})
    contract = slad.ok(
        "POST",
        "/v1/contracts",
        json={"customer_id": customer["id"], "plan": "standard", "billing_start": "2026-01-01"},
    )
    slad.ok(
        "POST",
        "/v1/resources",
        json={
            "contract_id": contract["id"],
            "name": host,
            "kind": "vm",
            "selectors": [{"zabbix.host": host}],
        },
    )

    for _ in range(2):  # idempotent: the second run updates what the first made
        run = cli(
            slad,
            "source",
            "setup",
            "zabbix",
            "e2e",
            "--user",
            user,
            "--host-group",
            group_name,
            "--slad-url",
            slad.url,
        )
        assert run.returncode == 0, run.stderr
    actions = zabbix.call("action.get", {"output": ["actionid"], "filter": {"name": "slad e2e"}})
    assert len(actions) == 1
    (media,) = zabbix.call("user.get", {"filter": {"username": user}, "selectMedias": "extend"})[0][
        "medias"
    ]
    assert media["sendto"] == f"{slad.url}/v1/webhooks/zabbix/e2e"
    zabbix.reload_config()  # the step deploy/zabbix/README.md names

    check = cli(slad, "source", "check", "zabbix", "e2e", "--slad-url", slad.url)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "FAIL" not in check.stdout and check.stdout.count("ok  ") == 4
    assert slad.ok("GET", "/v1/incidents")["items"] == []  # the test webhook stored nothing
    (status,) = [s for s in slad.ok("GET", "/v1/sources") if s["instance"] == "e2e"]
    assert status["last_accepted"]["note"].startswith("signed test webhook")

    zabbix.send_value(host, KEY, "10")
    incident = wait_for(
        lambda: next(iter(slad.ok("GET", "/v1/incidents")["items"]), None),
        90,
        "a problem to reach slad through the action setup made",
    )
    assert incident["title"] == f"Value high on {host}"
    zabbix.send_value(host, KEY, "1")
