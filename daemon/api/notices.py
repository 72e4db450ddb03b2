"""Provider notices over REST: generic ingest, lists, detail with deliveries, impact confirmation.

`POST /v1/provider-notices` is for sources slad has no connector for; connectors hand
their notices over through `daemon.notices.record_notices` instead. A posted notice is
committed first and applied (windows, notifications) right after in a transaction of
its own: if applying fails, the notice stays pending for the notice worker to retry,
and nothing accepted is lost.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import Select, exists, or_, select
from sqlalchemy.orm import Session, selectinload

from connectors.notices import NoticeKind, NoticeStatus, ProviderNotice
from daemon import audit
from daemon.api.deps import (
    NowDep,
    Operator,
    ReaderDep,
    ServicesDep,
    SessionDep,
    StrictQuery,
    Viewer,
    requires,
)
from daemon.api.pages import newest_first
from daemon.api.problems import Problem, not_found, problem_responses
from daemon.api.schemas import Page, Strict
from daemon.api.types import Id, JsonObject, Text
from daemon.api.utc import Instant
from daemon.auth import Principal
from daemon.notices import record_notices
from daemon.store.models import (
    Customer,
    MaintenanceWindow,
    ProviderNoticeDelivery,
    ProviderNoticeRecord,
    ProviderNoticeResource,
)

log = logging.getLogger("slad.notices")

router = APIRouter(
    prefix="/v1/provider-notices", tags=["provider notices"], dependencies=[StrictQuery]
)

Ingest = Annotated[Principal, Depends(requires("ingest"))]
Kind = Literal["maintenance", "incident", "informational"]
Status = Literal["scheduled", "active", "resolved", "cancelled"]
Texts = dict[Annotated[Text, Field(min_length=1, max_length=16)], Text]


class NoticeIn(Strict):
    """One notice, or one update of it, from a provider slad has no connector for.

    Post every update with the same `event_id` and a new `update_id`; posting the same
    update again changes nothing. `affected_resources` are identifier sets as alerts
    carry them (e.g. `{"aws.dimension.InstanceId": "i-0abc"}`), mapped through the
    registry's selectors.
    """

    source: Text = Field(default="generic", min_length=1, max_length=32)
    instance: Text = Field(default="", max_length=128)
    event_id: Text = Field(min_length=1, max_length=400)
    update_id: Text = Field(min_length=1, max_length=400)
    kind: Kind
    status: Status
    title: Texts = Field(min_length=1, description="By language, e.g. {'en': ..., 'ja': ...}.")
    description: Texts = Field(default_factory=dict)
    services: list[Text] = Field(default_factory=list, max_length=200)
    regions: list[Text] = Field(default_factory=list, max_length=200)
    affected_resources: list[dict[Text, Text]] = Field(default_factory=list, max_length=10_000)
    starts_at: Instant
    ends_at: Instant | None = None
    raw: JsonObject = Field(default_factory=dict)

    @model_validator(mode="after")
    def _coherent(self) -> NoticeIn:
        if self.ends_at is not None and self.ends_at < self.starts_at:
            raise ValueError("ends_at lies before starts_at")
        return self

    def notice(self) -> ProviderNotice:
        return ProviderNotice(
            source=self.source,
            instance=self.instance,
            event_id=self.event_id,
            update_id=self.update_id,
            kind=NoticeKind(self.kind),
            status=NoticeStatus(self.status),
            title=self.title,
            description=self.description,
            services=tuple(self.services),
            regions=tuple(self.regions),
            affected_resources=tuple(self.affected_resources),
            starts_at=self.starts_at,
            ends_at=self.ends_at,
            raw=self.raw,
        )


class ConfirmIn(Strict):
    reason: Text = Field(min_length=1, max_length=2000)


class NoticeSummary(BaseModel):
    id: int
    source: str
    instance: str
    event_id: str
    kind: str
    status: str
    title: dict[str, str]
    starts_at: Instant
    ends_at: Instant | None
    revision: int
    pending: bool
    mapped: bool
    customer_ids: list[int]
    impact_confirmed_at: Instant | None
    first_seen_at: Instant
    updated_at: Instant


class UpdateOut(BaseModel):
    update_id: str
    revision: int
    material: bool
    status: str
    starts_at: Instant
    ends_at: Instant | None
    received_at: Instant


class ResourceOut(BaseModel):
    resource_id: int
    name: str
    contract_id: int
    customer_id: int


class DeliveryOut(BaseModel):
    """One message a revision went out as; `status` is the outbox's (pending, sent, failed)."""

    outbox_id: int
    revision: int
    channel: str
    recipient: str
    status: str
    attempts: int
    last_error: str | None
    accepted_at: Instant | None


