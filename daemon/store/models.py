"""The schema: registry, incidents with their alerts, clocks and timeline, windows, requests.

Models are typed SQLAlchemy 2 declarations; the schema itself is only ever created by
the Alembic migrations in `migrations/`, which are written against these models.
Instants are stored as UTC (`UTCDateTime`) and always come back timezone-aware.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JSONType = JSON().with_variant(JSONB(), "postgresql")
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """An instant stored in UTC and returned timezone-aware on every backend.

    SQLite has no time zone type, so values are stored as naive UTC; PostgreSQL stores
    `timestamptz`. A naive value is a programming error and is refused.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; instants must be tz-aware")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    locale: Mapped[str] = mapped_column(String(8), default="ja")
    contact_email: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    contracts: Mapped[list[Contract]] = relationship(back_populates="customer")


class Contract(Base):
    __tablename__ = "contracts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    plan: Mapped[str] = mapped_column(String(32))
    professional_support: Mapped[bool] = mapped_column(Boolean, default=False)
    advisory: Mapped[bool] = mapped_column(Boolean, default=False)
    billing_start: Mapped[date] = mapped_column(Date)
    cancellation_date: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Charges (SPEC §7): contract date (契約成立), the day notice was given, the prices
    # negotiated over the list ones and the volume discount; see daemon/charges.py.
    contract_date: Mapped[date | None] = mapped_column(Date)
    notice_date: Mapped[date | None] = mapped_column(Date)
    prices: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    volume_discount: Mapped[dict[str, Any] | None] = mapped_column(JSONType)

    customer: Mapped[Customer] = relationship(back_populates="contracts")
    resources: Mapped[list[Resource]] = relationship(back_populates="contract")

    @property
    def options(self) -> frozenset[str]:
        opts = set()
        if self.professional_support:
            opts.add("professional_support")
        if self.advisory:
            opts.add("advisory")
        return frozenset(opts)


class Resource(Base):
    __tablename__ = "resources"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The days it is under contract and charged, both inclusive; retiring keeps the row.
    added_on: Mapped[date] = mapped_column(Date)
    retired_on: Mapped[date | None] = mapped_column(Date)

    contract: Mapped[Contract] = relationship(back_populates="resources")
    selectors: Mapped[list[ResourceSelector]] = relationship(
        back_populates="resource", cascade="all, delete-orphan", order_by="ResourceSelector.id"
    )


class ResourceSelector(Base):
    """A set of identifier pairs that maps an alert to its resource.

    An alert matches when every pair of the selector is among its resource
    identifiers. `index_key`/`index_value` repeat the selector's first pair (normalised)
    so ingest finds candidates with one indexed lookup per alert identifier.
    """

    __tablename__ = "resource_selectors"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"))
    match: Mapped[dict[str, str]] = mapped_column(JSONType)
    index_key: Mapped[str] = mapped_column(String(128))
    index_value: Mapped[str] = mapped_column(String(1024))

    resource: Mapped[Resource] = relationship(back_populates="selectors")

    __table_args__ = (Index("ix_resource_selectors_lookup", "index_key", "index_value"),)


