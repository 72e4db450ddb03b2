"""Mount the console on the app: its pages, its static assets and its error pages."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from daemon.console import pages, routes
from daemon.console.web import PREFIX, install_handlers

STATIC = Path(__file__).resolve().parent / "static"


def install(app: FastAPI) -> None:
    """The console under `/console`, out of the OpenAPI document (it is not the API)."""
    app.include_router(routes.router)
    app.include_router(pages.router)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=STATIC), name="console-static")
    install_handlers(app)
