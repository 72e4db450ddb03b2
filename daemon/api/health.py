"""Liveness and readiness probes (no token needed)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from daemon.api.deps import ServicesDep
from daemon.api.problems import RETRY_AFTER, problem_response, problem_responses
from daemon.store.db import schema_is_current

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up and serving."""
    return {"status": "ok"}


@router.get("/readyz", response_model=None, responses=problem_responses(503))
def readyz(svc: ServicesDep) -> dict[str, str] | JSONResponse:
    """The database answers, its schema is the one this version needs, and the
    correlator runs (while it restarts, accepted events wait in the inbox)."""
    try:
        current = schema_is_current(svc.engine)
    except SQLAlchemyError as exc:
        return problem_response(
            503, "database-unreachable", f"database error: {exc.__class__.__name__}", RETRY_AFTER
        )
    if not current:
        return problem_response(503, "schema-outdated", "run `slad migrate` to upgrade the schema")
    if not svc.correlator.running:
        return problem_response(
            503,
            "correlator-down",
            "the correlator is restarting; accepted events wait in the inbox",
            RETRY_AFTER,
        )
    return {"status": "ready"}
