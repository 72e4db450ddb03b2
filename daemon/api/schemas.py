"""Request and response bodies of the REST API (they are its OpenAPI schema)."""

from __future__ import annotations

import math
from datetime import date
from typing import Any, Generic, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from daemon.api.charge_schemas import ContractPricesIn, VolumeDiscountIn
from daemon.api.utc import Instant

T = TypeVar("T")
PlanKey = Literal["basic", "standard", "full_managed"]
Locale = Literal["ja", "en"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CustomerIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    locale: Locale = "ja"
    contact_email: str | None = Field(default=None, max_length=320)


class CustomerPatch(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    locale: Locale | None = None
    contact_email: str | None = Field(default=None, max_length=320)


class CustomerOut(BaseModel):
    id: int
    name: str
    locale: str
    contact_email: str | None
    created_at: Instant


class ContractIn(Strict):
    customer_id: int
    plan: PlanKey
    professional_support: bool = False
    advisory: bool = False
    billing_start: date
    cancellation_date: date | None = None
    contract_date: date | None = Field(default=None, description="契約成立; default billing_start")
    notice_date: date | None = Field(
        default=None,
        description="the day the customer gave notice; default today with a cancellation",
    )
    prices: ContractPricesIn = Field(default_factory=ContractPricesIn)
    volume_discount: VolumeDiscountIn | None = None
    reason: str | None = Field(
        default=None, max_length=2000, description="required when a date lies in a closed month"
    )


class ContractPatch(Strict):
    plan: PlanKey | None = None
    professional_support: bool | None = None
    advisory: bool | None = None
    cancellation_date: date | None = None
    contract_date: date | None = None
    notice_date: date | None = None
    prices: ContractPricesIn | None = None
    volume_discount: VolumeDiscountIn | None = None
    reason: str | None = Field(
        default=None, max_length=2000, description="required when a date moves into a closed month"
    )


class ContractOut(BaseModel):
    id: int
    customer_id: int
    plan: str
    professional_support: bool
    advisory: bool
    billing_start: date
    cancellation_date: date | None
    minimum_term_end: date
    created_at: Instant
    contract_date: date | None
    notice_date: date | None
    earliest_cancellation_date: date | None
    prices: dict[str, Any]
    volume_discount: dict[str, Any] | None


def check_selectors(value: list[dict[str, str]]) -> list[dict[str, str]]:
    for selector in value:
        if not selector or any(not k.strip() or not str(v).strip() for k, v in selector.items()):
            raise ValueError("each selector needs at least one non-empty key and value")
    return value


class ResourceIn(Strict):
    contract_id: int
    name: str = Field(min_length=1, max_length=200)
    kind: str = Field(min_length=1, max_length=64)
    selectors: list[dict[str, str]] = Field(
        default_factory=list,
        description="Identifier sets mapping alerts to this resource, e.g. "
        '[{"zabbix.host": "web01"}, {"aws.account": "123", "aws.alarm": "cpu"}]',
    )
    added_on: date | None = Field(default=None, description="first day charged; default today")
    retired_on: date | None = Field(default=None, description="last day charged")
    reason: str | None = Field(
        default=None, max_length=2000, description="required when a date lies in a closed month"
    )

    @field_validator("selectors")
    @classmethod
    def _selectors(cls, value: list[dict[str, str]]) -> list[dict[str, str]]:
        return check_selectors(value)


class ResourcePatch(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    kind: str | None = Field(default=None, min_length=1, max_length=64)
    selectors: list[dict[str, str]] | None = None
    added_on: date | None = None
    retired_on: date | None = Field(default=None, description="last day charged; null: active")
    reason: str | None = Field(
        default=None, max_length=2000, description="required when a date moves into a closed month"
    )

    @field_validator("selectors")
    @classmethod
    def _selectors(cls, value: list[dict[str, str]] | None) -> list[dict[str, str]] | None:
        return None if value is None else check_selectors(value)


class ResourceOut(BaseModel):
    id: int
    contract_id: int
    name: str
    kind: str
    selectors: list[dict[str, str]]
    created_at: Instant
    added_on: date
    retired_on: date | None


class EventIn(Strict):
    """One alert event from a source slad has no connector for."""

    source: str = Field(default="generic", min_length=1, max_length=32)
    event_key: str = Field(min_length=1, max_length=400)
    problem_key: str = Field(min_length=1, max_length=400)
    kind: Literal["problem", "recovery", "update"]
    detected_at: Instant
    severity: Literal["info", "warning", "average", "high", "critical"] = "average"
    title: str = Field(default="", max_length=2000)
    resource_ids: dict[str, str] = Field(default_factory=dict)
    raw: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _storable(self) -> EventIn:
        """Refuse what a store cannot hold (NUL characters, NaN and infinities), so the
        event gets a 422 here instead of failing the commit it would share."""
        where = _unstorable(self.model_dump(mode="python", exclude={"detected_at"}))
        if where is not None:
            raise ValueError(f"{where} holds a NUL character, NaN or an infinity")
        return self


def _unstorable(value: object, path: str = "") -> str | None:
    """The path of the first NUL character or non-finite number in `value`, if any."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, float):
        return None if math.isfinite(value) else path
    if isinstance(value, dict):
        items: list[tuple[object, object]] = list(value.items())
    elif isinstance(value, list):
        items = list(enumerate(value))
    else:
        return None
    for key, item in items:
        at = f"{path}.{key}" if path else str(key)
        if isinstance(key, str) and "\x00" in key:
            return at
        found = _unstorable(item, at)
        if found is not None:
            return found
    return None


class EventBatchIn(Strict):
    events: list[EventIn] = Field(min_length=1)


class IngestResultOut(BaseModel):
    event_key: str
    status: str
    alert_id: int | None
    incident_id: int | None


class IngestOut(BaseModel):
    results: list[IngestResultOut]


class InboxEventOut(BaseModel):
    """An accepted source event as the inbox holds it; `outcome` null means pending."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    event_key: str
    source: str
    kind: str
    problem_key: str
    title: str
    detected_at: Instant
    received_at: Instant
    outcome: str | None
    correlated_at: Instant | None
    error: str | None
    alert_id: int | None


class ActionIn(Strict):
    """An operator action; `at` defaults to now, a past `at` needs a reason."""

    at: Instant | None = None
    reason: str | None = Field(default=None, max_length=2000)
    note: str | None = Field(default=None, max_length=10000)


class NoteIn(Strict):
    text: str = Field(min_length=1, max_length=10000)


class AssignIn(Strict):
    resource_id: int


class ExcusedFaultOut(BaseModel):
    """The part [start, end) of a monitoring fault a clock did not count (end null: open)."""

    window_id: int
    start: Instant
    end: Instant | None


class WarningOut(BaseModel):
    """A warning the clock has passed (or will pass): at `fraction` of its SLO target.
    `at` is null while a window with no end yet pauses the clock before that point."""

    fraction: float
    at: Instant | None


class ClockOut(BaseModel):
    """One clock. `outcome` is set once it stopped; while it runs, `passed` names the
    targets (`slo`, `sla`) it has already gone beyond. Due instants are null while a
    window with no end yet pauses the clock before it reaches them."""

    name: str
    state: str
    start: Instant | None
    stop: Instant | None
    slo_due: Instant | None
    sla_due: Instant | None
    counted_seconds: float | None
    slo_remaining_seconds: float | None
    sla_remaining_seconds: float | None
    outcome: str | None
    passed: list[Literal["slo", "sla"]] = []
    warnings: list[WarningOut]
    excused_faults: list[ExcusedFaultOut] = []
    policy: dict[str, Any] | None = None


class AlertOut(BaseModel):
    id: int
    source: str
    instance: str
    problem_key: str
    status: str
    title: str
    severity: str
    resource_ids: dict[str, str]
    detected_at: Instant
    detected_at_estimated: bool
    received_at: Instant
    resolved_at: Instant | None
    incident_id: int | None


class TimelineOut(BaseModel):
    id: int
    at: Instant
    recorded_at: Instant
    kind: str
    actor: str
    detail: dict[str, Any]


class DueOut(BaseModel):
    """The next target an incident owes: which clock and target, when, and the time left
    (negative once overdue)."""

    clock: str
    target: Literal["slo", "sla"]
    at: Instant
    seconds_left: float


class IncidentSummary(BaseModel):
    id: int
    status: str
    title: str
    severity: str
    source: str
    plan: str
    customer_id: int
    contract_id: int
    resource_id: int
    detected_at: Instant
    detected_at_estimated: bool
    contacted_at: Instant | None
    reported_at: Instant | None
    resolved_at: Instant | None
    owed: bool = Field(
        description="A clock still runs (contact or report owed), whatever the status."
    )
    next_due: DueOut | None
    clocks: list[ClockOut]


class IncidentDetail(IncidentSummary):
    received_at: Instant
    alerts: list[AlertOut]
    timeline: list[TimelineOut]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None


ScopeKind = Literal["all", "source", "customer", "contract", "resource"]
WindowKind = Literal["maintenance", "provider_maintenance", "monitoring_fault"]


class WindowIn(Strict):
    """A maintenance window: a [start, end) span, or a recurrence.

    `scope` says what it covers: everything (`all`), one `source` (named in `source`:
    ``zabbix``, or one instance such as ``zabbix:main``), or the customer, contract or
    resource whose id is `scope_ref`. For a recurrence give `rrule` (RFC 5545, e.g.
    ``FREQ=WEEKLY;BYDAY=SU``), `start` as the first occurrence, `duration_minutes` and
    optionally `until`; `timezone` is the zone the rule's local times are in (default
    Asia/Tokyo). `reason` is required when the window covers time already past.
    """

    scope: ScopeKind
    scope_ref: int | None = Field(default=None, ge=1, le=2**63 - 1)
    source: str | None = Field(default=None, min_length=1, max_length=200)
    kind: WindowKind = "maintenance"
    description: str = Field(default="", max_length=2000)
    start: Instant
    end: Instant | None = None
    rrule: str | None = Field(default=None, max_length=500)
    duration_minutes: int | None = Field(default=None, gt=0, le=60 * 24 * 31)
    until: Instant | None = None
    timezone: str = "Asia/Tokyo"
    reason: str | None = Field(default=None, max_length=2000)


class WindowPatch(Strict):
    description: str | None = Field(default=None, max_length=2000)
    start: Instant | None = None
    end: Instant | None = None
    until: Instant | None = None
    status: Literal["active", "rejected"] | None = None
    reason: str | None = Field(default=None, max_length=2000)


class WindowOut(BaseModel):
    id: int
    scope: str
    scope_ref: int | None
    source: str | None
    kind: str
    description: str
    start: Instant
    end: Instant | None
    rrule: str | None
    duration_minutes: int | None
    until: Instant | None
    timezone: str
    status: str
    external_ref: str | None
    author: str
    created_at: Instant
    updated_at: Instant
    incidents_recomputed: int | None = None


class ServiceRequestIn(Strict):
    contract_id: int
    received_at: Instant | None = None
    channel: str = Field(min_length=1, max_length=32)
    subject: str = Field(min_length=1, max_length=2000)
    reason: str | None = Field(default=None, max_length=2000)


class ServiceRequestOut(BaseModel):
    id: int
    kind: str
    contract_id: int
    received_at: Instant
    channel: str
    subject: str
    status: str
    started_at: Instant | None
    completed_at: Instant | None


class SupportRequestOut(BaseModel):
    id: int
    contract_id: int
    received_at: Instant
    channel: str
    subject: str
    in_scope: bool
    scope_note: str
    replied_at: Instant | None
    clock: ClockOut | None


class AuditOut(BaseModel):
    id: int
    at: Instant
    actor: str
    action: str
    target_type: str
    target_id: str
    reason: str | None
    detail: dict[str, Any]
