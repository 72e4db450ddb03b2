"""Zabbix connector: the slad media type's webhooks, and the API for exact detection
instants, reconciliation of lost notifications, maintenance periods and write-back.
"""

from connectors.zabbix.api import ApiCaller, SdkCaller, ZabbixApiError, ZabbixClient
from connectors.zabbix.config import ZabbixInstance, parse_instance, parse_instances
from connectors.zabbix.maintenance import (
    HostMaintenance,
    Maintenance,
    MaintenanceTag,
    OneTimePeriod,
    RecurringPeriod,
    map_host_maintenance,
    map_maintenances,
)
from connectors.zabbix.webhook import (
    INSTANCE_HEADER,
    SIGNATURE_HEADER,
    DetectionLookup,
    MalformedWebhook,
    decode_body,
    parse_webhook,
    verify_signature,
)

__all__ = [
    "INSTANCE_HEADER",
    "SIGNATURE_HEADER",
    "ApiCaller",
    "DetectionLookup",
    "HostMaintenance",
    "Maintenance",
    "MaintenanceTag",
    "MalformedWebhook",
    "OneTimePeriod",
    "RecurringPeriod",
    "SdkCaller",
    "ZabbixApiError",
    "ZabbixClient",
    "ZabbixInstance",
    "decode_body",
    "map_host_maintenance",
    "map_maintenances",
    "parse_instance",
    "parse_instances",
    "parse_webhook",
    "verify_signature",
]
