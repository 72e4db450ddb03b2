"""The app factory: wires services, routers, error handling and the body-size limit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic.json_schema import models_json_schema
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from daemon.api import (
    charges,
    customer_reports,
    docs,
    events,
    explain,
    health,
    incidents,
    notices,
    outbox,
    problems,
    registry,
    reports,
    requests,
    sources,
    tokens,
    window_changes,
    windows,
)
from daemon.api.documented import document_problems
from daemon.api.problems import ProblemOut, problem_response
from daemon.console import app as console
from daemon.metrics import IngestTimer, metrics_router
from daemon.services import Services
from daemon.sources.webhooks import webhook_router


class BodySizeLimit:
    """Answer 413 before the app sees a body over `limit` bytes, declared or streamed.

    A declared Content-Length is checked up front; a streamed body is read (at most
    `limit` + 1 bytes are held) and replayed to the app only when it fits.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None:
            if declared.isdigit() and int(declared) > self.limit:
                await self._reject(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._reject(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            413, "payload-too-large", f"the request body exceeds {self.limit} bytes"
        )
        await response(scope, receive, send)


def create_app(services: Services) -> FastAPI:
    """A FastAPI app bound to `services`; starting it starts the ingest writer."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        services.start()
        try:
            yield
        finally:
            services.stop()

    app = FastAPI(
        title="slad",
        summary="Alert-to-incident SLA daemon",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.services = services
    problems.install(app)
    charges.install(app)
    for module in (
        health,
        events,
        registry,
        incidents,
        explain,
        windows,
        requests,
        reports,
        customer_reports,
        outbox,
        sources,
        charges,
        tokens,
        window_changes,
    ):
        app.include_router(module.router)
    app.include_router(notices.router)
    app.include_router(webhook_router(list(services.sources.connectors.values())))
    app.include_router(metrics_router(services.metrics))
    app.add_middleware(IngestTimer, metrics=services.metrics)
    app.add_middleware(BodySizeLimit, limit=services.config.server.max_body_bytes)
    install_openapi(app)
    docs.install(app)
    console.install(app)
    return app


def install_openapi(app: FastAPI) -> None:
    """FastAPI's schema, plus the request models of routes that validate bodies
    themselves (`POST /v1/events`), which FastAPI cannot see, and every error status
    each route answers (`documented`)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, summary=app.summary, routes=app.routes
            )
            _, defs = models_json_schema(
                [
                    *((model, "validation") for model in events.REQUEST_MODELS),
                    (ProblemOut, "serialization"),
                ],
                ref_template="#/components/schemas/{model}",
            )
            schema.setdefault("components", {}).setdefault("schemas", {}).update(
                defs.get("$defs", {})
            )
            document_problems(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
