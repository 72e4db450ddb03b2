"""The normalised provider notice (SPEC §6): a cloud provider's maintenance or outage notice.

AWS Health, Azure Service Health and Google Cloud Service Health each publish notices
about their own platform. A connector turns one into a `ProviderNotice`; the daemon
stores it, finds the affected customers through the registry's selectors, forwards it
once per notice and once per material update, and turns scheduled maintenance into a
`provider_maintenance` window. Like `AlertEvent`, a notice knows nothing of the store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class NoticeKind(StrEnum):
    """What a notice announces; only maintenance opens a window by itself."""

    MAINTENANCE = "maintenance"
    INCIDENT = "incident"
    INFORMATIONAL = "informational"


class NoticeStatus(StrEnum):
    """Where the provider says the notice stands."""

    SCHEDULED = "scheduled"
    ACTIVE = "active"
    RESOLVED = "resolved"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class ProviderNotice:
    """One notice, or one update of it, as the provider published it.

    `event_id` names the notice at the provider (an AWS Health event ARN, an Azure
    tracking id, a Google incident id); `update_id` names this update of it (a
    communication id, an update time), so redelivery of the same update is a no-op and
    each new update is a new fact. `title` and `description` are keyed by language
    (``"en"``, ``"ja"``) as the provider gives them. `affected_resources` are resource
    identifier sets in the form `AlertEvent.resource_ids` uses (e.g.
    ``{"aws.dimension.InstanceId": "i-0abc"}``), matched through the registry's
    selectors. `ends_at` is None while the provider has announced no end.
    """

    source: str
    event_id: str
    update_id: str
    kind: NoticeKind
    status: NoticeStatus
    title: Mapping[str, str]
    starts_at: datetime
    ends_at: datetime | None = None
    description: Mapping[str, str] = field(default_factory=dict)
    services: Sequence[str] = ()
    regions: Sequence[str] = ()
    affected_resources: Sequence[Mapping[str, str]] = ()
    instance: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.starts_at.tzinfo is None or (
            self.ends_at is not None and self.ends_at.tzinfo is None
        ):
            raise ValueError("ProviderNotice instants must be timezone-aware")
        if not self.event_id or not self.update_id:
            raise ValueError("ProviderNotice needs an event_id and an update_id")
        if not self.title:
            raise ValueError("ProviderNotice needs a title in at least one language")
        if self.ends_at is not None and self.ends_at < self.starts_at:
            raise ValueError("ProviderNotice ends before it starts")
