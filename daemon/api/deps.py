"""FastAPI dependencies: the services, a database session, and the authenticated caller."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from daemon.api.problems import Problem
from daemon.auth import Principal
from daemon.services import Services

_bearer = HTTPBearer(auto_error=False)
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


async def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


ServicesDep = Annotated[Services, Depends(services)]


def db_session(svc: ServicesDep) -> Iterator[Session]:
    """A session whose transaction commits when the route returns without error.

    Its scope is the route function, not the request: the commit runs once the route has
    built its answer and before a byte of it is sent, so a 2xx means the change is
    durable and a GET right after sees it, and a commit that fails answers an error
    (`problems.install`: 503 when the database is unavailable) instead of a 2xx for a
    change that was lost. Request scope would commit after the answer was sent.
    """
    with svc.sessions.begin() as session:
        yield session


SessionDep = Annotated[Session, Depends(db_session, scope="function")]


def read_session(svc: ServicesDep) -> Iterator[Session]:
    """A read-only session for routes that only read (`read_only_sessions`): on SQLite
    an operator's query neither waits for an alert storm's commits nor holds them up,
    and a route that tried to write through it would fail at once."""
    with svc.readers() as session:
        yield session


ReaderDep = Annotated[Session, Depends(read_session)]


async def now(svc: ServicesDep) -> datetime:
    return svc.clock()


NowDep = Annotated[datetime, Depends(now)]


async def authorize(svc: Services, authorization: str | None, role: str) -> Principal:
    """The caller behind an `Authorization` header, if its token grants `role`.

    A coroutine, so a request does not hop to the thread pool for it; only a token
    not seen in the last seconds costs a database lookup (`TokenCache`).
    """
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(401, "unauthorized", "a bearer token is required", _CHALLENGE)
    token = token.strip()
    principal = await svc.tokens.principal(svc.readers, token)
    if principal is None:
        raise Problem(401, "unauthorized", "the bearer token is unknown or revoked", _CHALLENGE)
    if principal.expired(svc.clock()):
        assert principal.expires_at is not None
        raise Problem(
            401,
            "unauthorized",
            f"the bearer token expired at {principal.expires_at:%Y-%m-%dT%H:%M:%SZ}",
            _CHALLENGE,
        )
    if not principal.may(role):
        raise Problem(
            403, "forbidden", f"role {principal.role!r} may not do this; it needs {role!r}"
        )
    return principal


def requires(role: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency that admits callers whose token grants `role`."""

    async def check(
        svc: ServicesDep,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        header = None if credentials is None else f"{credentials.scheme} {credentials.credentials}"
        return await authorize(svc, header, role)

    return check


Viewer = Annotated[Principal, Depends(requires("viewer"))]
Operator = Annotated[Principal, Depends(requires("operator"))]
Admin = Annotated[Principal, Depends(requires("admin"))]


def check_query(request: Request, known: frozenset[str]) -> None:
    """Refuse query parameters outside `known`: a misspelt filter would otherwise be
    ignored, and the answer would look as if it had matched."""
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        takes = ", ".join(sorted(known)) or "no query parameters"
        raise RequestValidationError(
            [
                {
                    "loc": ("query", name),
                    "msg": f"unknown query parameter; this route takes {takes}",
                    "type": "extra_forbidden",
                    "input": request.query_params[name],
                }
                for name in unknown
            ]
        )


def _query_names(dependant: Dependant) -> frozenset[str]:
    """The query parameters `dependant` and its sub-dependencies take."""
    names = frozenset(param.alias for param in dependant.query_params)
    return names.union(*(_query_names(sub) for sub in dependant.dependencies))


def strict_query(request: Request) -> None:
    """Refuse query parameters the route's signature does not take."""
    route = request.scope.get("route")
    check_query(
        request, _query_names(route.dependant) if isinstance(route, APIRoute) else frozenset()
    )


StrictQuery = Depends(strict_query)
"""A route or router dependency: unknown query parameters are a 422, not ignored."""
