"""``slad source setup|check gcp <instance>``: connect Cloud Monitoring to slad through its API.

`setup` is idempotent, per project of the instance:

- a webhook instance (`webhook_auth` basic or token) gets the notification channel
  ``slad <instance>`` of type ``webhook_basicauth`` (the webhook URL, user name and
  password) or ``webhook_tokenauth`` (the URL with ``?token=``), created or brought up to
  date;
- a pull instance (`pubsub_subscription`) gets the topic ``slad-<instance>`` in the
  subscription's project, the subscription on it, and a ``pubsub`` channel to the topic;
- then the alert policies that do not notify those channels are listed, for the operator
  to add them (slad never edits the customer's policies).

`check` proves the instance's side with its credentials: the policies can be listed,
each channel exists and is enabled, and the subscription exists. The console's test
notification (`signed_test`, posted by ``slad source check``) must be answered as
"test received".
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from google.api_core import exceptions as api_exceptions
from google.auth import exceptions as auth_exceptions
from google.cloud.monitoring_v3 import NotificationChannel
from google.cloud.monitoring_v3.services.alert_policy_service import AlertPolicyServiceClient
from google.cloud.monitoring_v3.services.alert_policy_service.transports import (
    AlertPolicyServiceGrpcTransport,
)
from google.cloud.monitoring_v3.services.notification_channel_service import (
    NotificationChannelServiceClient,
)
from google.cloud.monitoring_v3.services.notification_channel_service.transports import (
    NotificationChannelServiceGrpcTransport,
)
from google.protobuf import field_mask_pb2

from connectors.gcp.api import grpc_client
from connectors.gcp.config import GcpInstance
from connectors.gcp.subscriber import publisher_client, subscriber_client
from connectors.source import CheckStep, SignedTest, SourceUnreachable

Errors = (api_exceptions.GoogleAPIError, auth_exceptions.GoogleAuthError)


def channel_name(instance: GcpInstance) -> str:
    return f"slad {instance.name}"


def topic_of(instance: GcpInstance) -> str:
    project = instance.pubsub_subscription.split("/")[1]
    return f"projects/{project}/topics/slad-{instance.name}"


def wanted_channels(instance: GcpInstance, url: str) -> list[tuple[str, dict[str, str]]]:
    """(type, labels) of each channel the instance needs."""
    wanted = []
    if instance.webhook_auth == "basic":
        labels = {"url": url, "username": instance.username, "password": instance.password}
        wanted.append(("webhook_basicauth", labels))
    elif instance.webhook_auth == "token":
        wanted.append(("webhook_tokenauth", {"url": f"{url}?token={instance.token}"}))
    if instance.pubsub_subscription:
        wanted.append(("pubsub", {"topic": topic_of(instance)}))
    return wanted


class Setup:
    """The instance's Monitoring clients (and Pub/Sub ones for a pull instance)."""

    def __init__(self, instance: GcpInstance) -> None:
        self.instance = instance
        self.channels = grpc_client(
            instance, NotificationChannelServiceClient, NotificationChannelServiceGrpcTransport
        )
        self.policies = grpc_client(
            instance, AlertPolicyServiceClient, AlertPolicyServiceGrpcTransport
        )

    def setup(self, options: Mapping[str, str]) -> list[str]:
        instance = self.instance
        if instance.webhook_auth != "none" and not options.get("slad_url"):
            raise ValueError("--slad-url is required: the public URL Google posts to")
        steps: list[str] = []
        if not wanted_channels(instance, ""):
            raise ValueError(
                f"gcp:{instance.name} takes no webhook and no pull subscription: nothing to set up"
            )
        if instance.pubsub_subscription:
            steps += self._pubsub()
        for project in instance.projects:
            names = []
            for kind, labels in wanted_channels(instance, options["url"]):
                name, done = self._channel(project, kind, labels)
                names.append(name)
                steps.append(done)
            steps += [
                f"policy {p.display_name!r} ({p.name}) does not notify {channel_name(instance)}:"
                " add the channel to it"
                for p in self._policies(project)
                if not set(names) & set(p.notification_channels)
            ]
        return steps

    def check(self) -> list[CheckStep]:
        steps = []
        for project in self.instance.projects:
            try:
                policies = self._policies(project)
                steps.append(
                    CheckStep(
                        f"{project}: alert policies listed", True, f"{len(policies)} policies"
                    )
                )
                found = {c.type_: c for c in self._existing(project)}
            except SourceUnreachable as exc:
                steps.append(CheckStep(f"{project}: Cloud Monitoring API", False, str(exc)))
                continue
            for kind, _labels in wanted_channels(self.instance, ""):
                channel = found.get(kind)
                ok = channel is not None and bool(channel.enabled)
                detail = channel.name if channel is not None else "missing: run slad source setup"
                steps.append(CheckStep(f"{project}: channel {kind} enabled", ok, detail))
        if self.instance.pubsub_subscription:
            steps.append(self._subscription_step())
        return steps

    def _existing(self, project: str) -> list[NotificationChannel]:
        try:
            listed = self.channels.list_notification_channels(
                request={"name": f"projects/{project}"},
                retry=None,
                timeout=self.instance.http_timeout_seconds,
            )
            return [c for c in listed if c.display_name == channel_name(self.instance)]
        except Errors as exc:
            raise SourceUnreachable(f"listing channels of {project}: {exc}") from exc

    def _channel(self, project: str, kind: str, labels: dict[str, str]) -> tuple[str, str]:
        existing = next((c for c in self._existing(project) if c.type_ == kind), None)
        try:
            if existing is None:
                created = self.channels.create_notification_channel(
                    name=f"projects/{project}",
                    notification_channel=NotificationChannel(
                        type_=kind,
                        display_name=channel_name(self.instance),
                        labels=labels,
                        enabled=True,
                    ),
                )
                return created.name, f"{project}: channel {kind} created ({created.name})"
            if dict(existing.labels) == labels and existing.enabled:
                return existing.name, f"{project}: channel {kind} up to date ({existing.name})"
            existing.labels.clear()
            existing.labels.update(labels)
            existing.enabled = True
            self.channels.update_notification_channel(
                notification_channel=existing,
                update_mask=field_mask_pb2.FieldMask(paths=["labels", "enabled"]),
            )
            return existing.name, f"{project}: channel {kind} updated ({existing.name})"
        except Errors as exc:
            raise SourceUnreachable(f"writing the {kind} channel of {project}: {exc}") from exc

    def _policies(self, project: str) -> list[Any]:
        try:
            return list(
                self.policies.list_alert_policies(
                    request={"name": f"projects/{project}"},
                    retry=None,
                    timeout=self.instance.http_timeout_seconds,
                )
            )
        except Errors as exc:
            raise SourceUnreachable(f"listing alert policies of {project}: {exc}") from exc

    def _pubsub(self) -> list[str]:
        instance = self.instance
        topic, subscription = topic_of(instance), instance.pubsub_subscription
        steps = []
        try:
            publisher = publisher_client(instance)
            try:
                publisher.create_topic(request={"name": topic})
                steps.append(f"topic {topic} created")
            except api_exceptions.AlreadyExists:
                steps.append(f"topic {topic} exists")
            subscriber = subscriber_client(instance)
            try:
                subscriber.create_subscription(
                    request={"name": subscription, "topic": topic, "ack_deadline_seconds": 60}
                )
                steps.append(f"subscription {subscription} created")
            except api_exceptions.AlreadyExists:
                steps.append(f"subscription {subscription} exists")
        except Errors as exc:
            raise SourceUnreachable(f"setting up {topic}: {exc}") from exc
        steps.append(
            f"grant roles/pubsub.publisher on {topic} to the project's Monitoring notification"
            " service agent (service-<project-number>@gcp-sa-monitoring-notification"
            ".iam.gserviceaccount.com)"
        )
        return steps

    def _subscription_step(self) -> CheckStep:
        subscription = self.instance.pubsub_subscription
        try:
            found = subscriber_client(self.instance).get_subscription(
                request={"subscription": subscription}
            )
            return CheckStep(f"subscription {subscription} exists", True, found.topic)
        except Errors as exc:
            return CheckStep(f"subscription {subscription} exists", False, str(exc)[:300])


def signed_test(instance: GcpInstance) -> SignedTest | None:
    """The console's test notification, with the instance's webhook credentials."""
    body = {
        "version": "test",
        "incident": {
            "incident_id": "slad-check",
            "scoping_project_id": instance.projects[0],
            "started_at": 0,
            "state": "OPEN",
            "summary": "slad source check",
        },
    }
    if instance.webhook_auth == "basic":
        token = base64.b64encode(f"{instance.username}:{instance.password}".encode()).decode()
        headers = {"Authorization": f"Basic {token}", "Content-Type": "application/json"}
        return SignedTest("", headers, json.dumps(body).encode())
    return None
