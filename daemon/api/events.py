"""`POST /v1/events`: generic ingest for sources slad ships no connector for.

The answer is sent only after the events are committed (group commit across
concurrent requests); redelivering the same `event_key` is a no-op reported as
`duplicate`.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from fastapi import APIRouter

from connectors.events import AlertEvent, EventKind, Severity
from daemon.api.deps import IngestRole, NowDep, ServicesDep
from daemon.api.problems import Problem
from daemon.api.schemas import EventBatchIn, EventIn, IngestOut, IngestResultOut
from daemon.ingest import IngestResult
from daemon.services import Services

router = APIRouter(prefix="/v1", tags=["ingest"])


def to_alert_event(body: EventIn, received_at: datetime) -> AlertEvent:
    return AlertEvent(
        source=body.source,
        event_key=f"{body.source}:{body.event_key}",
        problem_key=f"{body.source}:{body.problem_key}",
        kind=EventKind(body.kind),
        detected_at=body.detected_at,
        received_at=received_at,
        severity=Severity(body.severity),
        title=body.title,
        resource_ids=body.resource_ids,
        raw=body.raw,
    )


async def submit(svc: Services, events: list[AlertEvent]) -> list[IngestResult]:
    """Hand events to the writer and wait until they are committed."""
    return await asyncio.wrap_future(svc.batcher.submit(events))


def results_out(results: list[IngestResult]) -> IngestOut:
    return IngestOut(
        results=[
            IngestResultOut(
                event_key=r.event_key,
                status=r.status,
                alert_id=r.alert_id,
                incident_id=r.incident_id,
            )
            for r in results
        ]
    )


@router.post("/events", response_model=IngestOut)
async def post_events(
    body: EventBatchIn | EventIn, svc: ServicesDep, _who: IngestRole, now: NowDep
) -> IngestOut:
    """One event, or `{"events": [...]}` with up to `ingest.max_batch_events` of them."""
    items = body.events if isinstance(body, EventBatchIn) else [body]
    limit = svc.config.ingest.max_batch_events
    if len(items) > limit:
        raise Problem(
            413, "batch-too-large", f"{len(items)} events in one request; the limit is {limit}"
        )
    return results_out(await submit(svc, [to_alert_event(e, now) for e in items]))
