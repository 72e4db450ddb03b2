"""AWS in the daemon: SNS messages posted over HTTP, signed with our own key.

The signing certificate and the `SubscribeURL` are served by a local HTTP server the
instance reaches through `trusted_url_prefixes`; messages are posted as SNS posts them
(``text/plain``). Every test runs on SQLite and PostgreSQL.
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
from tests.connectors.aws_sns import TOPIC, FakeSns, fake_sns, fixture
from tests.daemon.conftest import Api, ApiFactory, seed_resource

CHANGED = datetime(2026, 11, 30, 1, 15, 27, 123000, tzinfo=UTC)
RECOVERED = datetime(2026, 11, 30, 1, 40, 0, 250000, tzinfo=UTC)
INSTANCE_ID = "i-0abc1234def567890"
ALARM = fixture("cloudwatch-alarm-message.json")


@pytest.fixture
def sns() -> Iterator[FakeSns]:
    yield from fake_sns()


def aws_api(api_factory: ApiFactory, sns: FakeSns, **instance: Any) -> Api:
    table = {"topic_arns": [TOPIC], "trusted_url_prefixes": [sns.base], **instance}
    api = api_factory(sections={"aws": {"instances": {"prod": table}}})
    api.clock.set(datetime(2026, 11, 30, 1, 16, tzinfo=UTC))
    return api


@pytest.fixture
def api(api_factory: ApiFactory, sns: FakeSns) -> Api:
    return aws_api(api_factory, sns)


def seed_registry(api: Api) -> int:
    """A customer whose resource is the EC2 instance the alarm watches."""
    return seed_resource(api, "web01", {"aws.dimension.InstanceId": INSTANCE_ID})


def deliver(api: Api, fields: dict[str, Any], instance: str = "prod") -> Any:
    """POST as SNS does: text/plain, the type in a header, no bearer token."""
    return api.client.post(
        f"/v1/webhooks/aws/{instance}?wait=true",
        content=json.dumps(fields).encode(),
        headers={
            "Content-Type": "text/plain; charset=UTF-8",
            "x-amz-sns-message-type": str(fields["Type"]),
            "x-amz-sns-topic-arn": str(fields["TopicArn"]),
        },
    )


def recovery() -> dict[str, Any]:
    return {
        **ALARM,
        "NewStateValue": "OK",
        "OldStateValue": "ALARM",
        "StateChangeTime": "2026-11-30T01:40:00.250+0000",
    }


def incidents(api: Api) -> list[dict[str, Any]]:
    return list(api.ok(api.get("/v1/incidents"))["items"])


def stored_events(api: Api) -> int:
    with api.services.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(AlertEventRecord)) or 0)


def status(api: Api) -> dict[str, Any]:
    entries = api.ok(api.get("/v1/sources"))
    return dict(next(e for e in entries if e["source"] == "aws" and e["instance"] == "prod"))


def same_instant(text: str, at: datetime) -> bool:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) == at


def test_alarm_opens_an_incident_at_cloudwatchs_detection_instant(api: Api, sns: FakeSns) -> None:
    seed_registry(api)
    answer = api.ok(deliver(api, sns.notification(ALARM, subject='ALARM: "web01-cpu-high"')))
    assert answer["results"][0]["status"] == "created"
    (incident,) = incidents(api)
    assert same_instant(incident["detected_at"], CHANGED)  # not the SNS Timestamp
    assert incident["source"] == "aws"
    assert incident["detected_at_estimated"] is False
    assert status(api)["last_accepted"]["note"] == "1 event(s), 0 notice(s)"


def test_redelivery_and_the_eventbridge_copy_are_duplicates(api: Api, sns: FakeSns) -> None:
    seed_registry(api)
    api.ok(deliver(api, sns.notification(ALARM)))
    before = stored_events(api), incidents(api)
    again = api.ok(deliver(api, sns.notification(ALARM)))
    assert again["results"][0]["status"] == "duplicate"
    event = fixture("eventbridge-alarm-state-change.json")
    copy = api.ok(deliver(api, sns.notification(event, message_id="eventbridge-copy")))
    assert copy["results"][0]["status"] == "duplicate"
    assert (stored_events(api), incidents(api)) == before
    assert sns.requests.count("/SimpleNotificationService-test.pem") == 1  # cached


def test_ok_resolves_it_at_the_recovery_instant(api: Api, sns: FakeSns) -> None:
    seed_registry(api)
    api.ok(deliver(api, sns.notification(ALARM)))
    api.clock.set(datetime(2026, 11, 30, 1, 41, tzinfo=UTC))
    answer = api.ok(deliver(api, sns.notification(recovery(), version="1", message_id="ok")))
    assert answer["results"][0]["status"] == "resolved"
    (incident,) = incidents(api)
    assert incident["status"] == "resolved"
    assert same_instant(incident["resolved_at"], RECOVERED)


def test_bad_signature_is_401_stores_nothing_and_shows_in_sources(api: Api, sns: FakeSns) -> None:
    seed_registry(api)
    fields = sns.notification(ALARM)
    fields["Message"] = fields["Message"].replace("web01-cpu-high", "web02-cpu-high")
    answer = deliver(api, fields)
    assert answer.status_code == 401
    assert answer.json()["type"] == "urn:slad:problem:bad-signature"
    assert stored_events(api) == 0 and incidents(api) == []
    rejected = status(api)["last_rejected"]
    assert rejected["reason"] == "bad_signature"
    assert "signature does not match" in rejected["detail"]


def test_foreign_topic_is_refused_before_any_fetch(api: Api, sns: FakeSns) -> None:
    seed_registry(api)
    other = "arn:aws:sns:ap-northeast-1:999999999999:attacker"
    answer = deliver(api, sns.notification(ALARM, topic=other))
    assert answer.status_code == 401
    assert answer.json()["type"] == "urn:slad:problem:foreign-topic"
    assert stored_events(api) == 0 and sns.requests == []
    assert status(api)["last_rejected"]["reason"] == "unauthorized"


def test_certificate_on_a_foreign_host_is_refused_unfetched(
    api_factory: ApiFactory, sns: FakeSns
) -> None:
    api = aws_api(api_factory, sns, trusted_url_prefixes=[])
    answer = deliver(api, sns.notification(ALARM))
    assert answer.status_code == 401
    assert "SigningCertURL" in answer.json()["detail"]
    assert stored_events(api) == 0 and sns.requests == []


def test_a_message_that_is_no_alarm_is_422(api: Api, sns: FakeSns) -> None:
    answer = deliver(api, sns.notification("hello from the SNS console"))
    assert answer.status_code == 422
    assert status(api)["last_rejected"]["reason"] == "malformed"
    assert stored_events(api) == 0


def test_subscription_is_confirmed_by_visiting_subscribe_url(api: Api, sns: FakeSns) -> None:
    answer = api.ok(deliver(api, sns.confirmation()))
    assert "confirmed" in answer["note"]
    assert "/confirm?Token=2336412f37" in sns.requests
    assert "confirmed" in status(api)["last_accepted"]["note"]
    assert stored_events(api) == 0


def test_confirmation_can_be_left_to_an_operator(api_factory: ApiFactory, sns: FakeSns) -> None:
    api = aws_api(api_factory, sns, confirm_subscriptions=False)
    answer = api.ok(deliver(api, sns.confirmation()))
    assert "awaits manual confirmation" in answer["note"]
    assert not any(r.startswith("/confirm") for r in sns.requests)


def test_subscribe_url_on_a_foreign_host_is_never_visited(api: Api, sns: FakeSns) -> None:
    answer = deliver(api, sns.confirmation(subscribe_url="https://evil.example/confirm"))
    assert answer.status_code == 401
    assert answer.json()["type"] == "urn:slad:problem:untrusted-subscribe-url"
    assert not any(r.startswith("/confirm") for r in sns.requests)


def test_unsubscribe_is_recorded_never_visited_and_opens_a_fault(api: Api, sns: FakeSns) -> None:
    answer = api.ok(deliver(api, sns.confirmation("UnsubscribeConfirmation")))
    assert "subscription removed" in answer["note"]
    assert not any(r.startswith("/confirm") for r in sns.requests)
    assert "subscription removed" in status(api)["last_accepted"]["note"]
    fault = status(api)["open_fault"]
    assert fault is not None and "subscription removed" in fault["description"]
    # from when SNS says it removed the subscription, not from when slad heard of it
    assert same_instant(fault["start"], datetime(2026, 11, 30, 0, 0, tzinfo=UTC))


def test_the_next_notification_closes_the_unsubscribe_fault(api: Api, sns: FakeSns) -> None:
    seed_registry(api)
    api.ok(deliver(api, sns.confirmation("UnsubscribeConfirmation")))
    api.clock.set(datetime(2026, 11, 30, 2, 0, tzinfo=UTC))
    api.ok(deliver(api, sns.notification({"slad_test": "n1"}, message_id="test")))
    assert status(api)["open_fault"] is None
    assert status(api)["last_accepted"]["note"] == f"test message n1 from {TOPIC}"
    assert stored_events(api) == 0


def test_an_unreachable_certificate_host_is_503_and_stores_nothing(
    api_factory: ApiFactory, sns: FakeSns
) -> None:
    api = aws_api(api_factory, sns, certificate_base_url="http://127.0.0.1:9")
    answer = deliver(api, sns.notification(ALARM))
    assert answer.status_code == 503
    assert answer.headers["retry-after"]
    assert status(api)["last_rejected"]["reason"] == "source_unreachable"
    assert stored_events(api) == 0


def test_certificates_can_come_from_an_emulators_host(
    api_factory: ApiFactory, sns: FakeSns
) -> None:
    api = aws_api(api_factory, sns, certificate_base_url=sns.base.rstrip("/"))
    seed_registry(api)
    cert_url = "https://sns.ap-northeast-1.amazonaws.com/SimpleNotificationService-test.pem"
    answer = api.ok(deliver(api, sns.notification(ALARM, cert_url=cert_url)))
    assert answer["results"][0]["status"] == "created"
    assert sns.requests == ["/SimpleNotificationService-test.pem"]


# --- EventBridge API destination ------------------------------------------------------------

KEY = "eb-key-never-logged"
ALARM_EVENT = fixture("eventbridge-alarm-state-change.json")


def post_event(
    api: Api, event: Any, headers: dict[str, str] | None = None, instance: str = "prod"
) -> Any:
    raw = event if isinstance(event, bytes) else json.dumps(event).encode()
    return api.client.post(
        f"/v1/webhooks/aws/{instance}/events?wait=true",
        content=raw,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def keyed_api(api_factory: ApiFactory, sns: FakeSns) -> Api:
    return aws_api(api_factory, sns, events_api_key_header="X-Slad-Key", events_api_key=KEY)


def test_an_eventbridge_alarm_opens_the_incident_its_sns_copy_duplicates(
    api_factory: ApiFactory, sns: FakeSns
) -> None:
    api = keyed_api(api_factory, sns)
    seed_registry(api)
    first = api.ok(post_event(api, ALARM_EVENT, {"X-Slad-Key": KEY}))
    assert first["results"][0]["status"] == "created"
    (incident,) = incidents(api)
    assert same_instant(incident["detected_at"], CHANGED)  # detail.state.timestamp
    again = api.ok(deliver(api, sns.notification(ALARM)))
    assert again["results"][0]["status"] == "duplicate"
    assert stored_events(api) == 1


@pytest.mark.parametrize("headers", [{}, {"X-Slad-Key": "wrong"}, {"X-Other": KEY}])
def test_a_wrong_or_missing_api_key_is_401_and_stores_nothing(
    api_factory: ApiFactory, sns: FakeSns, headers: dict[str, str]
) -> None:
    api = keyed_api(api_factory, sns)
    seed_registry(api)
    answer = post_event(api, ALARM_EVENT, headers)
    assert answer.status_code == 401
    assert stored_events(api) == 0
    assert status(api)["last_rejected"]["reason"] == "unauthorized"
    assert KEY not in answer.text and KEY not in status(api)["last_rejected"]["detail"]


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_basic_auth_is_checked_user_and_password(api_factory: ApiFactory, sns: FakeSns) -> None:
    api = aws_api(
        api_factory, sns, events_basic_user="eventbridge", events_basic_password="pw-never-logged"
    )
    seed_registry(api)
    for headers in (
        {},
        basic("eventbridge", "wrong"),
        basic("other", "pw-never-logged"),
        {"Authorization": "Basic !!"},
        {"Authorization": "Bearer pw-never-logged"},
    ):
        assert post_event(api, ALARM_EVENT, headers).status_code == 401
    assert stored_events(api) == 0
    answer = api.ok(post_event(api, ALARM_EVENT, basic("eventbridge", "pw-never-logged")))
    assert answer["results"][0]["status"] == "created"


def test_an_instance_without_event_credentials_refuses_the_route(api: Api) -> None:
    answer = post_event(api, ALARM_EVENT, {"X-Slad-Key": KEY})
    assert answer.status_code == 404
    assert "events_api_key_header" in answer.json()["detail"]
    assert status(api)["last_rejected"]["reason"] == "unknown_route"
    assert stored_events(api) == 0


@pytest.mark.parametrize(
    ("event", "match"),
    [
        (
            {
                "source": "aws.ec2",
                "detail-type": "EC2 Instance State-change Notification",
                "detail": {},
            },
            "is not accepted; accepted: aws.cloudwatch",
        ),
        ({"source": "aws.health", "detail-type": "AWS Health Event", "detail": {}}, "AWS Health"),
        ({**ALARM_EVENT, "resources": []}, "field 'resources'"),
        ({"detail": {}}, "field 'source' is required"),
        (b"[1]", "must be a JSON object"),
        (b"{", "not JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "nests too deeply"),
    ],
)
def test_events_it_does_not_take_are_422_naming_what_it_takes(
    api_factory: ApiFactory, sns: FakeSns, event: Any, match: str
) -> None:
    api = keyed_api(api_factory, sns)
    answer = post_event(api, event, {"X-Slad-Key": KEY})
    assert answer.status_code == 422
    assert match in answer.json()["detail"]
    assert stored_events(api) == 0


def test_the_check_event_is_answered_and_stores_nothing(
    api_factory: ApiFactory, sns: FakeSns
) -> None:
    from connectors.aws.eventbridge import check_event
    from connectors.aws.source import AwsSource

    api = keyed_api(api_factory, sns)
    runner = api.services.sources.runner("aws", "prod")
    assert runner is not None
    test = AwsSource().signed_test(runner.instance)
    assert test is not None and test.subpath == "events"
    assert json.loads(test.body) == check_event(runner.instance)
    answer = api.client.post(
        "/v1/webhooks/aws/prod/events", content=test.body, headers=dict(test.headers)
    )
    assert answer.status_code == 200 and answer.json()["note"] == "test event accepted"
    assert stored_events(api) == 0


def test_unknown_instance_is_404(api: Api, sns: FakeSns) -> None:
    answer = deliver(api, sns.notification(ALARM), instance="other")
    assert answer.status_code == 404


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nests too deeply"),
        (b"\xff\xfe{}", "not JSON"),
        (b"[1]", "must be a JSON object"),
    ],
)
def test_an_sns_body_that_is_no_json_object_is_refused_before_anything_is_fetched(
    api: Api, sns: FakeSns, body: bytes, match: str
) -> None:
    """SNS bodies are read before they are verified: no body may end in a server error."""
    answer = api.client.post(
        "/v1/webhooks/aws/prod", content=body, headers={"content-type": "text/plain"}
    )
    assert 400 <= answer.status_code < 500
    assert match in answer.json()["detail"]
    assert sns.requests == []
    assert stored_events(api) == 0
