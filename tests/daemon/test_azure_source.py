"""Azure in the daemon: common-schema alerts posted as action groups post them.

Secure webhook tokens are issued by a local tenant whose key set is served over HTTPS
(a `trustme` test CA); plain webhooks carry their secret in the URL. Every test runs on
SQLite and PostgreSQL.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from daemon.store.models import AlertEventRecord, ProviderNoticeRecord
from tests.connectors.azure_fakes import (
    APP_CLIENT_ID,
    APP_ID_URI,
    SUBSCRIPTION,
    TENANT,
    AzureFakes,
    azure_fakes,
    fixture,
    new_key,
)
from tests.daemon.conftest import Api, ApiFactory, seed_resource

FIRED = datetime(2026, 11, 30, 1, 20, 5, 123456, tzinfo=UTC)
RESOLVED = datetime(2026, 11, 30, 1, 45, 10, 765432, tzinfo=UTC)
NOW = datetime(2026, 11, 30, 1, 21, tzinfo=UTC)
VM = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/Prod-RG/providers/"
    "Microsoft.Compute/virtualMachines/APP01"
)  # as an operator copies it from the portal: other case than the alert's
SECRET = "s3cret-webhook-token-0123456789"


@pytest.fixture
def azure(tmp_path: Path) -> Iterator[AzureFakes]:
    yield from azure_fakes(tmp_path)


def azure_api(api_factory: ApiFactory, azure: AzureFakes, **instance: Any) -> Api:
    table: dict[str, Any] = {
        "tenant_id": TENANT,
        "audiences": [APP_ID_URI, APP_CLIENT_ID],
        "keys_url": azure.tenant.keys_url,
        "ca_file": azure.ca_file,
        **instance,
    }
    api = api_factory(sections={"azure": {"instances": {"prod": table}}})
    api.clock.set(NOW)
    return api


@pytest.fixture
def api(api_factory: ApiFactory, azure: AzureFakes) -> Api:
    return azure_api(api_factory, azure)


@pytest.fixture
def plain(api_factory: ApiFactory, azure: AzureFakes) -> Api:
    return azure_api(api_factory, azure, webhook_auth="secret", webhook_secret=SECRET)


def seed_registry(api: Api, *selectors: dict[str, str], name: str = "app01") -> int:
    """A customer whose resource is the VM the alert rule watches."""
    chosen = selectors or ({"azure.resource_id": VM},)
    return seed_resource(api, name, *chosen, customer=f"acme-{name}")


def deliver(
    api: Api,
    payload: dict[str, Any] | bytes,
    token: str | None = None,
    query: str = "",
    instance: str = "prod",
) -> Any:
    """POST as an action group does: JSON, a bearer token for a secure webhook."""
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return api.client.post(
        f"/v1/webhooks/azure/{instance}?wait=true{query}", content=raw, headers=headers
    )


def secure(api: Api, azure: AzureFakes, payload: dict[str, Any] | bytes, **claims: Any) -> Any:
    return deliver(api, payload, azure.tenant.token(api.clock(), **claims))


def incidents(api: Api) -> list[dict[str, Any]]:
    return list(api.ok(api.get("/v1/incidents"))["items"])


def stored(api: Api, model: Any = AlertEventRecord) -> int:
    with api.services.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def status(api: Api) -> dict[str, Any]:
    entries = api.ok(api.get("/v1/sources"))
    return dict(next(e for e in entries if e["source"] == "azure" and e["instance"] == "prod"))


def same_instant(text: str, at: datetime) -> bool:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) == at


# --- secure webhook ----------------------------------------------------------------------


def test_fired_alert_opens_an_incident_at_azures_fired_instant(api: Api, azure: AzureFakes) -> None:
    seed_registry(api)
    answer = api.ok(secure(api, azure, fixture("common-alert-metric-fired.json")))
    assert answer["results"][0]["status"] == "created"
    (incident,) = incidents(api)
    assert same_instant(incident["detected_at"], FIRED)
    assert incident["source"] == "azure" and incident["title"] == "vm-cpu-high"
    assert status(api)["last_accepted"]["note"] == "1 event(s), 0 notice(s)"


def test_v2_tokens_are_accepted_too(api: Api, azure: AzureFakes) -> None:
    seed_registry(api)
    api.ok(secure(api, azure, fixture("common-alert-metric-fired.json"), version=2))
    assert len(incidents(api)) == 1


def test_repeated_calls_are_duplicates_and_resolution_closes_at_resolved_instant(
    api: Api, azure: AzureFakes
) -> None:
    seed_registry(api)
    fired = fixture("common-alert-metric-fired.json")
    api.ok(secure(api, azure, fired))
    again = api.ok(secure(api, azure, fired))
    assert again["results"][0]["status"] == "duplicate"
    api.clock.set(RESOLVED + timedelta(minutes=1))
    resolved = fixture("common-alert-metric-resolved.json")
    answer = api.ok(secure(api, azure, resolved))
    assert answer["results"][0]["status"] == "resolved"
    assert api.ok(secure(api, azure, resolved))["results"][0]["status"] == "duplicate"
    (incident,) = incidents(api)
    assert incident["status"] == "resolved"
    assert same_instant(incident["resolved_at"], RESOLVED)
    assert stored(api) == 2
    assert azure.tenant.key_fetches() == 1  # the key set is cached


@pytest.mark.parametrize(
    ("claims", "detail"),
    [
        ({"lifetime": timedelta(minutes=-10)}, "expired"),
        ({"aud": "api://someone-else"}, "aud"),
        ({"iss": "https://sts.windows.net/00000000-0000-0000-0000-000000000000/"}, "iss"),
        ({"appid": "0b5c2d36-0000-4000-8000-000000000000"}, "Azure Monitor"),
        ({"roles": ["SomethingElse"]}, "app role"),
        ({"roles": None}, "app role"),
    ],
)
def test_a_token_that_is_not_azure_monitors_for_this_app_is_401_and_stores_nothing(
    api: Api, azure: AzureFakes, claims: dict[str, Any], detail: str
) -> None:
    seed_registry(api)
    answer = secure(api, azure, fixture("common-alert-metric-fired.json"), **claims)
    assert answer.status_code == 401
    assert answer.json()["type"] == "urn:slad:problem:invalid-token"
    assert detail in answer.json()["detail"]
    assert stored(api) == 0 and incidents(api) == []
    assert status(api)["last_rejected"]["reason"] == "unauthorized"


def test_a_forged_signature_or_no_token_is_401(api: Api, azure: AzureFakes) -> None:
    payload = fixture("common-alert-metric-fired.json")
    forged = azure.tenant.token(api.clock(), key=new_key("k1"))  # same kid, other key
    assert deliver(api, payload, forged).status_code == 401
    assert deliver(api, payload).status_code == 401
    token = azure.tenant.token(api.clock())
    head, body, _signature = token.split(".")
    unsigned = deliver(api, payload, f"{head}.{body}.")
    assert unsigned.status_code == 401
    assert deliver(api, payload, query=f"&token={SECRET}").status_code == 401
    assert stored(api) == 0


def test_a_rotated_key_is_found_by_refreshing_the_key_set(api: Api, azure: AzureFakes) -> None:
    seed_registry(api)
    api.ok(secure(api, azure, fixture("common-alert-metric-fired.json")))
    rotated = new_key("k2")
    azure.tenant.published.append(rotated)  # Entra ID publishes a new key, then signs with it
    api.ok(secure(api, azure, fixture("common-alert-metric-resolved.json"), key=rotated))
    assert azure.tenant.key_fetches() == 2
    assert incidents(api)[0]["status"] == "resolved"


def test_an_unknown_key_id_refreshes_once_then_is_refused(api: Api, azure: AzureFakes) -> None:
    seed_registry(api)
    payload = fixture("common-alert-metric-fired.json")
    api.ok(secure(api, azure, fixture("common-alert-metric-resolved.json")))
    answer = secure(api, azure, payload, key=new_key("k3"))
    assert answer.status_code == 401 and "signing key" in answer.json()["detail"]
    assert azure.tenant.key_fetches() == 2  # refreshed for k3, which the tenant lacks
    assert secure(api, azure, payload, key=new_key("k4")).status_code == 401
    assert azure.tenant.key_fetches() == 2  # made-up key ids cannot make slad fetch at will
    assert incidents(api) == []


def test_unreachable_signing_keys_answer_503_so_azure_retries(api: Api, azure: AzureFakes) -> None:
    seed_registry(api)
    del azure.server.routes[("GET", azure.tenant.keys_path)]
    answer = secure(api, azure, fixture("common-alert-metric-fired.json"))
    assert answer.status_code == 503 and "Retry-After" in answer.headers
    assert stored(api) == 0


# --- plain webhook -----------------------------------------------------------------------


def test_plain_webhook_needs_the_secret_in_its_url(plain: Api) -> None:
    seed_registry(plain)
    payload = fixture("common-alert-metric-fired.json")
    assert deliver(plain, payload).status_code == 401
    wrong = deliver(plain, payload, query="&token=" + SECRET[:-1] + "x")
    assert wrong.status_code == 401 and wrong.json()["type"] == "urn:slad:problem:bad-token"
    assert SECRET not in wrong.text
    assert stored(plain) == 0
    plain.ok(deliver(plain, payload, query=f"&token={SECRET}"))
    assert len(incidents(plain)) == 1


# --- payloads ----------------------------------------------------------------------------


def test_a_payload_that_is_not_the_common_schema_is_422_naming_the_setting(
    plain: Api,
) -> None:
    legacy = {
        "schemaId": "AzureMonitorMetricAlert",
        "data": {"status": "Activated", "context": {"id": "x"}},
    }
    answer = deliver(plain, legacy, query=f"&token={SECRET}")
    assert answer.status_code == 422
    assert "useCommonAlertSchema" in answer.json()["detail"]
    assert deliver(plain, b"not json", query=f"&token={SECRET}").status_code == 422
    assert stored(plain) == 0
    assert status(plain)["last_rejected"]["reason"] == "malformed"


def test_log_search_alert_without_rule_name_maps_by_its_target(plain: Api) -> None:
    workspace = (
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/prod-rg/providers/"
        "Microsoft.OperationalInsights/workspaces/prod-logs"
    )
    seed_registry(plain, {"azure.resource_id": workspace.upper()}, name="logs")
    plain.clock.set(datetime(2026, 11, 30, 3, 11, tzinfo=UTC))
    answer = plain.ok(
        deliver(plain, fixture("common-alert-log-search-fired.json"), query=f"&token={SECRET}")
    )
    assert answer["results"][0]["status"] == "created"
    (incident,) = incidents(plain)
    assert same_instant(
        incident["detected_at"], datetime(2026, 11, 30, 3, 10, 0, 123456, tzinfo=UTC)
    )


def test_subscription_and_resource_group_selectors_match_any_alert_in_them(plain: Api) -> None:
    seed_registry(
        plain, {"azure.subscription": SUBSCRIPTION.upper(), "azure.resource_group": "PROD-rg"}
    )
    plain.ok(deliver(plain, fixture("common-alert-metric-fired.json"), query=f"&token={SECRET}"))
    assert len(incidents(plain)) == 1


def test_an_alert_on_several_targets_opens_one_incident_per_resource(plain: Api) -> None:
    other = VM.replace("APP01", "app02")
    seed_registry(plain)
    seed_registry(plain, {"azure.resource_id": other}, name="app02")
    payload = fixture("common-alert-metric-fired.json")
    payload["data"]["essentials"]["alertTargetIDs"].append(other.lower())
    answer = plain.ok(deliver(plain, payload, query=f"&token={SECRET}"))
    assert [r["status"] for r in answer["results"]] == ["created", "created"]
    assert len(incidents(plain)) == 2


def test_resource_health_platform_outage_is_an_incident_user_restart_is_not(
    plain: Api,
) -> None:
    seed_registry(plain)
    plain.clock.set(datetime(2026, 11, 30, 2, 1, tzinfo=UTC))
    platform = fixture("common-alert-resource-health-platform.json")
    user = copy.deepcopy(platform)
    user["data"]["essentials"]["alertId"] += "-user"
    user["data"]["alertContext"]["properties"]["cause"] = "UserInitiated"
    answer = plain.ok(deliver(plain, user, query=f"&token={SECRET}"))
    assert answer["results"][0]["status"] == "orphan"  # recorded, no incident
    assert incidents(plain) == [] and stored(plain) == 1
    plain.ok(deliver(plain, platform, query=f"&token={SECRET}"))
    (incident,) = incidents(plain)
    assert same_instant(
        incident["detected_at"], datetime(2026, 11, 30, 2, 0, 30, 500000, tzinfo=UTC)
    )
    back = copy.deepcopy(platform)
    back["data"]["essentials"]["alertId"] += "-back"
    back["data"]["essentials"]["firedDateTime"] = "2026-11-30T02:20:00Z"
    back["data"]["alertContext"]["properties"].update(
        currentHealthStatus="Available", previousHealthStatus="Unavailable"
    )
    plain.clock.set(datetime(2026, 11, 30, 2, 21, tzinfo=UTC))
    plain.ok(deliver(plain, back, query=f"&token={SECRET}"))
    (incident,) = incidents(plain)
    assert incident["status"] == "resolved"
    assert same_instant(incident["resolved_at"], datetime(2026, 11, 30, 2, 20, tzinfo=UTC))


def test_unknown_instance_is_404(plain: Api) -> None:
    answer = deliver(
        plain, fixture("common-alert-metric-fired.json"), instance="other", query=f"&token={SECRET}"
    )
    assert answer.status_code == 404
    assert stored(plain) == 0


# --- Service Health ----------------------------------------------------------------------


def test_service_health_maintenance_becomes_a_notice_with_a_window_that_follows_its_stage(
    plain: Api,
) -> None:
    region = {"azure.subscription": SUBSCRIPTION, "azure.region": "japan east"}
    first = seed_registry(plain, {"azure.resource_id": VM}, region)
    second = seed_registry(
        plain,
        {"azure.subscription": SUBSCRIPTION, "azure.service": "Virtual Machines"},
        name="app02",
    )
    seed_registry(
        plain, {"azure.subscription": SUBSCRIPTION, "azure.region": "West Europe"}, name="elsewhere"
    )
    planned = fixture("common-alert-service-health-maintenance.json")
    answer = plain.ok(deliver(plain, planned, query=f"&token={SECRET}"))
    assert answer["results"] == []
    assert status(plain)["last_accepted"]["note"] == "0 event(s), 1 notice(s)"
    assert plain.services.notices.apply_pending(plain.clock()) == 1
    (listed,) = plain.ok(plain.get("/v1/provider-notices", params={"source": "azure"}))["items"]
    assert listed["event_id"] == "ABCD-123" and listed["kind"] == "maintenance"
    assert listed["status"] == "scheduled"
    shown = plain.ok(plain.get(f"/v1/provider-notices/{listed['id']}"))
    assert shown["services"] == ["Virtual Machines"] and shown["regions"] == ["Japan East"]
    windows = {w["resource_id"]: (w["start"], w["end"]) for w in shown["windows"]}
    assert set(windows) == {first, second}
    start = datetime(2026, 12, 5, 17, tzinfo=UTC)
    assert all(same_instant(s, start) for s, _ in windows.values())

    # the same call again is nothing new
    plain.ok(deliver(plain, planned, query=f"&token={SECRET}"))
    assert stored(plain, ProviderNoticeRecord) == 1
    assert plain.services.notices.apply_pending(plain.clock()) == 0

    moved = copy.deepcopy(planned)
    props = moved["data"]["alertContext"]["properties"]
    props.update(
        stage="Rescheduled",
        impactStartTime="2026-12-06T17:00:00Z",
        impactMitigationTime="2026-12-06T19:00:00Z",
    )
    moved["data"]["alertContext"]["eventTimestamp"] = "2026-11-29T03:00:00Z"
    plain.ok(deliver(plain, moved, query=f"&token={SECRET}"))
    assert plain.services.notices.apply_pending(plain.clock()) == 1
    shown = plain.ok(plain.get(f"/v1/provider-notices/{listed['id']}"))
    assert shown["revision"] == 2
    assert {(w["start"], w["end"]) for w in shown["windows"]} == {
        ("2026-12-06T17:00:00Z", "2026-12-06T19:00:00Z")
    }

    cancelled = copy.deepcopy(moved)
    cancelled["data"]["alertContext"]["properties"]["stage"] = "Canceled"
    cancelled["data"]["alertContext"]["eventTimestamp"] = "2026-11-29T04:00:00Z"
    plain.ok(deliver(plain, cancelled, query=f"&token={SECRET}"))
    plain.services.notices.apply_pending(plain.clock())
    shown = plain.ok(plain.get(f"/v1/provider-notices/{listed['id']}"))
    assert shown["status"] == "cancelled" and shown["windows"] == []


def test_service_health_incident_is_a_notice_without_a_window(plain: Api) -> None:
    seed_registry(plain, {"azure.subscription": SUBSCRIPTION})
    outage = fixture("common-alert-service-health-maintenance.json")
    props = outage["data"]["alertContext"]["properties"]
    props.update(
        incidentType="Incident", stage="Active", trackingId="XYZ-9", impactMitigationTime=None
    )
    plain.ok(deliver(plain, outage, query=f"&token={SECRET}"))
    plain.services.notices.apply_pending(plain.clock())
    (listed,) = plain.ok(plain.get("/v1/provider-notices", params={"source": "azure"}))["items"]
    assert listed["kind"] == "incident" and listed["status"] == "active"
    assert plain.ok(plain.get(f"/v1/provider-notices/{listed['id']}"))["windows"] == []
    assert incidents(plain) == []


def test_service_health_with_unreadable_impacted_services_is_422(plain: Api) -> None:
    broken = fixture("common-alert-service-health-maintenance.json")
    broken["data"]["alertContext"]["properties"]["impactedServices"] = "[{not json"
    answer = deliver(plain, broken, query=f"&token={SECRET}")
    assert answer.status_code == 422 and "impactedServices" in answer.json()["detail"]
    assert stored(plain, ProviderNoticeRecord) == 0
