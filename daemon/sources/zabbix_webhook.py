"""`POST /v1/webhooks/zabbix/{instance}`: what the slad media type sends.

Zabbix cannot send a bearer token, so the route is authenticated by the HMAC signature
over the raw body with the instance's shared secret, and nothing is parsed, looked up or
stored before it verifies. The detection instant is asked of the instance's API at once
(cached by the client); the answer is sent only after the event is committed to the
inbox (`202`; `?wait=true` waits for its correlation as `POST /v1/events` does).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from connectors.events import AlertEvent
from connectors.zabbix import (
    SIGNATURE_HEADER,
    MalformedWebhook,
    decode_body,
    parse_webhook,
    verify_signature,
)
from daemon.api.deps import NowDep, ServicesDep
from daemon.api.events import INGEST_RESPONSES, WaitQuery, ingest
from daemon.api.problems import Problem
from daemon.api.schemas import IngestOut
from daemon.services import Services
from daemon.sources.zabbix import ZabbixLink, ZabbixPoller

router = APIRouter(prefix="/v1/webhooks", tags=["ingest"])


def zabbix_links(services: Services) -> dict[str, ZabbixLink]:
    """The configured instances by name; their pollers are where the daemon keeps them."""
    return {
        p.link.instance.name: p.link
        for p in services.runtime.pollers
        if isinstance(p, ZabbixPoller)
    }


@router.post(
    "/zabbix/{instance}", status_code=202, response_model=IngestOut, responses=INGEST_RESPONSES
)
async def zabbix_webhook(
    instance: str, request: Request, svc: ServicesDep, now: NowDep, wait: WaitQuery = False
) -> JSONResponse:
    """One notification; 401 unless signed with the instance's secret."""
    link = zabbix_links(svc).get(instance)
    if link is None:
        raise Problem(404, "unknown-instance", f"no Zabbix instance {instance!r} is configured")
    body = await request.body()
    if not verify_signature(
        link.instance.webhook_secret, body, request.headers.get(SIGNATURE_HEADER)
    ):
        raise Problem(
            401,
            "bad-signature",
            f"the {SIGNATURE_HEADER} header is missing or does not match the body",
        )
    try:
        event: AlertEvent = await run_in_threadpool(
            parse_webhook, link.instance, decode_body(body), now, link.detected_at
        )
    except MalformedWebhook as exc:
        raise Problem(422, "malformed-webhook", str(exc)) from exc
    return await ingest(svc, [event], wait)
