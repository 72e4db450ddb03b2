"""``slad source setup azure <instance>``: slad's receiver on an action group, and the
alert rules that do not notify it.

The action group named by `action_group_id` is created, or updated in place: its other
receivers stay, and one webhook receiver named `RECEIVER` points at slad with the common
alert schema on, as a secure webhook (Entra ID token for the app registration) when the
instance uses one, else with the URL secret. Then every metric, log search and
activity-log alert rule of the listed subscriptions that does not name the action group
is listed, so the operator can add it; slad changes no rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.mgmt.monitor import MonitorManagementClient
from azure.mgmt.monitor.models import ActionGroupResource, WebhookReceiver

from connectors.azure.api import AzureApi, azure_errors
from connectors.azure.config import AzureInstance, WebhookAuth

RECEIVER = "slad"


def action_group_parts(group_id: str) -> tuple[str, str, str]:
    """(subscription, resource group, name) of an action group's ARM id."""
    parts = group_id.strip("/").split("/")
    lowered = [p.lower() for p in parts]
    if (
        len(parts) != 8
        or lowered[0] != "subscriptions"
        or lowered[2] != "resourcegroups"
        or lowered[4:7] != ["providers", "microsoft.insights", "actiongroups"]
    ):
        raise ValueError(
            f"action_group_id {group_id[:200]!r} is not /subscriptions/<sub>/resourceGroups/"
            "<group>/providers/Microsoft.Insights/actionGroups/<name>"
        )
    return parts[1], parts[3], parts[7]


def setup(api: AzureApi, instance: AzureInstance, url: str) -> list[str]:
    """Write slad's receiver to the action group, then list rules that do not use it."""
    if not instance.action_group_id:
        raise ValueError(f"azure.instances.{instance.name}.action_group_id: required for setup")
    if instance.webhook_auth is WebhookAuth.SECURE and not instance.app_object_id:
        raise ValueError(
            f"azure.instances.{instance.name}.app_object_id: required for a secure webhook "
            "(the object id of the app registration Azure Monitor gets its token for)"
        )
    subscription, group_name, name = action_group_parts(instance.action_group_id)
    client = MonitorManagementClient(api.credential, subscription, **api.client_options())
    with azure_errors(f"action group {name}"):
        try:
            group: ActionGroupResource | None = client.action_groups.get(group_name, name)
        except ResourceNotFoundError:
            group = None
        existed = group is not None
        if group is None:
            group = ActionGroupResource(location="Global", group_short_name=name[:12], enabled=True)
        others = [r for r in group.webhook_receivers or [] if r.name != RECEIVER]
        group.webhook_receivers = [*others, _receiver(instance, url)]
        client.action_groups.create_or_update(group_name, name, group)
    how = "secure webhook" if instance.webhook_auth is WebhookAuth.SECURE else "URL secret"
    steps = [
        f"action group {name} {'updated' if existed else 'created'}: receiver {RECEIVER!r} "
        f"-> {url} ({how}, common alert schema on)"
    ]
    wanted = instance.action_group_id.lower()
    for sub in instance.subscriptions or (subscription,):
        rules = MonitorManagementClient(api.credential, sub, **api.client_options())
        with azure_errors(f"alert rules of subscription {sub}"):
            listed: list[tuple[str, Iterable[str]]] = []
            for metric in rules.metric_alerts.list_by_subscription():
                listed.append(
                    (f"metric alert {metric.name}", _ids(metric.actions, "action_group_id"))
                )
            for log in rules.scheduled_query_rules.list_by_subscription():
                groups = log.actions.action_groups if log.actions else None
                listed.append((f"log search alert {log.name}", groups or []))
            for activity in rules.activity_log_alerts.list_by_subscription_id():
                actions = activity.actions.action_groups if activity.actions else None
                listed.append(
                    (f"activity log alert {activity.name}", _ids(actions, "action_group_id"))
                )
        for rule, notified in listed:
            if wanted not in {g.lower() for g in notified}:
                steps.append(f"{rule} does not notify {name}: add the action group to it")
    return steps


def _receiver(instance: AzureInstance, url: str) -> WebhookReceiver:
    if instance.webhook_auth is WebhookAuth.SECURE:
        return WebhookReceiver(
            name=RECEIVER,
            service_uri=url,
            use_common_alert_schema=True,
            use_aad_auth=True,
            object_id=instance.app_object_id,
            identifier_uri=instance.audiences[0],
            tenant_id=instance.tenant_id,
        )
    return WebhookReceiver(
        name=RECEIVER,
        service_uri=f"{url}?token={instance.webhook_secret}",
        use_common_alert_schema=True,
        use_aad_auth=False,
    )


def _ids(actions: Any, attribute: str) -> list[str]:
    return [str(getattr(a, attribute)) for a in actions or [] if getattr(a, attribute, None)]
