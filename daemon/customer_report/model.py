"""The customer report as one value, answered as JSON and rendered into every format.

Instants are UTC (RFC 3339, `Z`) here; the renderers for people show them in the
calendar's time zone. Outcomes are the engine's (`met`, `slo_breached`,
`sla_breached`), plus `open` for a clock that has not stopped and has not yet passed
a target and `pending` for a clock whose start event has not happened.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from daemon.api.utc import Instant

Outcome = Literal["met", "slo_breached", "sla_breached", "open", "pending"]


class CustomerRef(BaseModel):
    id: int
    name: str
    locale: str = Field(description="The report's language: `ja` or `en`.")


class WindowRef(BaseModel):
    """A maintenance window, provider maintenance or monitoring fault behind excluded time."""

    id: int
    kind: str = Field(description="`maintenance`, `provider_maintenance` or `monitoring_fault`.")
    reason: str = Field(description="The window's description as recorded.")
    scope: str


class Exclusion(BaseModel):
    """A stretch of a clock that did not count, and the windows that excluded it."""

    start: Instant
    end: Instant
    seconds: float
    ahead: bool = Field(description="After the report was made: planned, not yet happened.")
    windows: list[WindowRef]


class IncidentClock(BaseModel):
    name: str
    state: str
    start: Instant | None
    stop: Instant | None
    slo_target_seconds: int
    sla_target_seconds: int
    slo_due: Instant | None
    sla_due: Instant | None
    counted_seconds: float | None
    excluded_seconds: float | None
    outcome: Outcome
    exclusions: list[Exclusion]


class IncidentEntry(BaseModel):
    id: int
    title: str
    severity: str
    status: str
    source: str
    plan: str
    contract_id: int
    resource_id: int
    resource: str
    detected_at: Instant
    detected_at_estimated: bool
    received_at: Instant
    contacted_at: Instant | None
    reported_at: Instant | None
    resolved_at: Instant | None
    clocks: list[IncidentClock]


class SupportClock(BaseModel):
    name: str
    state: str
    start: Instant
    stop: Instant | None
    slo_target_business_days: int
    sla_target_business_days: int
    slo_due: Instant | None
    sla_due: Instant | None
    outcome: Outcome


class SupportEntry(BaseModel):
    """A professional-support request; what the customer wrote is not part of the report
    (it needs an operator to read, `docs/api-roles.md`)."""

    id: int
    contract_id: int
    received_at: Instant
    replied_at: Instant | None
    in_scope: bool
    clock: SupportClock | None


class Target(BaseModel):
    met: int
    breached: int
    ratio: float | None = Field(description="met / (met + breached); null when none decided.")


class Compliance(BaseModel):
    clock: str
    count: int
    met: int
    slo_breached: int
    sla_breached: int
    open: int = Field(description="Not decided yet (open or pending): left out of the ratios.")
    slo: Target
    sla: Target


class NoticeEntry(BaseModel):
    id: int
    source: str
    kind: str
    status: str
    title: str = Field(description="In the customer's language when the provider wrote one.")
    starts_at: Instant
    ends_at: Instant | None
    services: list[str]
    regions: list[str]
    resources: list[str] = Field(description="The customer's resources the notice affects.")


class CustomerReport(BaseModel):
    customer: CustomerRef
    month: str
    timezone: str
    period_from: Instant = Field(
        serialization_alias="from", description="The month's first instant."
    )
    period_to: Instant = Field(
        serialization_alias="to", description="The next month's first instant."
    )
    generated_at: Instant
    partial: bool = Field(description="The month had not ended when the report was made.")
    incidents: list[IncidentEntry]
    support_requests: list[SupportEntry]
    compliance: list[Compliance]
    notices: list[NoticeEntry]
