"""Azure reconciliation through the real SDK clients against local HTTPS servers.

`AlertsManagementClient`, `ResourceHealthMgmtClient` and azure-identity's
`ClientSecretCredential` reach a local token authority and a local Resource Manager
(certificates from a `trustme` test CA) through the instance's `authority_host`,
`management_url` and `ca_file`: nothing of slad is patched. Every test runs on SQLite
and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from connectors.azure import AzureSource
from daemon.sources.runner import InstanceRunner
from daemon.store.models import AlertEventRecord, MaintenanceWindow
from tests.connectors.azure_fakes import (
    SUBSCRIPTION,
    TENANT,
    Arm,
    AzureFakes,
    azure_fakes,
    fixture,
    health_event,
    listed_alert,
)
from tests.daemon.conftest import Api, ApiFactory, seed_resource

CLIENT_ID = "0f2c9e31-1111-4222-8333-944455556666"
SECRET = "s3cret-webhook-token-0123456789"
VM = (
    f"/subscriptions/{SUBSCRIPTION}/resourcegroups/prod-rg/providers/"
    "microsoft.compute/virtualmachines/app01"
)
NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)


@pytest.fixture
def azure(tmp_path: Path) -> Iterator[AzureFakes]:
    yield from azure_fakes(tmp_path)


@pytest.fixture
def arm(azure: AzureFakes) -> Arm:
    arm = Arm(azure.server)
    arm.serve(SUBSCRIPTION)
    return arm


def azure_api(
    api_factory: ApiFactory, azure: AzureFakes, arm: Arm, tmp_path: Path, **instance: Any
) -> Api:
    secret_file = tmp_path / "client-secret"
    secret_file.write_text(arm.client_secret + "\n")
    table: dict[str, Any] = {
        "tenant_id": TENANT,
        "webhook_auth": "secret",
        "webhook_secret": SECRET,
        "subscriptions": [SUBSCRIPTION],
        "client_id": CLIENT_ID,
        "client_secret_file": str(secret_file),
        "authority_host": azure.server.base,
        "management_url": azure.server.base,
        "ca_file": azure.ca_file,
        "failure_threshold": 2,
        **instance,
    }
    table = {k: v for k, v in table.items() if v is not None}
    api = api_factory(sections={"azure": {"instances": {"prod": table}}})
    api.clock.set(NOW)
    return api


@pytest.fixture
def api(api_factory: ApiFactory, azure: AzureFakes, arm: Arm, tmp_path: Path) -> Api:
    return azure_api(api_factory, azure, arm, tmp_path)


def seed_registry(api: Api, *selectors: dict[str, str]) -> int:
    return seed_resource(api, "app01", *(selectors or ({"azure.resource_id": VM.upper()},)))


def runner(api: Api) -> InstanceRunner:
    found = api.services.sources.runner("azure", "prod")
    assert found is not None
    return found


def poll(api: Api) -> None:
    """One poll, then correlation of what it put in the inbox."""
    runner(api).poll(api.clock())
    api.services.correlator.run_pending()


def deliver(api: Api, payload: dict[str, Any]) -> Any:
    return api.client.post(f"/v1/webhooks/azure/prod?wait=true&token={SECRET}", json=payload)


def incidents(api: Api) -> list[dict[str, Any]]:
    return list(api.ok(api.get("/v1/incidents"))["items"])


def stored_events(api: Api) -> int:
    with api.services.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(AlertEventRecord)) or 0)


def status(api: Api) -> dict[str, Any]:
    entries = api.ok(api.get("/v1/sources"))
    return dict(next(e for e in entries if e["source"] == "azure" and e["instance"] == "prod"))


def same_instant(text: str, at: datetime) -> bool:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) == at


def test_an_alert_the_push_missed_is_found_at_azures_start_instant(api: Api, arm: Arm) -> None:
    seed_registry(api)
    started = datetime(2026, 11, 30, 1, 40, 12, 345678, tzinfo=UTC)
    arm.alerts[SUBSCRIPTION].append(
        listed_alert("0a1b2c3d-0000-4000-8000-0000000000a1", VM, "2026-11-30T01:40:12.3456789Z")
    )
    poll(api)
    (incident,) = incidents(api)
    assert same_instant(incident["detected_at"], started)
    assert incident["title"] == "vm-cpu-high" and incident["status"] == "open"
    assert status(api)["last_poll"]["ok"] is True
    (call,) = arm.calls("/Microsoft.AlertsManagement/alerts")
    window = call.query["customTimeRange"][0]
    assert window.endswith("/2026-11-30T02:00:00Z")  # up to now, from before the watermark
    count = stored_events(api)
    api.clock.advance(minutes=5)
    poll(api)
    assert stored_events(api) == count  # nothing new, nothing stored twice


def test_a_resolution_the_push_missed_closes_the_pushed_incident(api: Api, arm: Arm) -> None:
    seed_registry(api)
    fired = fixture("common-alert-metric-fired.json")
    api.clock.set(datetime(2026, 11, 30, 1, 21, tzinfo=UTC))
    api.ok(deliver(api, fired))
    alert_id = fired["data"]["essentials"]["alertId"]
    arm.alerts[SUBSCRIPTION].append(
        listed_alert(
            alert_id.rsplit("/", 1)[-1],
            VM,
            "2026-11-30T01:20:05.1234567Z",
            resolved="2026-11-30T01:45:10.7654321Z",
        )
    )
    api.clock.set(NOW)
    poll(api)
    (incident,) = incidents(api)
    assert incident["status"] == "resolved"
    assert same_instant(
        incident["resolved_at"], datetime(2026, 11, 30, 1, 45, 10, 765432, tzinfo=UTC)
    )
    assert stored_events(api) == 2  # the poll's copy of the firing was a duplicate
    resolved = fixture("common-alert-metric-resolved.json")
    assert api.ok(deliver(api, resolved))["results"][0]["status"] == "duplicate"


def test_service_health_events_become_notices_whose_windows_follow_updates(
    api: Api, arm: Arm
) -> None:
    resource = seed_registry(
        api,
        {"azure.resource_id": VM},
        {"azure.subscription": SUBSCRIPTION, "azure.region": "Japan East"},
    )
    arm.events[SUBSCRIPTION].append(
        health_event("ABCD-123", "2026-12-05T17:00:00Z", "2026-12-05T21:00:00Z")
    )
    poll(api)
    assert api.services.notices.apply_pending(api.clock()) == 1
    (listed,) = api.ok(api.get("/v1/provider-notices", params={"source": "azure"}))["items"]
    assert (listed["event_id"], listed["kind"], listed["status"]) == (
        "ABCD-123",
        "maintenance",
        "scheduled",
    )
    shown = api.ok(api.get(f"/v1/provider-notices/{listed['id']}"))
    assert [(w["resource_id"], w["start"], w["end"]) for w in shown["windows"]] == [
        (resource, "2026-12-05T17:00:00Z", "2026-12-05T21:00:00Z")
    ]
    (call,) = arm.calls("/Microsoft.ResourceHealth/events")
    assert call.query["queryStartTime"] == ["11/28/2026"]  # a day before the first reach

    # the pushed alert of the same event is the same notice
    pushed = fixture("common-alert-service-health-maintenance.json")
    api.ok(deliver(api, pushed))
    assert len(api.ok(api.get("/v1/provider-notices", params={"source": "azure"}))["items"]) == 1

    arm.events[SUBSCRIPTION][0] = health_event(
        "ABCD-123", "2026-12-05T18:00:00Z", "2026-12-05T23:00:00Z", updated="2026-11-30T03:00:00Z"
    )
    api.clock.advance(minutes=5)
    poll(api)
    api.services.notices.apply_pending(api.clock())
    shown = api.ok(api.get(f"/v1/provider-notices/{listed['id']}"))
    assert [(w["start"], w["end"]) for w in shown["windows"]] == [
        ("2026-12-05T18:00:00Z", "2026-12-05T23:00:00Z")
    ]


@pytest.mark.parametrize(
    ("status_code", "code"), [(429, "TooManyRequests"), (403, "AuthorizationFailed")]
)
def test_throttling_and_refusals_are_failed_polls_showing_azures_code(
    api: Api, arm: Arm, status_code: int, code: str
) -> None:
    arm.failure = (status_code, code)
    poll(api)
    last = status(api)["last_poll"]
    assert last["ok"] is False and code in last["error"]
    assert runner(api).up
    api.clock.advance(minutes=10)
    poll(api)
    assert not runner(api).up  # failure_threshold = 2
    with api.services.sessions() as session:
        (fault,) = session.scalars(
            select(MaintenanceWindow).where(MaintenanceWindow.kind == "monitoring_fault")
        ).all()
        assert fault.source == "azure:prod" and same_instant(fault.start_at.isoformat(), NOW)
    arm.failure = None
    api.clock.advance(minutes=10)
    poll(api)
    assert runner(api).up and status(api)["last_poll"]["ok"] is True


def test_a_refused_sign_in_is_a_failed_poll_naming_entra_ids_error(
    api_factory: ApiFactory, azure: AzureFakes, arm: Arm, tmp_path: Path
) -> None:
    api = azure_api(
        api_factory, azure, arm, tmp_path, client_secret="not-the-secret", client_secret_file=None
    )
    poll(api)
    last = status(api)["last_poll"]
    assert last["ok"] is False and "AADSTS7000215" in last["error"]
    assert arm.calls("/Microsoft.AlertsManagement/alerts") == []


def test_an_instance_without_subscriptions_is_push_only(
    api_factory: ApiFactory, azure: AzureFakes, arm: Arm, tmp_path: Path
) -> None:
    api = azure_api(api_factory, azure, arm, tmp_path, subscriptions=[])
    assert runner(api).polls() is False


def test_past_the_interval_the_next_poll_reaches_back_from_the_watermark(
    api: Api, arm: Arm
) -> None:
    seed_registry(api)
    poll(api)
    api.clock.advance(hours=6)  # slad was down
    missed = (NOW + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")
    arm.alerts[SUBSCRIPTION].append(
        listed_alert("0a1b2c3d-0000-4000-8000-0000000000b2", VM, missed)
    )
    poll(api)
    assert len(incidents(api)) == 1
    second = arm.calls("/Microsoft.AlertsManagement/alerts")[1]
    assert second.query["customTimeRange"][0].startswith("2026-11-29T02:00:00Z/")


# --- slad source check -------------------------------------------------------------------


def test_check_signs_in_reads_each_subscription_and_its_test_payload_stores_nothing(
    api: Api, arm: Arm
) -> None:
    found = runner(api)
    steps = found.connector.check(found.instance)
    assert [(s.name, s.ok) for s in steps] == [
        ("sign-in to Entra ID", True),
        (f"alerts of {SUBSCRIPTION} readable", True),
        (f"Service Health events of {SUBSCRIPTION} readable", True),
    ]
    test = found.connector.signed_test(found.instance)
    assert test is not None
    answer = api.client.post(
        "/v1/webhooks/azure/prod",
        content=test.body,
        headers=dict(test.headers),
        params=dict(test.query),
    )
    assert answer.status_code == 200 and "nothing stored" in answer.json()["note"]
    assert stored_events(api) == 0 and incidents(api) == []
    forged = api.client.post(
        "/v1/webhooks/azure/prod",
        content=test.body,
        headers=dict(test.headers),
        params={"token": "x" * 20},
    )
    assert forged.status_code == 401


def test_check_names_what_azure_refused(api: Api, arm: Arm) -> None:
    arm.failure = (403, "AuthorizationFailed")
    found = runner(api)
    steps = found.connector.check(found.instance)
    assert steps[0].ok and not steps[1].ok and "AuthorizationFailed" in steps[1].detail
    arm.client_secret = "rotated-away"
    fresh = AzureSource()
    (step,) = fresh.check(found.instance)
    assert step.name == "sign-in to Entra ID" and not step.ok
    assert "AADSTS7000215" in step.detail


# --- slad source setup -------------------------------------------------------------------

GROUP = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/ops/providers/"
    "Microsoft.Insights/actionGroups/slad-oncall"
)
APP_OBJECT_ID = "9d2b7c55-1111-4222-8333-944455556666"


def metric_rule(name: str, *groups: str) -> dict[str, Any]:
    return {
        "id": f"/subscriptions/{SUBSCRIPTION}/resourceGroups/prod-rg/providers/"
        f"Microsoft.Insights/metricAlerts/{name}",
        "name": name,
        "type": "Microsoft.Insights/metricAlerts",
        "location": "global",
        "properties": {
            "severity": 2,
            "enabled": True,
            "scopes": [VM],
            "evaluationFrequency": "PT1M",
            "windowSize": "PT5M",
            "criteria": {
                "odata.type": "Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria",
                "allOf": [],
            },
            "actions": [{"actionGroupId": g} for g in groups],
        },
    }


def test_setup_writes_slads_receiver_and_lists_rules_that_do_not_use_it(
    api_factory: ApiFactory, azure: AzureFakes, arm: Arm, tmp_path: Path
) -> None:
    arm.serve_monitor(SUBSCRIPTION, GROUP)
    arm.rules["metricAlerts"] += [
        metric_rule("vm-cpu-high", GROUP.lower()),
        metric_rule("vm-disk-full"),
    ]
    api = azure_api(
        api_factory,
        azure,
        arm,
        tmp_path,
        webhook_auth="secure",
        webhook_secret=None,
        audiences=["api://slad-webhook"],
        keys_url=azure.tenant.keys_url,
        action_group_id=GROUP,
        app_object_id=APP_OBJECT_ID,
    )
    found = runner(api)
    url = "https://slad.example.jp/v1/webhooks/azure/prod"
    steps = found.connector.setup(found.instance, {"url": url})
    assert steps[0].startswith("action group slad-oncall created")
    assert steps[1:] == [
        "metric alert vm-disk-full does not notify slad-oncall: add the action group to it"
    ]
    group = arm.action_group
    assert group is not None and group["location"] == "Global"
    (receiver,) = group["properties"]["webhookReceivers"]
    assert receiver == {
        "name": "slad",
        "serviceUri": url,
        "useCommonAlertSchema": True,
        "useAadAuth": True,
        "objectId": APP_OBJECT_ID,
        "identifierUri": "api://slad-webhook",
        "tenantId": TENANT,
    }

    # run again with an e-mail receiver added by hand: that one stays, slad's is not doubled
    group["properties"]["emailReceivers"] = [{"name": "ops", "emailAddress": "ops@example.jp"}]
    group["properties"]["webhookReceivers"].append({"name": "other", "serviceUri": "https://x"})
    steps = found.connector.setup(found.instance, {"url": url})
    assert steps[0].startswith("action group slad-oncall updated")
    names = [r["name"] for r in arm.action_group["properties"]["webhookReceivers"]]
    assert names == ["other", "slad"]
    assert arm.action_group["properties"]["emailReceivers"][0]["name"] == "ops"


def test_setup_of_a_plain_webhook_puts_the_secret_in_the_receivers_uri_only(
    api_factory: ApiFactory, azure: AzureFakes, arm: Arm, tmp_path: Path
) -> None:
    arm.serve_monitor(SUBSCRIPTION, GROUP)
    api = azure_api(api_factory, azure, arm, tmp_path, action_group_id=GROUP)
    found = runner(api)
    url = "https://slad.example.jp/v1/webhooks/azure/prod"
    (step,) = found.connector.setup(found.instance, {"url": url})
    assert SECRET not in step
    (receiver,) = arm.action_group["properties"]["webhookReceivers"]
    assert receiver["serviceUri"] == f"{url}?token={SECRET}"
    assert receiver["useCommonAlertSchema"] is True and receiver["useAadAuth"] is False


def test_setup_without_an_action_group_names_the_key(api: Api) -> None:
    found = runner(api)
    with pytest.raises(ValueError, match=r"azure\.instances\.prod\.action_group_id: required"):
        found.connector.setup(found.instance, {"url": "https://slad.example.jp/x"})
