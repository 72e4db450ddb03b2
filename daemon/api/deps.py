"""FastAPI dependencies: the services, a database session, and the authenticated caller."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
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
