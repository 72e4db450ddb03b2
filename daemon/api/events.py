"""`POST /v1/events`: generic ingest for sources slad ships no connector for.

The answer means "committed": `202 Accepted` once the events are in the inbox (group
commit across concurrent requests), each reported as `accepted` or, for a redelivered
`event_key`, `duplicate`. The correlator turns them into alerts and incidents right
after. A caller that wants that outcome in the answer asks `?wait=true`: the answer is
then `200` with each event's outcome, or still `202` when correlation did not finish
within `ingest.wait_timeout_seconds`.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import Discriminator, Tag, TypeAdapter, ValidationError
from sqlalchemy import select

from connectors.events import AlertEvent, EventKind, Severity
from daemon import audit
from daemon.api.deps import (
    NowDep,
    Operator,
    ReaderDep,
    SessionDep,
    StrictQuery,
    Viewer,
    authorize,
    check_query,
)
from daemon.api.invalid import field_name
from daemon.api.pages import newest_first
from daemon.api.problems import Problem, problem_responses
from daemon.api.schemas import EventBatchIn, EventIn, InboxEventOut, IngestOut, Page
from daemon.api.types import (
    Id,
    Text,
    instant_out_of_range,
    unstorable_character,
    unstorable_json,
)
from daemon.ingest import IngestResult
from daemon.services import Services
from daemon.store.models import Alert, AlertEventRecord

router = APIRouter(prefix="/v1", tags=["ingest"])

WaitQuery = Annotated[
    bool,
    Query(description="Answer only once the events are correlated, with their outcomes."),
]


def sent_key(source: str, stored: str) -> str:
    """The `event_key` as its sender gave it: the store prefixes it with the source, so
    keys of different sources never collide, and answers take the prefix off again."""
    return stored.removeprefix(f"{source}:")


def inbox_out(record: AlertEventRecord) -> InboxEventOut:
    out = InboxEventOut.model_validate(record)
    return out.model_copy(update={"event_key": sent_key(record.source, record.event_key)})


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


def unstorable_event(event: AlertEvent) -> str | None:
    """What in `event` no store could hold, as ``field: reason``; or None.

    Every source's events pass here before the inbox, so what a connector let through
    (a lone surrogate in a signed payload, an instant that overflows once in UTC) is a
    422 for its sender instead of a failed commit. The raw payload is looked at first:
    the other fields are taken from it, and its paths are the names the sender used.
    """
    found = unstorable_json(event.raw)
    if found is not None:
        return f"{field_name(found[0]) or 'body'}: {found[1]}"
    texts = {
        "source": event.source,
        "instance": event.instance,
        "event_key": event.event_key,
        "problem_key": event.problem_key,
        "title": event.title,
    }
    for name, text in texts.items():
        if (reason := unstorable_character(text)) is not None:
            return f"{name}: {reason}"
    found = unstorable_json(event.resource_ids, ("resource_ids",))
    if found is not None:
        return f"{field_name(found[0])}: {found[1]}"
    for name, at in (("detected_at", event.detected_at), ("received_at", event.received_at)):
        if (reason := instant_out_of_range(at)) is not None:
            return f"{name}: {reason}"
    return None


async def ingest(svc: Services, events: list[AlertEvent], wait: bool) -> JSONResponse:
    """Commit `events` to the inbox and answer; with `wait`, after correlating them too.

    Nothing is committed when one of them could not be stored (422 naming the field).
    """
    for index, event in enumerate(events):
        reason = unstorable_event(event)
        if reason is not None:
            where = f"events[{index}]." if len(events) > 1 else ""
            raise Problem(422, "unstorable-event", where + reason)
    acceptance = await svc.inbox.accept(events)
    results = acceptance.results
    settled = False
    if wait:
        try:
            await asyncio.wait_for(
                asyncio.wrap_future(svc.correlator.settled(acceptance.watermark)),
                timeout=svc.config.ingest.wait_timeout_seconds,
            )
            settled = True
        except TimeoutError:
            settled = False
        results = await run_in_threadpool(outcomes, svc, results)
    sent = [
        replace(r, event_key=sent_key(e.source, r.event_key))
        for e, r in zip(events, results, strict=True)
    ]
    return JSONResponse(results_body(sent), status_code=200 if settled else 202)


def outcomes(svc: Services, accepted: list[IngestResult]) -> list[IngestResult]:
    """The stored outcome of each accepted event; duplicates stay `duplicate`."""
    keys = [r.event_key for r in accepted if r.status != "duplicate"]
    stmt = (
        select(
            AlertEventRecord.event_key,
            AlertEventRecord.outcome,
            AlertEventRecord.alert_id,
            Alert.incident_id,
        )
        .outerjoin(Alert, Alert.id == AlertEventRecord.alert_id)
        .where(AlertEventRecord.event_key.in_(keys))
    )
    with svc.sessions() as session:
        stored = {row.event_key: row for row in session.execute(stmt)} if keys else {}
    results: list[IngestResult] = []
    for result in accepted:
        row = stored.get(result.event_key)
        if result.status == "duplicate" or row is None or row.outcome is None:
            results.append(result)
            continue
        incident_id = row.incident_id if row.outcome != "unassigned" else None
        results.append(IngestResult(row.event_key, row.outcome, row.alert_id, incident_id))
    return results


def results_body(results: list[IngestResult]) -> dict[str, object]:
    return {
        "results": [
            {
                "event_key": r.event_key,
                "status": r.status,
                "alert_id": r.alert_id,
                "incident_id": r.incident_id,
            }
            for r in results
        ]
    }


INGEST_RESPONSES: dict[int | str, dict[str, object]] = {
    202: {"model": IngestOut, "description": "Committed; correlation pending."},
    200: {"model": IngestOut, "description": "Committed and correlated (`wait=true`)."},
}


def _body_kind(body: Any) -> str:
    """A body with `events` is a batch; anything else is validated as one event, so a
    bad event is told what is wrong with it, not also why it is not a batch."""
    return "batch" if isinstance(body, dict) and "events" in body else "event"


EventsBody = Annotated[
    Annotated[EventBatchIn, Tag("batch")] | Annotated[EventIn, Tag("event")],
    Discriminator(_body_kind),
]
EVENTS_BODY: TypeAdapter[EventBatchIn | EventIn] = TypeAdapter(EventsBody)
REQUEST_MODELS = (EventIn, EventBatchIn)  # their schemas join the OpenAPI components
EVENTS_OPENAPI: dict[str, object] = {
    "security": [{"HTTPBearer": []}],  # checked by the route itself (`authorize`)
    "parameters": [
        {
            "name": "wait",
            "in": "query",
            "required": False,
            "schema": {"type": "boolean", "default": False},
            "description": "Answer only once the events are correlated, with their outcomes.",
        }
    ],
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "anyOf": [
                        {"$ref": "#/components/schemas/EventBatchIn"},
                        {"$ref": "#/components/schemas/EventIn"},
                    ]
                }
            }
        },
    },
}
TRUE, FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")
_WAIT = frozenset({"wait"})


def parse_events(raw: bytes) -> list[EventIn]:
    """The events of a request body, validated straight from its bytes.

    The fast JSON parser refuses some JSON the standard one reads (a lone surrogate,
    deep nesting) by line and column only; such a body is read again the slow way, so
    the answer names the field that holds it.
    """
    try:
        body = EVENTS_BODY.validate_json(raw)
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            _name_the_field(raw)
        raise _invalid(exc) from exc
    return body.events if isinstance(body, EventBatchIn) else [body]


def _name_the_field(raw: bytes) -> None:
    """Raise the validation error of `raw` as the standard JSON parser reads it, if any."""
    try:
        EVENTS_BODY.validate_python(json.loads(raw))
    except ValidationError as exc:
        raise _invalid(exc) from exc
    except (ValueError, RecursionError):
        return  # not JSON to that parser either


def _invalid(exc: ValidationError) -> RequestValidationError:
    """`exc` located in the body, without the name of the union member it tried."""
    return RequestValidationError(
        [{**e, "loc": ("body", *e["loc"][1:])} for e in exc.errors(include_url=False)]
    )


def wait_flag(request: Request) -> bool:
    check_query(request, _WAIT)
    value = request.query_params.get("wait", "false").lower()
    if value not in TRUE + FALSE:
        raise RequestValidationError(
            [{"loc": ("query", "wait"), "msg": "must be true or false", "type": "bool_parsing"}]
        )
    return value in TRUE


@router.post(
    "/events",
    status_code=202,
    response_model=IngestOut,
    responses=INGEST_RESPONSES,
    openapi_extra=EVENTS_OPENAPI,
)
async def post_events(request: Request) -> JSONResponse:
    """One event, or `{"events": [...]}` with up to `ingest.max_batch_events` of them.

    The hot path of a daemon under an alert storm, so it reads the body and the token
    itself instead of through FastAPI's dependencies: the same checks, a third of the
    work per request.
    """
    svc: Services = request.app.state.services
    await authorize(svc, request.headers.get("authorization"), "ingest")
    wait = wait_flag(request)
    items = parse_events(await request.body())
    limit = svc.config.ingest.max_batch_events
    if len(items) > limit:
        raise Problem(
            413, "batch-too-large", f"{len(items)} events in one request; the limit is {limit}"
        )
    now = svc.clock()
    return await ingest(svc, [to_alert_event(e, now) for e in items], wait)


InboxState = Literal[
    "pending",
    "failed",
    "created",
    "attached",
    "repeated",
    "resolved",
    "updated",
    "unassigned",
    "orphan",
    "correlated",
]


@router.get("/events", response_model=Page[InboxEventOut], dependencies=[StrictQuery])
def list_events(
    session: ReaderDep,
    _who: Viewer,
    outcome: InboxState | None = None,
    source: Text | None = None,
    cursor: Text | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Page[InboxEventOut]:
    """Accepted events, newest first; `outcome=pending` is the correlation backlog and
    `outcome=failed` the events set aside with their error."""
    stmt = select(AlertEventRecord)
    if outcome == "pending":
        stmt = stmt.where(AlertEventRecord.outcome.is_(None))
    elif outcome is not None:
        stmt = stmt.where(AlertEventRecord.outcome == outcome)
    if source is not None:
        stmt = stmt.where(AlertEventRecord.source == source)
    rows, next_cursor = newest_first(session, stmt, AlertEventRecord.id, cursor, limit)
    return Page[InboxEventOut](items=[inbox_out(r) for r in rows], next_cursor=next_cursor)


@router.post(
    "/events/{event_id}/retry",
    response_model=InboxEventOut,
    dependencies=[StrictQuery],
    responses=problem_responses(409),
)
def retry_event(event_id: Id, session: SessionDep, who: Operator, now: NowDep) -> InboxEventOut:
    """Put an event the correlator set aside back in the inbox, once its cause is fixed.

    The correlator picks it up on its next pass (within `idle_poll`, a second).
    """
    record = session.get(AlertEventRecord, event_id)
    if record is None:
        raise Problem(404, "not-found", f"no event {event_id}")
    if record.outcome != "failed":
        raise Problem(
            409, "not-failed", f"event {event_id} is {record.outcome or 'pending'}, not failed"
        )
    audit.record(
        session,
        at=now,
        actor=who.name,
        action="event.retry",
        target_type="event",
        target_id=event_id,
        detail={"error": record.error},
    )
    record.outcome = None
    record.correlated_at = None
    record.error = None
    session.flush()
    return inbox_out(record)