class AudienceOut(BaseModel):
    """Who a notice went to: a customer, or operators (`customer_id` null)."""

    customer_id: int | None
    customer_name: str | None
    deliveries: list[DeliveryOut]


class WindowRef(BaseModel):
    id: int
    resource_id: int
    start: Instant
    end: Instant | None
    status: str


class NoticeDetail(NoticeSummary):
    description: dict[str, str]
    services: list[str]
    regions: list[str]
    affected_resources: list[dict[str, str]]
    impact_confirmed_by: str | None
    raw: dict[str, Any]
    resources: list[ResourceOut]
    updates: list[UpdateOut]
    recipients: list[AudienceOut]
    windows: list[WindowRef]


class RecordedOut(BaseModel):
    """`created`, `updated` (a material update), `unchanged` (nothing material) or
    `duplicate` (this update was posted before)."""

    status: str
    notice: NoticeDetail


def summary(notice: ProviderNoticeRecord) -> NoticeSummary:
    return NoticeSummary(
        id=notice.id,
        source=notice.source,
        instance=notice.instance,
        event_id=notice.event_id,
        kind=notice.kind,
        status=notice.status,
        title=notice.title,
        starts_at=notice.starts_at,
        ends_at=notice.ends_at,
        revision=notice.revision,
        pending=notice.pending,
        mapped=bool(notice.resources),
        customer_ids=sorted({r.customer_id for r in notice.resources}),
        impact_confirmed_at=notice.impact_confirmed_at,
        first_seen_at=notice.first_seen_at,
        updated_at=notice.updated_at,
    )


def _audiences(session: Session, notice: ProviderNoticeRecord) -> list[AudienceOut]:
    grouped: dict[int | None, list[DeliveryOut]] = {r.customer_id: [] for r in notice.resources}
    for delivery in notice.deliveries:
        row = delivery.outbox
        grouped.setdefault(delivery.customer_id, []).append(
            DeliveryOut(
                outbox_id=row.id,
                revision=delivery.revision,
                channel=row.channel,
                recipient=row.recipient,
                status=row.status,
                attempts=row.attempts,
                last_error=row.last_error,
                accepted_at=row.accepted_at,
            )
        )
    names = {
        c.id: c.name
        for c in session.scalars(
            select(Customer).where(Customer.id.in_([k for k in grouped if k is not None]))
        )
    }
    ordered = sorted(grouped.items(), key=lambda item: (item[0] is None, item[0] or 0))
    return [
        AudienceOut(customer_id=key, customer_name=names.get(key) if key else None, deliveries=rows)
        for key, rows in ordered
    ]


def detail(session: Session, notice: ProviderNoticeRecord) -> NoticeDetail:
    windows = session.scalars(
        select(MaintenanceWindow)
        .where(MaintenanceWindow.external_ref.startswith(f"notice:{notice.id}:", autoescape=True))
        .order_by(MaintenanceWindow.id)
    )
    return NoticeDetail(
        **summary(notice).model_dump(),
        description=notice.description,
        services=notice.services,
        regions=notice.regions,
        affected_resources=notice.affected,
        impact_confirmed_by=notice.impact_confirmed_by,
        raw=notice.raw,
        resources=[
            ResourceOut(
                resource_id=r.resource_id,
                name=r.resource.name,
                contract_id=r.contract_id,
                customer_id=r.customer_id,
            )
            for r in notice.resources
        ],
        updates=[
            UpdateOut(
                update_id=u.update_id,
                revision=u.revision,
                material=u.material,
                status=u.status,
                starts_at=u.starts_at,
                ends_at=u.ends_at,
                received_at=u.received_at,
            )
            for u in notice.updates
        ],
        recipients=_audiences(session, notice),
        windows=[
            WindowRef(
                id=w.id,
                resource_id=int(w.scope_ref or 0),
                start=w.start_at,
                end=w.end_at,
                status=w.status,
            )
            for w in windows
        ],
    )


def _load(session: Session, notice_id: int) -> ProviderNoticeRecord:
    notice = session.scalar(
        select(ProviderNoticeRecord)
        .where(ProviderNoticeRecord.id == notice_id)
        .options(
            selectinload(ProviderNoticeRecord.updates),
            selectinload(ProviderNoticeRecord.resources).selectinload(
                ProviderNoticeResource.resource
            ),
            selectinload(ProviderNoticeRecord.deliveries).selectinload(
                ProviderNoticeDelivery.outbox
            ),
        )
    )
    if notice is None:
        raise not_found("provider notice", notice_id)
    return notice


