"""The events slad notifies about; each has one template per locale and its own routes."""

from __future__ import annotations

from enum import StrEnum


class NotifyEvent(StrEnum):
    """What happened; the value names the template file and the route key."""

    INCIDENT_OPENED = "incident_opened"
    INCIDENT_RESOLVED = "incident_resolved"
    WARNING = "warning"  # a configured fraction of an SLO target has been used
    SLO_BREACHED = "slo_breached"
    SLA_BREACHED = "sla_breached"
    UNASSIGNED_ALERT = "unassigned_alert"
    CUSTOMER_FIRST_NOTICE = "customer_first_notice"  # the automatic first contact
    PROVIDER_NOTICE = "provider_notice"  # a cloud provider's maintenance or outage notice
