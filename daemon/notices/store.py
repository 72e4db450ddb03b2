"""Keep provider notices: each update once, its material changes counted, its resources mapped.

A provider redelivers and republishes freely (AWS Health repeats an event in every poll,
a webhook retries), so every update is keyed by the provider's own ids: the same
`update_id` of the same notice is a no-op, and a new one is a new fact. An update
that changes the start, the end or the status is material: it raises the notice's
`revision`, and each revision is forwarded once (`daemon.notices.forward`). Resources
are mapped with the registry's selectors, like an alert's, except that an identifier
set names every resource it holds a selector of (a notice names a scope, such as a
subscription and region, where an alert names one resource); a notice that maps to
none is kept all the same and shown to operators.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.notices import ProviderNotice
from daemon.registry import ResourceLookup
from daemon.store.models import ProviderNoticeRecord, ProviderNoticeResource, ProviderNoticeUpdate

Recorded = Literal["created", "updated", "unchanged", "duplicate"]


@dataclass(frozen=True, slots=True)
class NoticeResult:
    """What recording one notice did: `created` (first seen), `updated` (a material
    update), `unchanged` (a new update with nothing material in it) or `duplicate`."""

    status: Recorded
    record: ProviderNoticeRecord


def record_notices(
    session: Session, notices: Sequence[ProviderNotice], now: datetime
) -> list[NoticeResult]:
    """Store `notices` in the caller's transaction; one result per notice, in order.

    A notice that is new, materially updated, or affects other resources than before is
    left `pending`: its windows and notifications follow when the notice worker (or the
    REST route that recorded it) applies it, so a source's webhook or poll needs no
    notification set-up to hand notices over.
    """
    lookup = ResourceLookup(session)
    results = [_record(session, lookup, notice, now) for notice in notices]
    session.flush()  # the caller gets the notices' ids
    return results


def _record(
    session: Session, lookup: ResourceLookup, notice: ProviderNotice, now: datetime
) -> NoticeResult:
    record = session.scalar(
        select(ProviderNoticeRecord).where(
            ProviderNoticeRecord.source == notice.source,
            ProviderNoticeRecord.instance == notice.instance,
            ProviderNoticeRecord.event_id == notice.event_id,
        )
    )
    if record is None:
        record = ProviderNoticeRecord(
            source=notice.source,
            instance=notice.instance,
            event_id=notice.event_id,
            revision=1,
            pending=True,
            first_seen_at=now,
            resources=[],
            updates=[],
        )
        _describe(record, notice, now)
        session.add(record)
        _add_update(record, notice, material=True, now=now)
        _map(record, lookup, notice)
        return NoticeResult("created", record)
    if any(u.update_id == notice.update_id for u in record.updates):
        return NoticeResult("duplicate", record)
    material = (record.starts_at, record.ends_at, record.status) != (
        notice.starts_at,
        notice.ends_at,
        notice.status.value,
    )
    if material:
        record.revision += 1
        record.pending = True
    _describe(record, notice, now)
    _add_update(record, notice, material=material, now=now)
    if _map(record, lookup, notice):
        record.pending = True
    return NoticeResult("updated" if material else "unchanged", record)


def _describe(record: ProviderNoticeRecord, notice: ProviderNotice, now: datetime) -> None:
    """Copy what the provider says now onto the row (the latest update wins)."""
    record.kind = notice.kind.value
    record.status = notice.status.value
    record.title = dict(notice.title)
    record.description = dict(notice.description)
    record.services = list(notice.services)
    record.regions = list(notice.regions)
    record.affected = [dict(ids) for ids in notice.affected_resources]
    record.starts_at = notice.starts_at
    record.ends_at = notice.ends_at
    record.raw = dict(notice.raw)
    record.updated_at = now


def _add_update(
    record: ProviderNoticeRecord, notice: ProviderNotice, *, material: bool, now: datetime
) -> None:
    record.updates.append(
        ProviderNoticeUpdate(
            update_id=notice.update_id,
            revision=record.revision,
            material=material,
            status=notice.status.value,
            starts_at=notice.starts_at,
            ends_at=notice.ends_at,
            received_at=now,
            raw=dict(notice.raw),
        )
    )


def _map(record: ProviderNoticeRecord, lookup: ResourceLookup, notice: ProviderNotice) -> bool:
    """Point the notice at the resources its identifier sets map to; True if that changed."""
    found = {}
    for identifiers in notice.affected_resources:
        for resource in lookup.resolve_all(identifiers):
            found[resource.id] = resource
    current = {row.resource_id for row in record.resources}
    if current == set(found):
        return False
    record.resources[:] = [row for row in record.resources if row.resource_id in found]
    for resource_id in sorted(set(found) - current):
        resource = found[resource_id]
        record.resources.append(
            ProviderNoticeResource(
                resource_id=resource.id,
                contract_id=resource.contract_id,
                customer_id=resource.contract.customer_id,
                resource=resource,
            )
        )
    return True
