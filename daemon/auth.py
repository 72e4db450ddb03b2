"""API tokens and roles.

Tokens are random and shown once; only their SHA-256 is stored, so a leaked database
does not leak credentials. A token may expire (`expires_at`) and may be revoked; either
way it is refused from then on (a revoked one within the cache's bound, see
`TokenCache`). Creating and revoking are audited by their callers (`token_audit`).
Roles nest: `viewer` reads, `operator` also acts on incidents and windows, `admin` also
manages the registry, tokens and audit. `ingest` may only post events. An admin token
may do everything.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from daemon import audit
from daemon.store.models import ApiToken

log = logging.getLogger("slad.auth")

ROLES = ("viewer", "operator", "admin", "ingest")
TokenState = Literal["active", "expired", "revoked"]
_RANK = {"viewer": 1, "operator": 2, "admin": 3}
TOKEN_PREFIX = "slad_"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the token's name (for audit) and role, and when it expires."""

    name: str
    role: str
    expires_at: datetime | None = None

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def may(self, required: str) -> bool:
        if self.role == "admin":
            return True
        if required == "ingest":
            return self.role == "ingest"
        return _RANK.get(self.role, 0) >= _RANK[required]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(
    session: Session, name: str, role: str, now: datetime, expires_at: datetime | None = None
) -> tuple[ApiToken, str]:
    """Store a new token's hash; its row and the token itself (the only time it is seen)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    if not name.strip():
        raise ValueError("a token needs a name")
    if expires_at is not None and expires_at <= now:
        raise ValueError(f"expiry {expires_at.isoformat()} is not in the future")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        name=name.strip(),
        role=role,
        token_hash=hash_token(token),
        created_at=now,
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    return row, token


def create_token(
    session: Session, name: str, role: str, now: datetime, expires_at: datetime | None = None
) -> str:
    """`issue_token` for callers that need only the token."""
    return issue_token(session, name, role, now, expires_at)[1]


def revoke_token(session: Session, token_id: int, now: datetime) -> ApiToken:
    """Mark a token revoked at `now`; LookupError if there is none, ValueError if it was
    revoked already (its first revocation stands)."""
    row = session.get(ApiToken, token_id)
    if row is None:
        raise LookupError(f"there is no token {token_id}")
    if row.revoked_at is not None:
        when = f"{row.revoked_at:%Y-%m-%dT%H:%M:%SZ}"
        raise ValueError(f"token {token_id} ({row.name}) was revoked at {when}")
    row.revoked_at = now
    return row


def token_state(row: ApiToken, now: datetime) -> TokenState:
    """`revoked`, `expired` or `active`."""
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at is not None and row.expires_at <= now:
        return "expired"
    return "active"


def token_audit(
    session: Session, row: ApiToken, action: str, actor: str, now: datetime, reason: str | None
) -> None:
    """Audit a token's creation or revocation: which token, its role and its expiry."""
    detail: dict[str, Any] = {
        "name": row.name,
        "role": row.role,
        "expires_at": row.expires_at.isoformat() if row.expires_at else None,
    }
    audit.record(
        session,
        at=now,
        actor=actor,
        action=action,
        target_type="token",
        target_id=row.id,
        reason=reason,
        detail=detail,
    )


def authenticate(session: Session, token: str) -> Principal | None:
    """The principal of a token that exists and is not revoked (expired or not: whether
    it has expired is judged at each request, against the daemon's clock)."""
    stmt = select(ApiToken).where(
        ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None)
    )
    row = session.scalar(stmt)
    return Principal(row.name, row.role, row.expires_at) if row else None


@dataclass(frozen=True, slots=True)
class _Entry:
    """A cached token: its principal, when to re-check it and when to stop trusting it."""

    principal: Principal
    renew: float
    expires: float


class TokenCache:
    """Recently authenticated tokens, so requests do not wait for the store.

    An entry is trusted for `ttl` seconds, so a revoked token stops working within that
    time. Once an entry is half that old, the first request that uses it starts one
    re-check in the background and every request is still answered from the entry: a
    busy sender never finds its token expired and never waits for a lookup (which, on
    SQLite, may queue behind an alert storm's writes). A token not in the cache is looked
    up once however many requests carry it at that moment: they all wait for the same
    lookup. Only known tokens are cached (unknown ones would let a client grow the
    cache); an unknown token costs a lookup per request. Lookups run on `lookups`
    (four threads of the cache's own by default).
    """

    def __init__(
        self,
        ttl: float = 10.0,
        timer: Callable[[], float] = time.monotonic,
        lookups: Executor | None = None,
    ) -> None:
        self._ttl = ttl
        self._timer = timer
        self._entries: dict[str, _Entry] = {}
        self._pending: dict[str, Future[Principal | None]] = {}
        self._lock = threading.Lock()
        self._lookups = lookups or ThreadPoolExecutor(4, thread_name_prefix="slad-token")

    async def principal(self, sessions: Callable[[], Session], token: str) -> Principal | None:
        """Who `token` belongs to (`None`: unknown or revoked), from the cache when it can."""
        key, now = hash_token(token), self._timer()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and now < entry.expires:
                if now >= entry.renew and key not in self._pending:
                    self._look_up(key, sessions, token)
                return entry.principal
            lookup = self._pending.get(key) or self._look_up(key, sessions, token)
        # Shielded: a caller that goes away must not cancel the lookup others wait for.
        return await asyncio.shield(asyncio.wrap_future(lookup))

    def forget(self, token_hash: str) -> None:
        """Drop a token from the cache (it was revoked here): its next use is looked up."""
        with self._lock:
            self._entries.pop(token_hash, None)

    def _look_up(
        self, key: str, sessions: Callable[[], Session], token: str
    ) -> Future[Principal | None]:
        """Start the one lookup of `key` (the caller holds the lock)."""
        lookup = self._lookups.submit(self._load, key, sessions, token)
        self._pending[key] = lookup
        return lookup

    def _load(self, key: str, sessions: Callable[[], Session], token: str) -> Principal | None:
        began = self._timer()
        try:
            with sessions() as session:
                principal = authenticate(session, token)
        except Exception:
            log.warning("could not look up an API token", exc_info=True)
            with self._lock:
                del self._pending[key]
            raise
        with self._lock:
            del self._pending[key]
            if principal is None:
                self._entries.pop(key, None)
            else:
                if len(self._entries) > 10_000:
                    self._entries.clear()
                self._entries[key] = _Entry(principal, began + self._ttl / 2, began + self._ttl)
        return principal
