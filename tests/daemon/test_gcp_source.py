"""Google Cloud in the daemon: Cloud Monitoring webhooks and Pub/Sub pushes over HTTP.

Webhooks are posted as Cloud Monitoring posts them (basic auth, or a token in the URL);
pushes carry OIDC tokens signed with our own key, whose certificate a local server
publishes where the instance's `oidc_certs_url` points. Every test runs on SQLite and
PostgreSQL.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from daemon.store.models import AlertEventRecord
from tests.connectors.gcp_fakes import (
    PUSH_ACCOUNT,
    LocalHttp,
    fixture,
    local_http,
    oidc_token,
    push_envelope,
    serve_certs,
    stranger_key,
)
from tests.daemon.conftest import Api, ApiFactory, seed_resource

STARTED = datetime.fromtimestamp(1796001327, UTC)
ENDED = datetime.fromtimestamp(1796003127, UTC)
INSTANCE_ID = "4417532156735894071"
OPEN = fixture("incident-open-v1.2.json")
CLOSED = fixture("incident-closed-v1.2.json")
AUDIENCE = "https://slad.example/v1/webhooks/gcp/prod/pubsub"
TOKEN = "t0ken-in-the-url-0123456789"


@pytest.fixture
def google() -> Iterator[LocalHttp]:
    yield from local_http()


@pytest.fixture
def api(api_factory: ApiFactory, google: LocalHttp) -> Api:
    instances = {
        "prod": {
            "projects": ["acme-prod"],
            "webhook_auth": "basic",
            "username": "google",
            "password": "s3cret-pass",
            "push_audience": AUDIENCE,
            "push_service_account": PUSH_ACCOUNT,
            "oidc_certs_url": serve_certs(google),
        },
        "tokened": {"projects": ["acme-prod"], "webhook_auth": "token", "token": TOKEN},
    }
    api = api_factory(sections={"gcp": {"instances": instances}})
    api.clock.set(datetime.fromtimestamp(1796001400, UTC))
    return api


def seed_registry(api: Api) -> int:
    """A customer whose resource is the VM the incident is about."""
    return seed_resource(api, "db01", {"gcp.label.instance_id": INSTANCE_ID})


def basic(user: str = "google", password: str = "s3cret-pass") -> dict[str, str]:
    encoded = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {encoded}", "Content-Type": "application/json"}


def notify(api: Api, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    """POST as Cloud Monitoring's webhook_basicauth channel does."""
    return api.client.post(
        "/v1/webhooks/gcp/prod?wait=true",
        content=json.dumps(body).encode(),
        headers=basic() if headers is None else headers,
    )


def push(api: Api, body: dict[str, Any], token: str | None, message_id: str = "1001") -> Any:
    """POST as a Pub/Sub push subscription with an OIDC token does."""
    headers = {"Content-Type": "application/json", "User-Agent": "APIs-Google"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return api.client.post(
        "/v1/webhooks/gcp/prod/pubsub?wait=true",
        content=json.dumps(push_envelope(body, message_id)).encode(),
        headers=headers,
    )


def incidents(api: Api) -> list[dict[str, Any]]:
    return list(api.ok(api.get("/v1/incidents"))["items"])


def stored_events(api: Api) -> int:
    with api.services.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(AlertEventRecord)) or 0)


def status(api: Api, instance: str = "prod") -> dict[str, Any]:
    entries = api.ok(api.get("/v1/sources"))
    return dict(next(e for e in entries if e["source"] == "gcp" and e["instance"] == instance))


def same_instant(text: str, at: datetime) -> bool:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) == at


def test_webhook_opens_an_incident_at_googles_detection_and_closes_it(api: Api) -> None:
    resource = seed_registry(api)
    answer = api.ok(notify(api, OPEN))
    assert answer["results"][0]["status"] == "created"
    (incident,) = incidents(api)
    assert same_instant(incident["detected_at"], STARTED)
    assert incident["source"] == "gcp"
    assert incident["resource_id"] == resource
    assert status(api)["last_accepted"]["note"] == "1 event(s), 0 notice(s)"
    api.clock.set(datetime.fromtimestamp(1796003200, UTC))
    api.ok(notify(api, CLOSED))
    (incident,) = incidents(api)
    assert incident["status"] == "resolved"
    assert same_instant(incident["resolved_at"], ENDED)


def test_redelivery_of_a_notification_is_a_duplicate(api: Api) -> None:
    seed_registry(api)
    api.ok(notify(api, OPEN))
    before = stored_events(api), incidents(api)
    again = api.ok(notify(api, OPEN))
    assert again["results"][0]["status"] == "duplicate"
    assert (stored_events(api), incidents(api)) == before


def test_the_console_test_notification_is_answered_and_creates_nothing(api: Api) -> None:
    answer = api.ok(notify(api, fixture("test-notification.json")), 200)
    assert answer["note"] == "test received from acme-prod"
    assert status(api)["last_accepted"]["note"] == "test received from acme-prod"
    assert stored_events(api) == 0
    assert incidents(api) == []


