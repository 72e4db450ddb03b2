"""``POST /v1/webhooks/<source>/<instance>[/<sub>]``: every source's webhooks, one way.

Sources cannot send a bearer token, so each route is authenticated by its connector
(a signature, a token in the URL, a signed JWT) before anything is parsed or stored.
The answer is sent only after what the request brought is committed (`202`;
``?wait=true`` waits for correlation as ``POST /v1/events`` does). A refused request
changes nothing but the instance's "last rejected" (``GET /v1/sources``), a WARNING log
line with source, instance and reason (never a secret), and
``slad_webhook_rejected_total{source,reason}``. A connector that could not reach what it
needed to judge the request (`SourceUnreachable`: a certificate, the source's API) is
answered 503 with ``Retry-After``, so the sender retries, and is kept the same way
(reason ``source_unreachable``); it also counts as a failed attempt to reach the source.
A `FaultChange` the request brought opens or closes the instance's monitoring fault once
the rest is committed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from connectors.source import (
    ControlAnswer,
    RejectReason,
    SourceConnector,
    SourceUnreachable,
    WebhookRejected,
    WebhookRequest,
    WebhookResult,
)
from daemon.api.deps import NowDep, ServicesDep
from daemon.api.events import INGEST_RESPONSES, WaitQuery, ingest
from daemon.api.problems import Problem, problem_responses
from daemon.api.schemas import IngestOut
from daemon.notices import record_notices
from daemon.services import Services
from daemon.sources.state import UNKNOWN_INSTANCE, record_accepted, record_rejected

log = logging.getLogger("slad.sources")

UNREACHABLE_RETRY_AFTER = 30  # seconds: SNS and EventBridge retry on their own schedule too


class ControlOut(BaseModel):
    """The answer to a request that carried no alert (a subscription handshake, a test
    message): what it was, and whatever members the source expects back."""

    model_config = ConfigDict(extra="allow")

    note: str


WEBHOOK_RESPONSES: dict[int | str, dict[str, object]] = {
    **INGEST_RESPONSES,
    200: {
        "model": IngestOut | ControlOut,
        "description": "Committed and correlated (`wait=true`), or a request that"
        " carried no alert, answered as its source expects.",
    },
    **problem_responses(401, 404, 422),
}


def webhook_router(connectors: list[SourceConnector[Any]]) -> APIRouter:
    """One route per connector and sub-path, so each shows in the API document."""
    router = APIRouter(prefix="/v1/webhooks", tags=["ingest"])
    for connector in connectors:
        for subpath in connector.routes():
            path = f"/{connector.name}/{{instance}}" + (f"/{subpath}" if subpath else "")
            router.add_api_route(
                path,
                _endpoint(connector, subpath),
                methods=["POST"],
                status_code=202,
                response_model=IngestOut,
                responses=WEBHOOK_RESPONSES,
                name=f"{connector.name}_webhook" + (f"_{subpath}" if subpath else ""),
                summary=f"{connector.title} webhook" + (f" ({subpath})" if subpath else ""),
            )
    return router


def _endpoint(
    connector: SourceConnector[Any], subpath: str
) -> Callable[..., Awaitable[JSONResponse]]:
    async def receive(
        instance: str, request: Request, svc: ServicesDep, now: NowDep, wait: WaitQuery = False
    ) -> JSONResponse:
        """One request from the source; refused (4xx) unless its connector verifies it."""
        body = await request.body()
        runner = svc.sources.runner(connector.name, instance)
        try:
            if runner is None:
                raise WebhookRejected(
                    RejectReason.UNKNOWN_INSTANCE,
                    "unknown-instance",
                    f"no {connector.title} instance {instance!r} is configured",
                )
            webhook = WebhookRequest(
                subpath=subpath,
                headers={k.lower(): v for k, v in request.headers.items()},
                query=dict(request.query_params),
                body=body,
                received_at=now,
                source_up=runner.up,
            )
            try:
                result: WebhookResult = await run_in_threadpool(runner.handle, subpath, webhook)
            except SourceUnreachable as exc:
                runner.on_failure(connector.name, instance)
                raise WebhookRejected(
                    RejectReason.SOURCE_UNREACHABLE,
                    "source-unreachable",
                    f"cannot judge the request now: {exc}",
                ) from exc
        except WebhookRejected as exc:
            await run_in_threadpool(_rejected, svc, connector, instance, runner is None, exc)
            retry = exc.reason is RejectReason.SOURCE_UNREACHABLE
            headers = {"Retry-After": str(UNREACHABLE_RETRY_AFTER)} if retry else None
            raise Problem(exc.status, exc.problem, exc.detail, headers=headers) from exc
        if result.control is not None:
            answer = await _control(svc, connector.name, instance, result.control)
        else:
            if result.notices:
                await run_in_threadpool(_keep_notices, svc, result)
            answer = await ingest(svc, list(result.events), wait)
            note = f"{len(result.events)} event(s), {len(result.notices)} notice(s)"
            await run_in_threadpool(
                record_accepted, svc.sessions, connector.name, instance, note, svc.clock()
            )
        if result.fault is not None:
            await run_in_threadpool(runner.webhook_fault, result.fault, svc.clock())
        return answer

    return receive


def _keep_notices(svc: Services, result: WebhookResult) -> None:
    with svc.sessions.begin() as session:
        record_notices(session, result.notices, svc.clock())


def _rejected(
    svc: Services,
    connector: SourceConnector[Any],
    instance: str,
    unknown: bool,
    exc: WebhookRejected,
) -> None:
    """Leave the trace a refused webhook must leave: log, metric, "last rejected"."""
    log.warning(
        "%s webhook for instance %r rejected (%s): %s",
        connector.title,
        instance[:128],
        exc.reason.value,
        exc.detail,
        extra={"source": connector.name, "instance": instance[:128], "reason": exc.reason.value},
    )
    svc.metrics.count_webhook_rejected(connector.name, exc.reason.value)
    detail = f"instance {instance[:128]!r}: {exc.detail}" if unknown else exc.detail
    record_rejected(
        svc.sessions,
        connector.name,
        UNKNOWN_INSTANCE if unknown else instance,
        exc.reason.value,
        detail,
        svc.clock(),
    )


async def _control(
    svc: Services, source: str, instance: str, control: ControlAnswer
) -> JSONResponse:
    await run_in_threadpool(
        record_accepted, svc.sessions, source, instance, control.note, svc.clock()
    )
    task = None
    if control.follow_up is not None:
        task = BackgroundTask(_follow_up, source, instance, control)
    return JSONResponse({"note": control.note, **control.body}, control.status, background=task)


def _follow_up(source: str, instance: str, control: ControlAnswer) -> None:
    assert control.follow_up is not None
    try:
        control.follow_up()
    except SourceUnreachable as exc:
        log.warning("%s:%s: follow-up of %r failed: %s", source, instance, control.note, exc)
