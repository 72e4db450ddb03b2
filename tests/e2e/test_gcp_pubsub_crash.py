"""A real `slad run` killed with SIGKILL between receiving a Pub/Sub message and committing it.

The leader pulls the message from the real Pub/Sub emulator while the test holds the
SQLite database's write lock, so the commit cannot happen; once slad has logged the
pull it is killed. Nothing is stored and nothing was acknowledged: after a restart the
emulator delivers the message again, and it becomes exactly one event with Google's
detection instant. A second copy of the same notification stays a duplicate.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from google.cloud import pubsub_v1

from tests.connectors.gcp_fakes import fixture
from tests.connectors.pubsub_emulator import PubSubEmulator, run_emulator
from tests.e2e.slad_process import SladProcess, free_port, slad, wait_for

pytestmark = pytest.mark.e2e

PROJECT = "acme-prod"
TOPIC = f"projects/{PROJECT}/topics/monitoring-incidents"
SUBSCRIPTION = f"projects/{PROJECT}/subscriptions/slad"
STARTED = datetime.fromtimestamp(1796001327, UTC)
PULLED = "pulled 1 message(s)"


@pytest.fixture
def emulator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PubSubEmulator]:
    for running in run_emulator(tmp_path):
        monkeypatch.setenv("PUBSUB_EMULATOR_HOST", running.host)
        yield running


def events(process: SladProcess, token: str) -> list[dict[str, Any]]:
    answer = process.request("GET", "/v1/events", token, params={"source": "gcp"})
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


def test_a_crash_between_receive_and_commit_loses_nothing_and_duplicates_nothing(
    tmp_path: Path, emulator: PubSubEmulator
) -> None:
    publisher = pubsub_v1.PublisherClient()
    publisher.create_topic(request={"name": TOPIC})
    pubsub_v1.SubscriberClient().create_subscription(
        request={"name": SUBSCRIPTION, "topic": TOPIC, "ack_deadline_seconds": 10}
    )
    database = tmp_path / "slad.db"
    config = tmp_path / "slad.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{database}"\n'
        '[log]\nformat = "text"\n'
        "[gcp.instances.prod]\n"
        f'projects = ["{PROJECT}"]\npoll = false\npubsub_subscription = "{SUBSCRIPTION}"\n'
    )
    slad(config, "migrate")
    token = slad(config, "token", "create", "--role", "admin", "--name", "e2e").strip()
    port = free_port()
    env = {"PUBSUB_EMULATOR_HOST": emulator.host}
    first = SladProcess(config, port, tmp_path / "first.log", env=env).start()
    try:
        lock = sqlite3.connect(database, timeout=30)
        lock.execute("BEGIN IMMEDIATE")  # every writer of slad's now waits
        publisher.publish(TOPIC, json.dumps(fixture("incident-open-v1.2.json")).encode()).result(
            timeout=30
        )
        wait_for(lambda: PULLED in first.log.read_text(), 60, "slad to pull the message")
        first.kill()
        lock.rollback()
        lock.close()
    finally:
        first.kill()
    stored = sqlite3.connect(database)
    try:
        assert stored.execute("SELECT count(*) FROM alert_events").fetchone() == (0,)
    finally:
        stored.close()

    second = SladProcess(config, port, tmp_path / "second.log", env=env).start()
    try:
        (event,) = wait_for(lambda: events(second, token), 90, "the redelivered message")
        assert event["event_key"] == "0.mq4b8x1p9s2a:open"
        assert datetime.fromisoformat(event["detected_at"].replace("Z", "+00:00")) == STARTED
        publisher.publish(TOPIC, json.dumps(fixture("incident-open-v1.2.json")).encode()).result(
            timeout=30
        )
        wait_for(lambda: second.log.read_text().count(PULLED) >= 2, 60, "slad to pull the copy")
        assert len(events(second, token)) == 1
    finally:
        second.stop()
