"""The Pub/Sub pull subscription, read by the leader's stream worker from the real emulator.

Messages are published with the real publisher client to a topic of the emulator; the
daemon's `StreamWorker` reads them through the real subscriber client, commits them, and
only then acknowledges them. Slow (the emulator is a JVM): marked e2e.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from google.cloud import pubsub_v1
from sqlalchemy import func, select

from connectors.gcp import GcpSource, parse_instance
from connectors.source import StreamBatch
from daemon.sources.streams import StreamWorker, stream_workers
from daemon.store.models import AlertEventRecord
from tests.connectors.gcp_fakes import Monitoring, fixture
from tests.connectors.pubsub_emulator import PubSubEmulator, run_emulator
from tests.daemon.conftest import Api, ApiFactory
from tests.e2e.slad_process import wait_for

pytestmark = pytest.mark.e2e

PROJECT = "acme-prod"
STARTED = datetime.fromtimestamp(1796001327, UTC)
ENDED = datetime.fromtimestamp(1796003127, UTC)
_names = itertools.count()


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PubSubEmulator]:
    yield from run_emulator(tmp_path_factory.mktemp("pubsub"))


class Topic:
    """A topic and its pull subscription on the emulator, with a publisher."""

    def __init__(self) -> None:
        n = next(_names)
        self.publisher = pubsub_v1.PublisherClient()
        self.subscriber = pubsub_v1.SubscriberClient()
        self.topic = f"projects/{PROJECT}/topics/incidents-{n}"
        self.subscription = f"projects/{PROJECT}/subscriptions/slad-{n}"
        self.publisher.create_topic(request={"name": self.topic})
        self.subscriber.create_subscription(
            request={"name": self.subscription, "topic": self.topic, "ack_deadline_seconds": 10}
        )

    def publish(self, notification: dict[str, Any] | bytes) -> str:
        data = (
            notification if isinstance(notification, bytes) else json.dumps(notification).encode()
        )
        return str(self.publisher.publish(self.topic, data).result(timeout=30))

    def waiting(self) -> int:
        """How many messages the subscription would hand out now (then handed back)."""
        answer = self.subscriber.pull(
            request={"subscription": self.subscription, "max_messages": 100}, timeout=5
        )
        ids = [m.ack_id for m in answer.received_messages]
        if ids:
            self.subscriber.modify_ack_deadline(
                request={
                    "subscription": self.subscription,
                    "ack_ids": ids,
                    "ack_deadline_seconds": 0,
                }
            )
        return len(ids)


@pytest.fixture
def topic(emulator: PubSubEmulator, monkeypatch: pytest.MonkeyPatch) -> Topic:
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", emulator.host)
    return Topic()


def pull_api(api_factory: ApiFactory, topic: Topic) -> tuple[Api, StreamWorker]:
    instance = {"projects": [PROJECT], "pubsub_subscription": topic.subscription}
    api = api_factory(sections={"gcp": {"instances": {"prod": instance}}})
    api.clock.set(datetime.fromtimestamp(1796001400, UTC))
    (worker,) = stream_workers(list(api.services.sources.runners.values()), api.clock)
    return api, worker


def seed_registry(api: Api) -> None:
    customer = api.ok(api.post("/v1/customers", {"name": "acme"}, role="admin"), 201)
    contract = api.ok(
        api.post(
            "/v1/contracts",
            {"customer_id": customer["id"], "plan": "standard", "billing_start": "2026-04-01"},
            role="admin",
        ),
        201,
    )
    api.ok(
        api.post(
            "/v1/resources",
            {
                "contract_id": contract["id"],
                "name": "db01",
                "kind": "vm",
                "selectors": [{"gcp.label.instance_id": "4417532156735894071"}],
            },
            role="admin",
        ),
        201,
    )


def stored_events(api: Api) -> int:
    with api.services.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(AlertEventRecord)) or 0)


def read_until(worker: StreamWorker, wanted: int, attempts: int = 10) -> int:
    """Read until `wanted` messages were taken (the emulator may hand them out in parts)."""
    taken = 0
    for _ in range(attempts):
        taken += worker.read_once() or 0
        if taken >= wanted:
            break
    return taken


def incidents(api: Api) -> list[dict[str, Any]]:
    api.services.correlator.wake()
    return list(api.ok(api.get("/v1/incidents"))["items"])


def test_pulled_incident_opens_and_closes_and_is_acknowledged(
    api_factory: ApiFactory, topic: Topic
) -> None:
    api, worker = pull_api(api_factory, topic)
    seed_registry(api)
    topic.publish(fixture("incident-open-v1.2.json"))
    assert read_until(worker, 1) == 1
    assert stored_events(api) == 1
    assert topic.waiting() == 0  # acknowledged once committed
    topic.publish(fixture("incident-closed-v1.2.json"))
    assert read_until(worker, 1) == 1
    status = next(e for e in api.ok(api.get("/v1/sources")) if e["source"] == "gcp")
    assert status["last_accepted"]["note"] == "Pub/Sub pull: 1 event(s)"
    with api.services.sessions() as session:
        rows = session.scalars(select(AlertEventRecord).order_by(AlertEventRecord.id)).all()
        assert [(r.kind, r.detected_at.replace(tzinfo=UTC)) for r in rows] == [
            ("problem", STARTED),
            ("recovery", ENDED),
        ]


def test_a_failed_commit_leaves_the_message_to_be_delivered_again(
    api_factory: ApiFactory, topic: Topic
) -> None:
    api, worker = pull_api(api_factory, topic)
    topic.publish(fixture("incident-open-v1.2.json"))
    runner = worker.runner

    def crash(_batch: StreamBatch) -> None:
        raise RuntimeError("the store went away")

    for _ in range(10):  # until the emulator hands the message out and the commit fails
        try:
            assert runner.connector.receive(runner.instance, crash, api.clock) == 0
        except RuntimeError:
            break
    else:
        pytest.fail("the message was never received")
    assert stored_events(api) == 0
    assert read_until(worker, 1) == 1  # handed back, so delivered again at once
    assert stored_events(api) == 1
    assert topic.waiting() == 0


def test_redelivery_is_idempotent_and_a_test_message_creates_nothing(
    api_factory: ApiFactory, topic: Topic
) -> None:
    api, worker = pull_api(api_factory, topic)
    topic.publish(fixture("incident-open-v1.2.json"))
    topic.publish(fixture("incident-open-v1.2.json"))  # Pub/Sub delivers at least once
    topic.publish(fixture("test-notification.json"))
    assert read_until(worker, 3) == 3
    assert stored_events(api) == 1
    assert topic.waiting() == 0


def test_an_unmappable_message_is_left_unacknowledged(
    api_factory: ApiFactory, topic: Topic
) -> None:
    api, worker = pull_api(api_factory, topic)
    topic.publish(b"not a notification")
    assert read_until(worker, 1, attempts=3) == 0
    assert stored_events(api) == 0
    # Kept for a dead-letter topic, never dropped: back once its ack deadline has passed.
    wait_for(lambda: topic.waiting() == 1, 60, "the message to come back")


def test_setup_creates_the_topic_subscription_and_pubsub_channel(
    emulator: PubSubEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", emulator.host)
    monitoring = Monitoring()
    try:
        subscription = f"projects/{PROJECT}/subscriptions/slad-setup"
        instance = parse_instance(
            "setup",
            {
                "projects": [PROJECT],
                "pubsub_subscription": subscription,
                "poll": False,
                "monitoring_grpc_endpoint": monitoring.endpoint,
            },
        )
        source = GcpSource()
        steps = source.setup(instance, {"url": "", "slad_url": ""})
        topic = f"projects/{PROJECT}/topics/slad-setup"
        assert steps[:2] == [f"topic {topic} created", f"subscription {subscription} created"]
        (channel,) = monitoring.channels
        assert (channel.type_, dict(channel.labels)) == ("pubsub", {"topic": topic})
        again = source.setup(instance, {"url": "", "slad_url": ""})
        assert again[:2] == [f"topic {topic} exists", f"subscription {subscription} exists"]
        assert len(monitoring.channels) == 1
        checked = source.check(instance)
        assert all(step.ok for step in checked), checked
        published = pubsub_v1.PublisherClient().publish(
            topic, json.dumps(fixture("incident-open-v1.2.json")).encode()
        )
        published.result(timeout=30)
        answer = pubsub_v1.SubscriberClient().pull(
            request={"subscription": subscription, "max_messages": 1}, timeout=10
        )
        assert len(answer.received_messages) == 1  # the subscription is on the topic
    finally:
        monitoring.close()