@router.post(
    "",
    status_code=201,
    response_model=RecordedOut,
    responses={200: {"model": RecordedOut, "description": "An update, or a redelivery."}},
)
def post_notice(body: NoticeIn, svc: ServicesDep, _who: Ingest, now: NowDep) -> JSONResponse:
    """Keep a notice (`201` when first seen, else `200`) and pass it on at once."""
    with svc.sessions.begin() as session:
        (result,) = record_notices(session, [body.notice()], now)
        notice_id = result.record.id
    try:
        with svc.sessions.begin() as session:
            notice = session.get(ProviderNoticeRecord, notice_id)
            if notice is not None and notice.pending:
                svc.notices.apply(session, notice, now)
    except Exception:
        log.exception("provider notice kept but not applied yet", extra={"notice_id": notice_id})
    with svc.readers() as session:
        out = RecordedOut(status=result.status, notice=detail(session, _load(session, notice_id)))
    return JSONResponse(
        out.model_dump(mode="json"), status_code=201 if result.status == "created" else 200
    )


def _filtered(
    stmt: Select[ProviderNoticeRecord],
    source: str | None,
    kind: str | None,
    status: str | None,
    customer: int | None,
    active_at: datetime | None,
    mapped: bool | None,
) -> Select[ProviderNoticeRecord]:
    for column, value in (
        (ProviderNoticeRecord.source, source),
        (ProviderNoticeRecord.kind, kind),
        (ProviderNoticeRecord.status, status),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if customer is not None:
        stmt = stmt.where(
            exists().where(
                ProviderNoticeResource.notice_id == ProviderNoticeRecord.id,
                ProviderNoticeResource.customer_id == customer,
            )
        )
    if active_at is not None:
        stmt = stmt.where(
            ProviderNoticeRecord.starts_at <= active_at,
            or_(ProviderNoticeRecord.ends_at.is_(None), ProviderNoticeRecord.ends_at > active_at),
            ProviderNoticeRecord.status != "cancelled",
        )
    if mapped is not None:
        any_resource = exists().where(ProviderNoticeResource.notice_id == ProviderNoticeRecord.id)
        stmt = stmt.where(any_resource if mapped else ~any_resource)
    return stmt


@router.get("", response_model=Page[NoticeSummary])
def list_notices(
    session: ReaderDep,
    _who: Viewer,
    source: Text | None = None,
    kind: Kind | None = None,
    status: Status | None = None,
    customer: Id | None = None,
    active_at: Annotated[
        Instant | None, Query(description="Notices whose span covers this instant.")
    ] = None,
    mapped: Annotated[
        bool | None, Query(description="false: the notices that map to no resource.")
    ] = None,
    cursor: Text | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Page[NoticeSummary]:
    """Newest first; pass `next_cursor` back as `cursor` for the next page."""
    stmt = _filtered(
        select(ProviderNoticeRecord).options(selectinload(ProviderNoticeRecord.resources)),
        source,
        kind,
        status,
        customer,
        active_at,
        mapped,
    )
    rows, next_cursor = newest_first(session, stmt, ProviderNoticeRecord.id, cursor, limit)
    return Page[NoticeSummary](items=[summary(n) for n in rows], next_cursor=next_cursor)


@router.get("/{notice_id}", response_model=NoticeDetail)
def get_notice(notice_id: Id, session: ReaderDep, _who: Viewer) -> NoticeDetail:
    return detail(session, _load(session, notice_id))


@router.post(
    "/{notice_id}/confirm-impact", response_model=NoticeDetail, responses=problem_responses(409)
)
def confirm_impact(
    notice_id: Id,
    body: ConfirmIn,
    session: SessionDep,
    svc: ServicesDep,
    who: Operator,
    now: NowDep,
) -> NoticeDetail:
    """An operator confirms that an incident notice hit the affected resources: it opens
    their `provider_maintenance` windows, over time already past too (audited)."""
    notice = _load(session, notice_id)
    if notice.kind != "incident":
        raise Problem(
            409, "not-an-incident", f"only incident notices need confirming; this is {notice.kind}"
        )
    if notice.impact_confirmed_at is None:
        notice.impact_confirmed_at = now
        notice.impact_confirmed_by = who.name
        audit.record(
            session,
            at=now,
            actor=who.name,
            action="provider_notice.confirm_impact",
            target_type="provider_notice",
            target_id=notice.id,
            reason=body.reason,
            detail={"event_id": notice.event_id, "source": notice.source},
        )
        svc.notices.apply(
            session, notice, now, past_reason=f"confirmed by {who.name}: {body.reason}"
        )
    session.flush()
    return detail(session, notice)
