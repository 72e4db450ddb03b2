"""Azure Monitor against a real `slad run`, with Azure played by local HTTPS servers.

A local tenant publishes its signing keys and issues secure webhook tokens; a local
Resource Manager and token authority answer the real SDK clients slad polls with
(azure-identity, `AlertsManagementClient`, `ResourceHealthMgmtClient`), reached through
the instance's `authority_host`, `management_url` and `ca_file`. An alert fired and
resolved by webhook, one the push missed found by the poller, and a Service Health
maintenance that becomes a notice whose window moves the open incident's contact due
instant.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.connectors.azure_fakes import (
    APP_CLIENT_ID,
    APP_ID_URI,
    SUBSCRIPTION,
    TENANT,
    Arm,
    AzureFakes,
    azure_fakes,
    fixture,
    listed_alert,
)
from tests.e2e.slad_process import SladProcess, free_port, slad, wait_for

pytestmark = pytest.mark.e2e

CLIENT_ID = "0f2c9e31-1111-4222-8333-944455556666"
VM = (
    f"/subscriptions/{SUBSCRIPTION}/resourcegroups/prod-rg/providers/"
    "microsoft.compute/virtualmachines/app01"
)
DB_VM = VM.replace("app01", "db01")  # its own resource: app01's incident would re-open


@pytest.fixture
def azure(tmp_path: Path) -> Iterator[AzureFakes]:
    yield from azure_fakes(tmp_path)


def azure_instant(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"  # Azure's 7 digits


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_alerts_by_webhook_and_poller_and_a_maintenance_moving_a_due_instant(
    tmp_path: Path, azure: AzureFakes
) -> None:
    arm = Arm(azure.server)
    arm.serve(SUBSCRIPTION)
    config = tmp_path / "slad.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "slad.db"}"\n'
        '[log]\nformat = "text"\n'
        "[scheduler]\noutbox_interval_seconds = 1\n"
        "[azure.instances.prod]\n"
        f'tenant_id = "{TENANT}"\n'
        f'audiences = ["{APP_ID_URI}", "{APP_CLIENT_ID}"]\n'
        f'keys_url = "{azure.tenant.keys_url}"\n'
        f'subscriptions = ["{SUBSCRIPTION}"]\n'
        f'client_id = "{CLIENT_ID}"\nclient_secret = "{arm.client_secret}"\n'
        f'authority_host = "{azure.server.base}"\nmanagement_url = "{azure.server.base}"\n'
        f'ca_file = "{azure.ca_file}"\npoll_interval_seconds = 2\n'
    )
    slad(config, "migrate")
    token = slad(config, "token", "create", "--role", "admin", "--name", "e2e").strip()
    process = SladProcess(config, free_port(), tmp_path / "slad.log").start()
    try:
        run(process, token, azure, arm)
    finally:
        process.stop()


def run(process: SladProcess, token: str, azure: AzureFakes, arm: Arm) -> None:
    def api(method: str, path: str, **kw: Any) -> Any:
        answer = process.request(method, path, token, **kw)
        assert answer.is_success, f"{method} {path}: {answer.status_code} {answer.text}"
        return answer.json()

    def push(payload: dict[str, Any]) -> Any:
        bearer = azure.tenant.token(datetime.now(UTC))
        return httpx.post(
            f"{process.url}/v1/webhooks/azure/prod?wait=true",
            content=json.dumps(payload).encode(),
            timeout=30,
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {bearer}"},
        )

    customer = api("POST", "/v1/customers", json={"name": "acme"})
    contract = api(
        "POST",
        "/v1/contracts",
        json={"customer_id": customer["id"], "plan": "standard", "billing_start": "2026-04-01"},
    )
    api(
        "POST",
        "/v1/resources",
        json={
            "contract_id": contract["id"],
            "name": "app01",
            "kind": "vm",
            "selectors": [
                {"azure.resource_id": VM.upper()},
                {"azure.subscription": SUBSCRIPTION, "azure.region": "Japan East"},
            ],
        },
    )
    api(
        "POST",
        "/v1/resources",
        json={
            "contract_id": contract["id"],
            "name": "db01",
            "kind": "vm",
            "selectors": [{"azure.resource_id": DB_VM}],
        },
    )

    # fired by webhook: an incident at Azure's fired instant
    fired_at = datetime.now(UTC).replace(microsecond=123456) - timedelta(minutes=2)
    fired = fixture("common-alert-metric-fired.json")
    fired["data"]["essentials"]["firedDateTime"] = azure_instant(fired_at)
    answer = push(fired)
    assert answer.status_code == 200, answer.text
    assert answer.json()["results"][0]["status"] == "created"
    assert push(fired).json()["results"][0]["status"] == "duplicate"
    forged = process.request("POST", "/v1/webhooks/azure/prod", "not-a-jwt", json=fired)
    assert forged.status_code == 401
    (incident,) = api("GET", "/v1/incidents")["items"]
    assert parse(incident["detected_at"]) == fired_at

    def contact_due() -> datetime:
        shown = api("GET", f"/v1/incidents/{incident['id']}")
        return parse(next(c for c in shown["clocks"] if c["name"] == "contact")["slo_due"])

    # a Service Health maintenance over counted time before the due instant moves it
    due = contact_due()
    start, end = due - timedelta(minutes=10), due + timedelta(minutes=50)
    maintenance = fixture("common-alert-service-health-maintenance.json")
    properties = maintenance["data"]["alertContext"]["properties"]
    properties.update(impactStartTime=azure_instant(start), impactMitigationTime=azure_instant(end))
    assert push(maintenance).status_code == 200
    moved = wait_for(lambda: contact_due() > due and contact_due(), 60, "the due instant to move")
    assert moved - due >= timedelta(minutes=10)
    (notice,) = api("GET", "/v1/provider-notices", params={"source": "azure"})["items"]
    assert notice["event_id"] == "ABCD-123" and notice["kind"] == "maintenance"

    # cancelled: the window goes and the due instant comes back
    cancelled = copy.deepcopy(maintenance)
    cancelled["data"]["alertContext"]["properties"]["stage"] = "Canceled"
    cancelled["data"]["alertContext"]["eventTimestamp"] = "2026-11-28T04:00:00Z"
    assert push(cancelled).status_code == 200
    wait_for(lambda: contact_due() == due, 60, "the due instant to come back")

    # resolved by webhook
    resolved_at = datetime.now(UTC).replace(microsecond=654321) - timedelta(seconds=30)
    resolved = copy.deepcopy(fired)
    resolved["data"]["essentials"].update(
        monitorCondition="Resolved", resolvedDateTime=azure_instant(resolved_at)
    )
    assert push(resolved).json()["results"][0]["status"] == "resolved"
    (incident,) = api("GET", "/v1/incidents")["items"]
    assert incident["status"] == "resolved" and parse(incident["resolved_at"]) == resolved_at

    # missed by the push, found by the poller; then its resolution, also only by polling
    missed_at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    missed = listed_alert(
        "0a1b2c3d-0000-4000-8000-0000000000e2", DB_VM, azure_instant(missed_at), rule="vm-disk-full"
    )
    arm.alerts[SUBSCRIPTION].append(missed)

    def by_title(title: str) -> dict[str, Any] | None:
        found = [i for i in api("GET", "/v1/incidents")["items"] if i["title"] == title]
        return found[0] if found else None

    found = wait_for(lambda: by_title("vm-disk-full"), 60, "the poller to find the alert")
    assert parse(found["detected_at"]) == missed_at and found["status"] == "open"
    back_at = datetime.now(UTC).replace(microsecond=0)
    arm.alerts[SUBSCRIPTION][0] = listed_alert(
        "0a1b2c3d-0000-4000-8000-0000000000e2",
        DB_VM,
        azure_instant(missed_at),
        rule="vm-disk-full",
        resolved=azure_instant(back_at),
    )
    closed = wait_for(
        lambda: (i := by_title("vm-disk-full")) and i["status"] == "resolved" and i,
        60,
        "the poller to resolve it",
    )
    assert parse(closed["resolved_at"]) == back_at
    events = api("GET", "/v1/events", params={"source": "azure", "limit": 500})["items"]
    assert len([e for e in events if "0000000000e2" in e["event_key"]]) == 2  # no copies
    sources = api("GET", "/v1/sources")
    (mine,) = [s for s in sources if s["source"] == "azure" and s["instance"] == "prod"]
    assert mine["last_poll"]["ok"] is True
