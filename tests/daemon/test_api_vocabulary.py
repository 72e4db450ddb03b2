"""One vocabulary across the API: UTC instants, event keys as sent, strict query strings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from tests.daemon.conftest import Api, event, seed_registry

T0 = datetime(2026, 11, 24, 0, 50, tzinfo=UTC)


def tokyo(instant: datetime) -> str:
    """`instant` written with the Asia/Tokyo offset, as a client in Japan sends it."""
    return instant.astimezone(timezone(timedelta(hours=9))).isoformat()


def instants(value: Any, path: str = "$") -> list[tuple[str, str]]:
    """Every (path, string) in an answer that reads as an instant."""
    if isinstance(value, dict):
        return [found for k, v in value.items() for found in instants(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [found for i, v in enumerate(value) for found in instants(v, f"{path}[{i}]")]
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == "T":
        try:
            datetime.fromisoformat(value)
        except ValueError:
            return []
        return [(path, value)]
    return []


def assert_utc(answer: Any) -> None:
    """Every instant is UTC; the API's own fields write it with `Z` (free-form records,
    such as an audit entry's `detail`, may write `+00:00`)."""
    found = instants(answer)
    assert found, "the answer holds no instant to check"
    assert [(p, v) for p, v in found if datetime.fromisoformat(v).utcoffset()] == []
    assert [(p, v) for p, v in found if ".detail" not in p and not v.endswith("Z")] == []


def test_every_instant_in_post_answers_is_utc(api: Api) -> None:
    ids = seed_registry(api, professional_support=True)
    api.clock.set(T0 + timedelta(minutes=1))
    accepted = api.ok(
        api.post(
            "/v1/events?wait=true",
            {**event("k1", "problem", T0), "detected_at": tokyo(T0)},
            role="ingest",
        )
    )
    incident_id = accepted["results"][0]["incident_id"]
    api.clock.set(T0 + timedelta(minutes=10))
    contact = {"at": tokyo(T0 + timedelta(minutes=9))}
    assert_utc(api.ok(api.post(f"/v1/incidents/{incident_id}/contact", contact)))
    assert_utc(
        api.ok(
            api.post(
                "/v1/maintenance-windows",
                {
                    "scope": "resource",
                    "scope_ref": ids["resource"],
                    "start": tokyo(T0 + timedelta(hours=1)),
                    "end": tokyo(T0 + timedelta(hours=2)),
                },
            ),
            201,
        )
    )
    request = {"contract_id": ids["contract"], "channel": "email", "subject": "help"}
    assert_utc(
        api.ok(
            api.post(
                "/v1/support-requests", {**request, "received_at": tokyo(T0 + timedelta(minutes=9))}
            ),
            201,
        )
    )
    made = api.ok(
        api.post(
            "/v1/operations-requests",
            {**request, "received_at": tokyo(T0 + timedelta(minutes=9))},
        ),
        201,
    )
    assert_utc(made)
    assert_utc(
        api.ok(
            api.post(
                f"/v1/operations-requests/{made['id']}/start",
                {"at": tokyo(T0 + timedelta(minutes=9, seconds=30))},
            )
        )
    )
    assert_utc(api.ok(api.get("/v1/audit", role="admin")))


def test_contact_without_a_body_means_now(api: Api) -> None:
    seed_registry(api)
    api.clock.set(T0 + timedelta(minutes=1))
    accepted = api.ok(api.post("/v1/events?wait=true", event("k1", "problem", T0), role="ingest"))
    incident_id = accepted["results"][0]["incident_id"]
    api.clock.set(T0 + timedelta(minutes=12))
    response = api.client.post(
        f"/v1/incidents/{incident_id}/contact", headers=api.headers("operator")
    )
    assert response.status_code == 200, response.text
    assert response.json()["contacted_at"] == "2026-11-24T01:02:00Z"


def test_event_keys_come_back_as_sent(api: Api) -> None:
    seed_registry(api)
    api.clock.set(T0 + timedelta(minutes=1))
    sent = api.ok(api.post("/v1/events", event("key-42", "problem", T0), role="ingest"), 202)
    assert [r["event_key"] for r in sent["results"]] == ["key-42"]
    again = api.ok(api.post("/v1/events", event("key-42", "problem", T0), role="ingest"), 202)
    assert [(r["event_key"], r["status"]) for r in again["results"]] == [("key-42", "duplicate")]
    listed = api.ok(api.get("/v1/events"))["items"]
    assert [(e["source"], e["event_key"]) for e in listed] == [("generic", "key-42")]


LISTS = [
    "/v1/events",
    "/v1/customers",
    "/v1/contracts",
    "/v1/resources",
    "/v1/incidents",
    "/v1/alerts",
    "/v1/maintenance-windows",
    "/v1/customer-incidents",
    "/v1/operations-requests",
    "/v1/support-requests",
    "/v1/outbox",
    "/v1/audit",
    "/v1/tokens",
    "/v1/sources",
    "/v1/provider-notices",
]


@pytest.mark.parametrize("route", LISTS)
def test_list_routes_refuse_unknown_query_parameters(api: Api, route: str) -> None:
    refused = api.get(route, role="admin", params={"custmer": "1"})
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert "custmer" in refused.text


def test_every_documented_read_refuses_unknown_query_parameters(api: Api) -> None:
    """Beyond `LISTS`: every GET the API document names, so a new router cannot forget."""
    document = api.ok(api.get("/openapi.json"))
    reads = [
        path
        for path, operations in document["paths"].items()
        if "get" in operations and "{" not in path and path.startswith("/v1/")
    ]
    lenient = [
        path
        for path in reads
        if api.get(path, role="admin", params={"custmer": "1"}).status_code != 422
    ]
    assert reads and lenient == []
