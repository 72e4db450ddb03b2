"""Google Cloud connector: Cloud Monitoring incidents by webhook (basic auth or URL token)
and by Pub/Sub (push with an OIDC token, or a pull subscription the leader consumes)."""

from connectors.gcp.config import GcpInstance, parse_instance, parse_instances
from connectors.gcp.incidents import (
    ConsoleTest,
    UnmappableIncident,
    alert_events,
    notification_event,
)
from connectors.gcp.source import GcpSource

__all__ = [
    "ConsoleTest",
    "GcpInstance",
    "GcpSource",
    "UnmappableIncident",
    "alert_events",
    "notification_event",
    "parse_instance",
    "parse_instances",
]