class Incident(Base):
    """One failure the customer is told about once, with its clocks.

    `group_key` says which later alerts join it while it is open: "" for every alert
    of its resource (a plan's `group_by = "resource"`), the problem key when the plan
    groups per problem, `alert:<id>` for an incident an operator split out. At most one
    incident is open per resource and group key. An incident merged into another keeps
    its timeline, loses its clocks and points at the one it joined (`merged_into_id`).
    """

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id"), index=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    plan: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(32))
    instance: Mapped[str] = mapped_column(String(128), default="")
    problem_key: Mapped[str] = mapped_column(String(512))
    group_key: Mapped[str] = mapped_column(String(512), default="")
    title: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="open")
    merged_into_id: Mapped[int | None] = mapped_column(BigId)  # no foreign key: see migration 0011
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    detected_at_estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    contacted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    policy: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    # The fault rule in force at detection (`sla_engine.faults.FaultExclusion`), kept like
    # the policy so that changing `[sla] fault_exclusion` never re-judges earlier incidents.
    fault_exclusion: Mapped[str] = mapped_column(String(8), default="hidden")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    alerts: Mapped[list[Alert]] = relationship(back_populates="incident", order_by="Alert.id")
    clocks: Mapped[list[Clock]] = relationship(
        back_populates="incident", order_by="Clock.id", cascade="all, delete-orphan"
    )
    timeline: Mapped[list[TimelineEntry]] = relationship(
        back_populates="incident", order_by="TimelineEntry.id"
    )
    resource: Mapped[Resource] = relationship()

    __table_args__ = (
        Index(
            "uq_incidents_open_group",
            "resource_id",
            "group_key",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
    )


class Alert(Base):
    """One problem raised by a source, from its problem event to its recovery."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    source: Mapped[str] = mapped_column(String(32))
    instance: Mapped[str] = mapped_column(String(128), default="")
    problem_key: Mapped[str] = mapped_column(String(512))
    status: Mapped[str] = mapped_column(String(16), default="firing")
    assignment: Mapped[str] = mapped_column(String(16), default="assigned")
    title: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(16))
    resource_ids: Mapped[dict[str, str]] = mapped_column(JSONType)
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    detected_at_estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    incident: Mapped[Incident | None] = relationship(back_populates="alerts")

    __table_args__ = (
        Index(
            "uq_alerts_firing_problem",
            "source",
            "problem_key",
            unique=True,
            sqlite_where=text("status = 'firing'"),
            postgresql_where=text("status = 'firing'"),
        ),
        Index("ix_alerts_assignment", "assignment"),
    )


class AlertEventRecord(Base):
    """Every accepted source event, kept verbatim; `event_key` makes redelivery a no-op.

    The table is also the ingest inbox: an event is committed here first, with all it
    takes to correlate it, and `outcome` stays empty until the correlator has turned it
    into alerts and incidents (`daemon.correlator`).
    """

    __tablename__ = "alert_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_key: Mapped[str] = mapped_column(String(512), unique=True)
    problem_key: Mapped[str] = mapped_column(String(512), index=True)
    source: Mapped[str] = mapped_column(String(32))
    instance: Mapped[str] = mapped_column(String(128), default="")
    kind: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16), default="")
    title: Mapped[str] = mapped_column(Text, default="")
    resource_ids: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"), index=True)
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime)
    detected_at_estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    raw: Mapped[dict[str, Any]] = mapped_column(JSONType)
    outcome: Mapped[str | None] = mapped_column(String(16))
    correlated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index(
            "ix_alert_events_pending",
            "id",
            sqlite_where=text("outcome IS NULL"),
            postgresql_where=text("outcome IS NULL"),
        ),
    )


class Clock(Base):
    """The stored judgement of one SLA clock, recomputed from facts whenever they change.

    Columns mirror `sla_engine.evaluation.ClockEvaluation` so that lists, filters and
    reports need no engine call; the detail view evaluates live for remaining time.
    """

    __tablename__ = "clocks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    support_request_id: Mapped[int | None] = mapped_column(
        ForeignKey("support_requests.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(32))
    plan: Mapped[str] = mapped_column(String(32))
    start_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    stop_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    slo_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sla_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    counted_seconds: Mapped[float | None] = mapped_column()
    state: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str | None] = mapped_column(String(16))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    recorded: Mapped[list[str]] = mapped_column(JSONType, default=list)

    incident: Mapped[Incident | None] = relationship(back_populates="clocks")

    __table_args__ = (
        UniqueConstraint("incident_id", "name", name="uq_clocks_incident_name"),
        UniqueConstraint("support_request_id", "name", name="uq_clocks_support_name"),
    )


class TimelineEntry(Base):
    """What happened to an incident, stamped with the instant it happened."""

    __tablename__ = "timeline"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(48))
    actor: Mapped[str] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)

    incident: Mapped[Incident] = relationship(back_populates="timeline")


class MaintenanceWindow(Base):
    """Time excluded from incident clocks: maintenance, or a monitoring fault (`kind`).

    Either a single [start_at, end_at) span (end_at may be open while a fault lasts) or
    a recurrence: `rrule` with `start_at` as the first occurrence in `timezone` and
    `duration_seconds`, bounded by `until_at`. A `customer`, `contract` or `resource`
    scope names its row by id in `scope_ref`; a `source` scope names the source (or
    ``source:instance``) in `source`.
    """

    __tablename__ = "maintenance_windows"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    scope: Mapped[str] = mapped_column(String(16))
    scope_ref: Mapped[int | None] = mapped_column(BigInteger)
    source: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text, default="")
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rrule: Mapped[str | None] = mapped_column(String(500))
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Tokyo")
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    until_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    effective_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="active")
    external_ref: Mapped[str | None] = mapped_column(String(200), unique=True)
    author: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SupportRequest(Base):
    """A professional-support request; it gets a business-day clock when in scope."""

    __tablename__ = "support_requests"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    channel: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(Text)
    in_scope: Mapped[bool] = mapped_column(Boolean)
    scope_note: Mapped[str] = mapped_column(Text, default="")
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    policy: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    clocks: Mapped[list[Clock]] = relationship(order_by="Clock.id", cascade="all, delete-orphan")


class ServiceRequest(Base):
    """A customer-reported incident or an operations request: timestamps, no promise."""

    __tablename__ = "service_requests"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    channel: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuditEntry(Base):
    """Append-only: who changed what SLA-relevant fact, when, and why."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class ApiToken(Base):
    """A bearer token; only its SHA-256 is stored, the token is shown once. It is refused
    from `expires_at` on (never, when null) and once revoked."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OutboxMessage(Base):
    """A notification written in the same transaction as the event that caused it.

    The delivery worker sends pending rows and marks them sent; a crash before the mark
    re-sends the row with the same idempotency key, which receivers use to de-duplicate.
    `purpose = "auto_contact"` rows record the incident's contact at the accepted instant.
    """

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    event: Mapped[str] = mapped_column(String(32))
    purpose: Mapped[str] = mapped_column(String(16), default="notify")
    channel: Mapped[str] = mapped_column(String(64))
    recipient: Mapped[str] = mapped_column(String(320), default="")
    message: Mapped[dict[str, Any]] = mapped_column(JSONType)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_outbox_pending", "status", "next_attempt_at"),)


class ProviderNoticeRecord(Base):
    """A cloud provider's maintenance or outage notice (SPEC section 6), as last updated.

    One row per notice (`source`, `instance`, `event_id`); each update the provider
    published is a `ProviderNoticeUpdate`. `revision` counts material versions (start,
    end or status changed); `pending` is set while windows and notifications have not
    caught up with the row yet.
    """

    __tablename__ = "provider_notices"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    instance: Mapped[str] = mapped_column(String(128), default="")
    event_id: Mapped[str] = mapped_column(String(400))
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    title: Mapped[dict[str, str]] = mapped_column(JSONType)
    description: Mapped[dict[str, str]] = mapped_column(JSONType)
    services: Mapped[list[str]] = mapped_column(JSONType)
    regions: Mapped[list[str]] = mapped_column(JSONType)
    affected: Mapped[list[dict[str, str]]] = mapped_column(JSONType)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    raw: Mapped[dict[str, Any]] = mapped_column(JSONType)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    pending: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    impact_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    impact_confirmed_by: Mapped[str | None] = mapped_column(String(200))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    updates: Mapped[list[ProviderNoticeUpdate]] = relationship(
        order_by="ProviderNoticeUpdate.id", cascade="all, delete-orphan"
    )
    resources: Mapped[list[ProviderNoticeResource]] = relationship(
        order_by="ProviderNoticeResource.resource_id", cascade="all, delete-orphan"
    )
    deliveries: Mapped[list[ProviderNoticeDelivery]] = relationship(
        order_by="ProviderNoticeDelivery.id", cascade="all, delete-orphan"
    )

    __table_args__ = (
        UniqueConstraint("source", "instance", "event_id", name="uq_provider_notices_event"),
    )


class ProviderNoticeUpdate(Base):
    """One update of a notice as delivered; `update_id` makes its redelivery a no-op."""

    __tablename__ = "provider_notice_updates"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    notice_id: Mapped[int] = mapped_column(
        ForeignKey("provider_notices.id", ondelete="CASCADE"), index=True
    )
    update_id: Mapped[str] = mapped_column(String(400))
    revision: Mapped[int] = mapped_column(Integer)
    material: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(16))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    raw: Mapped[dict[str, Any]] = mapped_column(JSONType)

    __table_args__ = (
        UniqueConstraint("notice_id", "update_id", name="uq_provider_notice_updates_update"),
    )


class ProviderNoticeResource(Base):
    """A resource a notice affects, found through the registry's selectors."""

    __tablename__ = "provider_notice_resources"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    notice_id: Mapped[int] = mapped_column(
        ForeignKey("provider_notices.id", ondelete="CASCADE"), index=True
    )
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id"))
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)

    resource: Mapped[Resource] = relationship()

    __table_args__ = (
        UniqueConstraint("notice_id", "resource_id", name="uq_provider_notice_resources_pair"),
    )


