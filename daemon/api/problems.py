"""RFC 9457 problem+json errors with stable `type` URIs.

Every error slad answers has a `type` of the form ``urn:slad:problem:<slug>`` that
clients can switch on, a human `title`, the HTTP `status` and a `detail` sentence.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from daemon.api.invalid import readable
from daemon.store.db import unavailable

MEDIA_TYPE = "application/problem+json"
RETRY_AFTER_SECONDS = 2  # what a 503 asks clients to wait: a database restart takes seconds
RETRY_AFTER = {"Retry-After": str(RETRY_AFTER_SECONDS)}

log = logging.getLogger("slad.api")

_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    500: "Internal server error",
    503: "Service unavailable",
}


STATUS_MEANINGS = {
    401: "No bearer token, or one that is unknown, revoked or expired.",
    403: "The token's role may not do this.",
    404: "What the path names does not exist.",
    409: "The request conflicts with the current state of what it names.",
    413: "The request body exceeds `server.max_body_bytes`.",
    422: "The request is malformed or refers to something that does not exist; "
    "`errors` names each field.",
    503: "The database is unavailable; nothing was stored. Retry after `Retry-After` s.",
}


class FieldErrorOut(BaseModel):
    """One refused field of a validation problem."""

    field: str
    message: str
    type: str
    loc: list[str | int]


class ProblemOut(BaseModel):
    """An RFC 9457 problem, as every error slad answers is (`application/problem+json`).

    Some problems carry more members than these (`errors` of a validation problem, the
    conflicting ids of a refused change); clients switch on `type`.
    """

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldErrorOut] | None = None


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entries of the error statuses a route answers, for its
    OpenAPI document (`app.install_openapi` gives them the problem+json media type)."""
    return {
        status: {"model": ProblemOut, "description": STATUS_MEANINGS.get(status, _TITLES[status])}
        for status in statuses
    }


class Problem(Exception):
    """Raise anywhere in a request to answer with a problem+json body."""

    def __init__(
        self,
        status: int,
        slug: str,
        detail: str,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.detail = detail
        self.headers = headers
        self.extra = extra


def problem_response(
    status: int, slug: str, detail: str, headers: Mapping[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"urn:slad:problem:{slug}",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def database_unavailable(detail: str) -> JSONResponse:
    """503 with `Retry-After`: the request did nothing durable and may be sent again."""
    return problem_response(503, "database-unavailable", detail, RETRY_AFTER)


def not_found(what: str, ident: object) -> Problem:
    return Problem(404, "not-found", f"{what} {ident} does not exist")


def unreadable_body(cause: BaseException) -> JSONResponse:
    """422 for a JSON body FastAPI could not read (it answers 400 for that): bytes that
    are not UTF-8, or nesting deeper than the parser goes. Like any other body that is
    not JSON it is a validation problem naming the body."""
    if isinstance(cause, UnicodeDecodeError):
        message = "is not valid JSON: it is not UTF-8 text"
    elif isinstance(cause, RecursionError):
        message = "is not valid JSON that slad reads: it is nested too deeply"
    else:
        message = "is not valid JSON"
    error = {"field": "body", "message": message, "type": "json_invalid", "loc": ["body"]}
    return problem_response(422, "validation-error", f"body: {message}", errors=[error])


def unknown_reference(field: str, what: str, ident: object) -> Problem:
    """422 for a body naming a row that does not exist: the request is wrong, not its
    path, so it is not the 404 of a path naming nothing."""
    return Problem(
        422,
        f"unknown-{what}",
        f"{field}: {what} {ident} does not exist",
        errors=[
            {"field": field, "message": "does not exist", "type": "unknown", "loc": ["body", field]}
        ],
    )


def install(app: FastAPI) -> None:
    """Route every error the app can raise through problem+json."""

    @app.exception_handler(Problem)
    async def _problem(_request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc.status, exc.slug, exc.detail, exc.headers, **exc.extra)

    @app.exception_handler(SQLAlchemyError)
    async def _database(request: Request, exc: SQLAlchemyError) -> JSONResponse:
        # Raised by a route, the token lookup, the inbox or the commit of a write route
        # (`deps.db_session` commits before the answer): nothing of the request is stored.
        if unavailable(exc):
            log.warning(
                "database unavailable during %s %s: %s",
                request.method,
                request.url.path,
                exc.__class__.__name__,
            )
            return database_unavailable(
                f"the database is unavailable ({exc.__class__.__name__});"
                f" retry in {RETRY_AFTER_SECONDS} s"
            )
        log.error("database error during %s %s", request.method, request.url.path, exc_info=exc)
        return problem_response(500, "database-error", "the database refused the request")

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        detail, errors = readable(exc.errors())
        return problem_response(422, "validation-error", detail, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.__cause__ is not None:
            return unreadable_body(exc.__cause__)
        slug = {
            401: "unauthorized",
            403: "forbidden",
            404: "not-found",
            405: "method-not-allowed",
        }.get(exc.status_code, "http-error")
        return problem_response(exc.status_code, slug, str(exc.detail), headers=exc.headers)
