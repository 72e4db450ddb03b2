"""The app factory: wires services, routers, error handling and the body-size limit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from daemon.api import events, health, incidents, problems, registry, reports, requests, windows
from daemon.api.problems import problem_response
from daemon.services import Services


class _TooLarge(Exception):
    pass


class BodySizeLimit:
    """Answer 413 before the app sees a body over `limit` bytes, declared or streamed."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await self._reject(scope, receive, send)
                return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._reject(scope, receive, send)

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
    )
    app.state.services = services
    problems.install(app)
    for module in (health, events, registry, incidents, windows, requests, reports):
        app.include_router(module.router)
    app.add_middleware(BodySizeLimit, limit=services.config.server.max_body_bytes)
    return app