class ProviderNoticeDelivery(Base):
    """One notification a notice revision was forwarded as; null `customer_id`: operators."""

    __tablename__ = "provider_notice_deliveries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    notice_id: Mapped[int] = mapped_column(
        ForeignKey("provider_notices.id", ondelete="CASCADE"), index=True
    )
    revision: Mapped[int] = mapped_column(Integer)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"), unique=True)

    outbox: Mapped[OutboxMessage] = relationship()


class Heartbeat(Base):
    """The last instant each daemon process was seen running; gaps become faults."""

    __tablename__ = "heartbeats"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SourceInstanceState(Base):
    """What the daemon knows of one source instance, kept across restarts and replicas.

    `watermark` is where the next poll starts (moved only after what a poll brought is
    committed). `failures` and `first_failure_at` are the current run of failed polls,
    which opens a monitoring fault at the instance's threshold. The rest is what
    ``GET /v1/sources`` shows: the last poll and its `findings` (set-up the source gets
    wrong, as the connector words it), the last accepted and rejected webhook.
    """

    __tablename__ = "source_instances"

    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    instance: Mapped[str] = mapped_column(String(128), primary_key=True)
    watermark: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    first_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_poll_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_poll_ok: Mapped[bool | None] = mapped_column(Boolean)
    last_poll_error: Mapped[str | None] = mapped_column(Text)
    last_poll_ok_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    findings: Mapped[list[str] | None] = mapped_column(JSONType)
    last_accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_accepted_note: Mapped[str | None] = mapped_column(Text)
    last_rejected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_rejected_reason: Mapped[str | None] = mapped_column(String(32))
    last_rejected_detail: Mapped[str | None] = mapped_column(Text)


