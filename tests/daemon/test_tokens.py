"""Token lifecycle over REST: listed without secrets, created with an expiry, revoked,
audited; expired and revoked tokens are refused."""

from __future__ import annotations

from datetime import timedelta

from tests.daemon.conftest import Api


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_tokens_are_listed_without_their_secrets(api: Api) -> None:
    listed = api.ok(api.get("/v1/tokens", role="admin"))
    assert sorted(t["role"] for t in listed) == ["admin", "ingest", "operator", "viewer"]
    assert {t["state"] for t in listed} == {"active"}
    text = api.get("/v1/tokens", role="admin").text
    assert all(secret not in text for secret in api.tokens.values())
    assert "hash" not in text


def test_a_created_token_works_until_it_expires(api: Api) -> None:
    expires = api.clock() + timedelta(hours=1)
    created = api.ok(
        api.post(
            "/v1/tokens",
            {"name": "grafana", "role": "viewer", "expires_at": expires.isoformat()},
            role="admin",
        ),
        201,
    )
    assert created["token"].startswith("slad_")
    assert (created["name"], created["role"], created["state"]) == ("grafana", "viewer", "active")
    assert api.client.get("/v1/incidents", headers=bearer(created["token"])).status_code == 200
    assert "token" not in api.ok(api.get("/v1/tokens", role="admin"))[-1]

    api.clock.advance(hours=1)
    refused = api.client.get("/v1/incidents", headers=bearer(created["token"]))
    assert refused.status_code == 401
    assert "expired" in refused.json()["detail"]
    states = {t["name"]: t["state"] for t in api.ok(api.get("/v1/tokens", role="admin"))}
    assert states["grafana"] == "expired"
    expired = api.ok(api.get("/v1/tokens", role="admin", params={"state": "expired"}))
    assert [t["name"] for t in expired] == ["grafana"]


def test_a_revoked_token_is_refused_at_once_and_the_revocation_is_audited(api: Api) -> None:
    created = api.ok(api.post("/v1/tokens", {"name": "zbx", "role": "ingest"}, role="admin"), 201)
    events = api.client.get("/v1/tokens", headers=bearer(created["token"]))
    assert events.status_code == 403  # known, but not an admin: the cache holds it now
    revoked = api.ok(
        api.post(
            f"/v1/tokens/{created['id']}/revoke", {"reason": "Zabbix host retired"}, role="admin"
        )
    )
    assert revoked["state"] == "revoked" and revoked["revoked_at"] is not None
    refused = api.client.post("/v1/events", headers=bearer(created["token"]), json={})
    assert refused.status_code == 401
    again = api.post(f"/v1/tokens/{created['id']}/revoke", role="admin")
    assert again.status_code == 409
    assert api.post("/v1/tokens/999999/revoke", role="admin").status_code == 404

    audit = api.ok(api.get("/v1/audit", role="admin", params={"target_type": "token"}))["items"]
    assert [(a["action"], a["target_id"], a["reason"]) for a in audit] == [
        ("token.revoke", str(created["id"]), "Zabbix host retired"),
        ("token.create", str(created["id"]), None),
    ]
    assert audit[1]["detail"] == {"name": "zbx", "role": "ingest", "expires_at": None}


def test_bad_token_requests_are_refused_and_create_nothing(api: Api) -> None:
    before = api.ok(api.get("/v1/tokens", role="admin"))
    past = (api.clock() - timedelta(minutes=1)).isoformat()
    for body in (
        {"name": "x", "role": "root"},
        {"name": "", "role": "viewer"},
        {"name": "x", "role": "viewer", "expires_at": past},
        {"name": "x", "role": "viewer", "expires_at": "2027-01-01T00:00:00"},
    ):
        response = api.post("/v1/tokens", body, role="admin")
        assert response.status_code == 422, (body, response.text)
    assert api.ok(api.get("/v1/tokens", role="admin")) == before
