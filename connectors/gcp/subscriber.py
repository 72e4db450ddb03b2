"""The Pub/Sub pull subscription of an instance, read by the leader (`GcpSource.receive`).

Each read pulls up to `pubsub_max_messages` messages (a synchronous pull that waits a
few seconds at most when there are none), maps them, hands the events to the daemon's
`commit`, and only once that returned acknowledges them: a crash leaves them
unacknowledged and Pub/Sub delivers them again after the subscription's ack deadline; a
commit that failed hands them back at once. Their event keys make a redelivery a
duplicate.

A message that is not a Cloud Monitoring notification is never acknowledged either (it
is logged at WARNING each time it comes back): give the subscription a dead-letter topic
so Pub/Sub sets it aside after a few attempts. The client honours
``PUBSUB_EMULATOR_HOST`` (the Pub/Sub emulator), as every Google client does.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from google.api_core import exceptions as api_exceptions
from google.cloud.pubsub_v1 import PublisherClient, SubscriberClient

from connectors.events import AlertEvent
from connectors.gcp.config import GcpInstance
from connectors.gcp.credentials import credentials_for
from connectors.gcp.incidents import ConsoleTest, UnmappableIncident, decode, notification_event
from connectors.source import SourceUnreachable, StreamBatch, StreamCommit

log = logging.getLogger("slad.sources.gcp")

PULL_WAIT_SECONDS = 10.0
ACK_WAIT_SECONDS = 30.0


def subscriber_client(instance: GcpInstance) -> SubscriberClient:
    """A Pub/Sub subscriber client with the instance's credentials (none for the emulator)."""
    if os.environ.get("PUBSUB_EMULATOR_HOST"):
        return SubscriberClient()
    return SubscriberClient(credentials=credentials_for(instance))


def publisher_client(instance: GcpInstance) -> PublisherClient:
    """A Pub/Sub publisher client (topics, for setup), credentials as `subscriber_client`."""
    if os.environ.get("PUBSUB_EMULATOR_HOST"):
        return PublisherClient()
    return PublisherClient(credentials=credentials_for(instance))


class Subscribers:
    """One Pub/Sub client per instance, made on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clients: dict[str, SubscriberClient] = {}

    def client(self, instance: GcpInstance) -> SubscriberClient:
        with self._lock:
            if instance.name not in self._clients:
                self._clients[instance.name] = subscriber_client(instance)
            return self._clients[instance.name]


def receive(
    subscribers: Subscribers,
    instance: GcpInstance,
    commit: StreamCommit,
    clock: Callable[[], datetime],
) -> int:
    """One read of the instance's subscription (module docstring); messages taken."""
    client = subscribers.client(instance)
    subscription = instance.pubsub_subscription
    try:
        response = client.pull(
            request={"subscription": subscription, "max_messages": instance.pubsub_max_messages},
            retry=None,
            timeout=PULL_WAIT_SECONDS,
        )
    except api_exceptions.DeadlineExceeded:
        return 0
    except api_exceptions.GoogleAPICallError as exc:
        raise SourceUnreachable(f"pulling {subscription}: {exc}") from exc
    received_at = clock()
    events: list[AlertEvent] = []
    taken: list[str] = []
    tests = 0
    for received in response.received_messages:
        message = received.message
        try:
            mapped = notification_event(instance, decode(message.data), received_at)
        except UnmappableIncident as exc:
            log.warning(
                "gcp:%s: Pub/Sub message %s is not a Cloud Monitoring notification, left "
                "unacknowledged: %s",
                instance.name,
                message.message_id,
                exc,
            )
            continue
        if isinstance(mapped, ConsoleTest):
            tests += 1
        else:
            events.append(mapped)
        taken.append(received.ack_id)
    if not taken:
        return 0
    log.info("gcp:%s: pulled %d message(s) from %s", instance.name, len(taken), subscription)
    note = f"Pub/Sub pull: {len(events)} event(s)" + (f", test received ({tests})" if tests else "")
    try:
        commit(StreamBatch(events=events, note=note))
    except Exception:
        _release(client, subscription, taken)
        raise
    try:
        client.acknowledge(
            request={"subscription": subscription, "ack_ids": taken},
            timeout=ACK_WAIT_SECONDS,
        )
    except api_exceptions.GoogleAPIError as exc:
        # Committed already: Pub/Sub delivers them again and they are duplicates.
        raise SourceUnreachable(
            f"acknowledging {len(taken)} message(s) of {subscription}: {exc}"
        ) from exc
    return len(taken)


def _release(client: Any, subscription: str, ack_ids: list[str]) -> None:
    """Hand uncommitted messages back at once (ack deadline 0), so they come again soon
    rather than after the deadline; if even that fails, the deadline does it."""
    try:
        client.modify_ack_deadline(
            request={"subscription": subscription, "ack_ids": ack_ids, "ack_deadline_seconds": 0},
            timeout=ACK_WAIT_SECONDS,
        )
    except api_exceptions.GoogleAPIError:
        log.warning("%s: could not hand back %d message(s)", subscription, len(ack_ids))