class OptionHours(Base):
    """Hours worked for a contract's option in one month, as recorded (append-only;
    a correction is a negative entry)."""

    __tablename__ = "option_hours"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"))
    month: Mapped[str] = mapped_column(String(7))
    option: Mapped[str] = mapped_column(String(32))
    centihours: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_option_hours_contract_month", "contract_id", "month"),)


class ClosedMonth(Base):
    """A month whose charges were closed: its statement as invoiced, never changed.

    `statement` holds every contract's lines and the terms they were priced with, so a
    late change to the month's dated facts is billed as an adjustment next month.
    """

    __tablename__ = "closed_months"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    closed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_by: Mapped[str] = mapped_column(String(200))
    invoice_date: Mapped[date] = mapped_column(Date)
    statement: Mapped[dict[str, Any]] = mapped_column(JSONType)


class WindowChange(Base):
    """A change a source's sync would make to judged past time, held for an administrator.

    `window_id` carries the change's future part (or, for a deletion, the window cut at
    the hold); `previous_window_id` the old shape kept up to the hold, for an update.
    `past_start`..`past_end` bound the time it would change. See
    `daemon.sources.window_changes`.
    """

    __tablename__ = "window_changes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), index=True)
    window_id: Mapped[int] = mapped_column(BigInteger)
    previous_window_id: Mapped[int | None] = mapped_column(BigInteger)
    author: Mapped[str] = mapped_column(String(200))
    past_start: Mapped[datetime] = mapped_column(UTCDateTime)
    past_end: Mapped[datetime] = mapped_column(UTCDateTime)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decision_reason: Mapped[str | None] = mapped_column(Text)


class ConsoleSession(Base):
    """A signed-in console user: the API token they signed in with and its role, their
    language, and when they last used it. Only the SHA-256 of the session id (the
    cookie's value) is stored, so a leaked database opens no session. `csrf_token` is
    the session's synchroniser token, written into every form it is shown."""

    __tablename__ = "console_sessions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    session_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_id: Mapped[int] = mapped_column(
        ForeignKey("api_tokens.id", ondelete="CASCADE"), index=True
    )
    csrf_token: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    token: Mapped[ApiToken] = relationship()
