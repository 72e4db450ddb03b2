"""Request and response bodies of the REST API (they are its OpenAPI schema)."""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar, Generic, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    ValidationInfo,
    field_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError

from daemon.api.charge_schemas import ContractPricesIn, VolumeDiscountIn
from daemon.api.types import Day, Id, JsonObject, Text
from daemon.api.utc import Instant

T = TypeVar("T")
PlanKey = Literal["basic", "standard", "full_managed"]
Locale = Literal["ja", "en"]


class Strict(BaseModel):
    """A request body: unknown fields are refused, not ignored."""

    model_config = ConfigDict(extra="forbid")


class Patch(Strict):
    """A partial update: a field left out keeps its value; only the fields named in
    `clearable` may be set to null (to clear them), any other null is refused.

    The OpenAPI schema says so: null is offered for the clearable fields only.
    """

    clearable: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name not in cls.clearable:
            raise PydanticCustomError(
                "not_nullable", "cannot be null; leave it out to keep the current value"
            )
        return value

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler.resolve_ref_schema(handler(core_schema))
        for name, prop in schema.get("properties", {}).items():
            if name not in cls.clearable:
                _drop_null(prop)
        return schema


def _drop_null(prop: dict[str, Any]) -> None:
    """Make an optional property's schema `X | null` say `X`."""
    options = [o for o in prop.get("anyOf", []) if o != {"type": "null"}]
    if "anyOf" in prop and len(options) == 1:
        del prop["anyOf"]
        prop.update(options[0])
    if prop.get("default", ...) is None:
        del prop["default"]


class CustomerIn(Strict):
    name: Text = Field(min_length=1, max_length=200)
    locale: Locale = "ja"
    contact_email: Text | None = Field(default=None, max_length=320)


class CustomerPatch(Patch):
    clearable = frozenset({"contact_email"})

    name: Text | None = Field(default=None, min_length=1, max_length=200)
    locale: Locale | None = None
    contact_email: Text | None = Field(default=None, max_length=320)


class CustomerOut(BaseModel):
    id: int
    name: str
    locale: str
    contact_email: str | None
    created_at: Instant


class ContractIn(Strict):
    customer_id: Id
    plan: PlanKey
    professional_support: bool = False
    advisory: bool = False
    billing_start: Day
    cancellation_date: Day | None = None
    contract_date: Day | None = Field(default=None, description="契約成立; default billing_start")
    notice_date: Day | None = Field(
        default=None,
        description="the day the customer gave notice; default today with a cancellation",
    )
    prices: ContractPricesIn = Field(default_factory=ContractPricesIn)
    volume_discount: VolumeDiscountIn | None = None
    reason: Text | None = Field(
        default=None, max_length=2000, description="required when a date lies in a closed month"
    )


class ContractPatch(Patch):
    clearable = frozenset(
        {"cancellation_date", "contract_date", "notice_date", "volume_discount", "reason"}
    )

    plan: PlanKey | None = None
    professional_support: bool | None = None
    advisory: bool | None = None
    cancellation_date: Day | None = None
    contract_date: Day | None = None
    notice_date: Day | None = None
    prices: ContractPricesIn | None = None
    volume_discount: VolumeDiscountIn | None = None
    reason: Text | None = Field(
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


Selector = dict[Text, Text]


def check_selectors(value: list[Selector]) -> list[Selector]:
    for selector in value:
        if not selector or any(not k.strip() or not str(v).strip() for k, v in selector.items()):
            raise ValueError("each selector needs at least one non-empty key and value")
    return value


SELECTORS_DOC = (
    "Identifier sets mapping alerts to this resource, e.g. "
    '[{"zabbix.host": "web01"}, {"aws.account": "123", "aws.alarm": "cpu"}]'
)


class ResourceIn(Strict):
    contract_id: Id
    name: Text = Field(min_length=1, max_length=200)
    kind: Text = Field(min_length=1, max_length=64)
    selectors: list[Selector] = Field(default_factory=list, description=SELECTORS_DOC)
    added_on: Day | None = Field(default=None, description="first day charged; default today")
    retired_on: Day | None = Field(default=None, description="last day charged")
    reason: Text | None = Field(
        default=None, max_length=2000, description="required when a date lies in a closed month"
    )

    @field_validator("selectors")
    @classmethod
    def _selectors(cls, value: list[Selector]) -> list[Selector]:
        return check_selectors(value)


class ResourcePatch(Patch):
    clearable = frozenset({"retired_on", "reason"})

    name: Text | None = Field(default=None, min_length=1, max_length=200)
    kind: Text | None = Field(default=None, min_length=1, max_length=64)
    selectors: list[Selector] | None = Field(default=None, description=SELECTORS_DOC)
    added_on: Day | None = None
    retired_on: Day | None = Field(default=None, description="last day charged; null: active")
    reason: Text | None = Field(
        default=None, max_length=2000, description="required when a date moves into a closed month"
    )

    @field_validator("selectors")
    @classmethod
    def _selectors(cls, value: list[Selector] | None) -> list[Selector] | None:
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

    source: Text = Field(default="generic", min_length=1, max_length=32)
    event_key: Text = Field(min_length=1, max_length=400)
    problem_key: Text = Field(min_length=1, max_length=400)
    kind: Literal["problem", "recovery", "update"]
    detected_at: Instant
    severity: Literal["info", "warning", "average", "high", "critical"] = "average"
    title: Text = Field(default="", max_length=2000)
    resource_ids: dict[Text, Text] = Field(default_factory=dict)
    raw: JsonObject = Field(default_factory=dict)


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
    reason: Text | None = Field(default=None, max_length=2000)
    note: Text | None = Field(default=None, max_length=10000)


class NoteIn(Strict):
    text: Text = Field(min_length=1, max_length=10000)


class AssignIn(Strict):
    resource_id: Id


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


class MergeIn(Strict):
    """The incident to merge with; the one detected first stands."""

    incident_id: Id
    reason: str = Field(min_length=1, max_length=2000)


class SplitIn(Strict):
    reason: str = Field(min_length=1, max_length=2000)


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
    merged_into_id: int | None
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
    scope_ref: Id | None = None
    source: Text | None = Field(default=None, min_length=1, max_length=200)
    kind: WindowKind = "maintenance"
    description: Text = Field(default="", max_length=2000)
    start: Instant
    end: Instant | None = None
    rrule: Text | None = Field(default=None, max_length=500)
    duration_minutes: int | None = Field(default=None, gt=0, le=60 * 24 * 31)
    until: Instant | None = None
    timezone: Text = Field(default="Asia/Tokyo", max_length=64)
    reason: Text | None = Field(default=None, max_length=2000)


class WindowPatch(Patch):
    clearable = frozenset({"end", "until", "reason"})

    description: Text | None = Field(default=None, max_length=2000)
    start: Instant | None = None
    end: Instant | None = None
    until: Instant | None = None
    status: Literal["active", "rejected"] | None = None
    reason: Text | None = Field(default=None, max_length=2000)


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
    contract_id: Id
    received_at: Instant | None = None
    channel: Text = Field(min_length=1, max_length=32)
    subject: Text = Field(min_length=1, max_length=2000)
    reason: Text | None = Field(default=None, max_length=2000)


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
