"""Azure connector: Azure Monitor alerts (common alert schema) pushed by action groups,
authenticated as secure webhooks (Entra ID tokens) or by a secret in the URL; Service
Health as provider notices."""

from connectors.azure.alerts import UnmappableAlert, alert_events, common_alert
from connectors.azure.config import AzureInstance, parse_instance, parse_instances
from connectors.azure.health import service_health_notice
from connectors.azure.source import AzureSource
from connectors.azure.tokens import InvalidToken, SigningKeys, TokenVerifier

__all__ = [
    "AzureInstance",
    "AzureSource",
    "InvalidToken",
    "SigningKeys",
    "TokenVerifier",
    "UnmappableAlert",
    "alert_events",
    "common_alert",
    "parse_instance",
    "parse_instances",
    "service_health_notice",
]
