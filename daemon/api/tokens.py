"""API tokens over REST (admin): list them without their secrets, create one, revoke one.

A created token is shown in that answer only. Creating and revoking are audited. A
revoked token is refused by this replica at once (its cache entry is dropped) and by
the others within the token cache's bound (10 seconds).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Body, status
from pydantic import BaseModel, Field
from sqlalchemy import select

from daemon.api.deps import Admin, NowDep, ReaderDep, ServicesDep, SessionDep, StrictQuery
from daemon.api.problems import Problem, not_found, problem_responses
from daemon.api.schemas import Strict
from daemon.api.utc import Instant
from daemon.auth import TokenState, issue_token, revoke_token, token_audit, token_state
from daemon.store.models import ApiToken

router = APIRouter(prefix="/v1/tokens", tags=["tokens"], dependencies=[StrictQuery])


class TokenIn(Strict):
    name: str = Field(min_length=1, max_length=200, description="who or what uses it")
    role: Literal["viewer", "operator", "admin", "ingest"]
    expires_at: Instant | None = Field(default=None, description="refused from then on")


class RevokeIn(Strict):
    reason: str | None = Field(default=None, max_length=2000)


class TokenOut(BaseModel):
    id: int
    name: str
    role: str
    state: TokenState
    created_at: Instant
    expires_at: Instant | None
    revoked_at: Instant | None


class TokenCreatedOut(TokenOut):
    token: str = Field(description="the bearer token; shown in this answer only")


def token_out(row: ApiToken, now: datetime) -> TokenOut:
    return TokenOut(
        id=row.id,
        name=row.name,
        role=row.role,
        state=token_state(row, now),
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
    )


@router.get("", response_model=list[TokenOut])
def list_tokens(
    session: ReaderDep, _who: Admin, now: NowDep, state: TokenState | None = None
) -> list[TokenOut]:
    """Every token (never its secret), oldest first; `state` keeps one kind."""
    rows = [token_out(r, now) for r in session.scalars(select(ApiToken).order_by(ApiToken.id))]
    return [r for r in rows if state is None or r.state == state]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=TokenCreatedOut)
def create(body: TokenIn, session: SessionDep, who: Admin, now: NowDep) -> TokenCreatedOut:
    try:
        row, token = issue_token(session, body.name, body.role, now, body.expires_at)
    except ValueError as exc:
        raise Problem(422, "invalid-token", str(exc)) from exc
    token_audit(session, row, "token.create", who.name, now, None)
    return TokenCreatedOut(**token_out(row, now).model_dump(), token=token)


@router.post("/{token_id}/revoke", response_model=TokenOut, responses=problem_responses(409))
def revoke(
    token_id: int,
    session: SessionDep,
    svc: ServicesDep,
    who: Admin,
    now: NowDep,
    body: Annotated[RevokeIn | None, Body()] = None,
) -> TokenOut:
    """Revoke a token for good; its holder is refused from the next request on."""
    try:
        row = revoke_token(session, token_id, now)
    except LookupError as exc:
        raise not_found("token", token_id) from exc
    except ValueError as exc:
        raise Problem(409, "already-revoked", str(exc)) from exc
    token_audit(session, row, "token.revoke", who.name, now, body.reason if body else None)
    svc.tokens.forget(row.token_hash)
    return token_out(row, now)
