"""The normalised alert every source is turned into before the daemon sees it.

Connectors parse and authenticate a source's payload and produce `AlertEvent`s; they
never touch the store. Ingest correlates events into incidents by `resource_ids`
(to find the resource) and `problem_key` (to find the open incident of that problem).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Source(StrEnum):
    """The monitoring systems slad knows; `generic` is anything posted to /v1/events."""

    ZABBIX = "zabbix"
    AWS = "aws"
    AZURE = "azure"
    GCP = "gcp"
    GENERIC = "generic"


class EventKind(StrEnum):
    """What an event says about its problem."""

    PROBLEM = "problem"
    RECOVERY = "recovery"
    UPDATE = "update"


class Severity(StrEnum):
    """A common severity scale; each connector maps its source's levels onto it."""

    INFO = "info"
    WARNING = "warning"
    AVERAGE = "average"
    HIGH = "high"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """One event from a source, normalised.

    `event_key` is unique per source event and makes redelivery idempotent.
    `problem_key` is shared by the problem event and its recovery/update events, so a
    recovery finds the alert it resolves. `detected_at` is the source's own detection
    instant (the SLA clock starts there); `received_at` is when slad got it.
    `resource_ids` are the identifiers the registry maps to a resource, e.g.
    ``{"zabbix.host": "web01"}`` or ``{"aws.account": "123", "aws.region": "...",
    "aws.alarm": "..."}``. `detected_at_estimated` is true when the instant had to be
    guessed (e.g. a local time without zone), so operators can see it.
    """

    source: str
    event_key: str
    problem_key: str
    kind: EventKind
    detected_at: datetime
    received_at: datetime
    severity: Severity
    title: str
    resource_ids: dict[str, str] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    instance: str = ""
    detected_at_estimated: bool = False

    def __post_init__(self) -> None:
        if self.detected_at.tzinfo is None or self.received_at.tzinfo is None:
            raise ValueError("AlertEvent instants must be timezone-aware")
        if not self.event_key or not self.problem_key:
            raise ValueError("AlertEvent needs an event_key and a problem_key")