@pytest.mark.parametrize(
    "headers",
    [
        {},
        basic(password="wrong"),
        basic(user="someone"),
        {"Authorization": "Basic not-base64!"},
        {"Authorization": "Bearer " + "x" * 20},
    ],
    ids=["none", "wrong-password", "wrong-user", "garbled", "bearer"],
)
def test_bad_basic_credentials_are_refused_and_store_nothing(
    api: Api, headers: dict[str, str]
) -> None:
    seed_registry(api)
    answer = notify(api, OPEN, headers=headers)
    assert answer.status_code == 401
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert stored_events(api) == 0
    assert status(api)["last_rejected"]["reason"] == "unauthorized"
    assert "s3cret" not in answer.text


def test_a_token_instance_takes_the_token_in_the_url_only(api: Api) -> None:
    seed_registry(api)
    body = json.dumps(OPEN).encode()
    url = "/v1/webhooks/gcp/tokened?wait=true"
    assert api.client.post(url, content=body).status_code == 401
    assert api.client.post(url + "&token=wrong-token-0123456789", content=body).status_code == 401
    assert stored_events(api) == 0
    answer = api.client.post(f"{url}&token={TOKEN}", content=body)
    assert answer.status_code == 200, answer.text
    assert stored_events(api) == 1


def test_a_verified_but_unmappable_body_is_422_naming_the_field(api: Api) -> None:
    body = {**OPEN, "incident": {**OPEN["incident"], "started_at": None}}
    answer = notify(api, body)
    assert answer.status_code == 422
    assert "incident.started_at" in answer.json()["detail"]
    assert stored_events(api) == 0


def test_pubsub_push_with_a_valid_token_opens_and_closes(api: Api) -> None:
    seed_registry(api)
    answer = api.ok(push(api, OPEN, oidc_token(AUDIENCE)))
    assert answer["results"][0]["status"] == "created"
    (incident,) = incidents(api)
    assert same_instant(incident["detected_at"], STARTED)
    again = api.ok(push(api, OPEN, oidc_token(AUDIENCE), message_id="1002"))
    assert again["results"][0]["status"] == "duplicate"  # Pub/Sub delivers at least once
    api.clock.set(datetime.fromtimestamp(1796003200, UTC))
    api.ok(push(api, CLOSED, oidc_token(AUDIENCE), message_id="1003"))
    (incident,) = incidents(api)
    assert incident["status"] == "resolved"
    assert same_instant(incident["resolved_at"], ENDED)


def test_the_same_incident_by_webhook_and_push_is_one_event(api: Api) -> None:
    seed_registry(api)
    api.ok(notify(api, OPEN))
    answer = api.ok(push(api, OPEN, oidc_token(AUDIENCE)))
    assert answer["results"][0]["status"] == "duplicate"
    assert stored_events(api) == 1


@pytest.mark.parametrize(
    ("token", "why"),
    [
        (None, "Bearer"),
        ("not-a-jwt", "not a JWT"),
        (oidc_token("https://elsewhere.example/push"), "audience"),
        (oidc_token(AUDIENCE, expires_in=-3600), "expired"),
        (oidc_token(AUDIENCE, issuer="https://evil.example"), "issued by Google"),
        (oidc_token(AUDIENCE, email="someone@evil.iam.gserviceaccount.com"), "service account"),
        (oidc_token(AUDIENCE, verified=False), "not verified"),
        (oidc_token(AUDIENCE, key=stranger_key()), "signature"),
    ],
    ids=["none", "garbage", "audience", "expired", "issuer", "email", "unverified", "key"],
)
def test_bad_oidc_tokens_are_refused_and_store_nothing(
    api: Api, token: str | None, why: str
) -> None:
    seed_registry(api)
    answer = push(api, OPEN, token)
    assert answer.status_code == 401, answer.text
    assert why in answer.json()["detail"]
    assert stored_events(api) == 0
    assert status(api)["last_rejected"]["reason"] == "unauthorized"


def test_push_to_an_instance_without_push_settings_is_refused(api: Api) -> None:
    answer = api.client.post(
        "/v1/webhooks/gcp/tokened/pubsub",
        content=json.dumps(push_envelope(OPEN)).encode(),
        headers={"Authorization": f"Bearer {oidc_token(AUDIENCE)}"},
    )
    assert answer.status_code == 401
    assert "push_audience" in answer.json()["detail"]
    assert stored_events(api) == 0


def test_push_keys_are_fetched_once_and_a_test_message_creates_nothing(
    api: Api, google: LocalHttp
) -> None:
    answer = api.ok(push(api, fixture("test-notification.json"), oidc_token(AUDIENCE)), 200)
    assert answer["note"] == "test received from acme-prod"
    api.ok(push(api, fixture("test-notification.json"), oidc_token(AUDIENCE)), 200)
    assert google.paths().count("/oauth2/v1/certs") == 1
    assert stored_events(api) == 0
