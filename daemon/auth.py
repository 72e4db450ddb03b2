"""API tokens and roles.

Tokens are random and shown once; only their SHA-256 is stored, so a leaked database
does not leak credentials. Roles nest: `viewer` reads, `operator` also acts on
incidents and windows, `admin` also manages the registry, tokens and audit. `ingest`
may only post events. An admin token may do everything.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from daemon.store.models import ApiToken

ROLES = ("viewer", "operator", "admin", "ingest")
_RANK = {"viewer": 1, "operator": 2, "admin": 3}
TOKEN_PREFIX = "slad_"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the token's name (for audit) and role."""

    name: str
    role: str

    def may(self, required: str) -> bool:
        if self.role == "admin":
            return True
        if required == "ingest":
            return self.role == "ingest"
        return _RANK.get(self.role, 0) >= _RANK[required]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, name: str, role: str, now: datetime) -> str:
    """Store a new token's hash and return the token itself (the only time it is seen)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    if not name.strip():
        raise ValueError("a token needs a name")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiToken(name=name.strip(), role=role, token_hash=hash_token(token), created_at=now)
    )
    return token


def authenticate(session: Session, token: str) -> Principal | None:
    stmt = select(ApiToken).where(
        ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None)
    )
    row = session.scalar(stmt)
    return Principal(row.name, row.role) if row else None


class TokenCache:
    """Recently authenticated tokens, so a burst of requests costs one database lookup.

    Only known tokens are cached (unknown ones would let a client grow the cache), and
    each entry lives `ttl` seconds, so a revoked token stops working within that time.
    """

    def __init__(self, ttl: float = 10.0, timer: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._timer = timer
        self._entries: dict[str, tuple[Principal, float]] = {}
        self._lock = threading.Lock()

    def cached(self, token: str) -> Principal | None:
        """The principal of a recently authenticated token, without touching the store."""
        with self._lock:
            entry = self._entries.get(hash_token(token))
        return entry[0] if entry is not None and entry[1] > self._timer() else None

    def authenticate(self, sessions: sessionmaker[Session], token: str) -> Principal | None:
        cached = self.cached(token)
        if cached is not None:
            return cached
        key, now = hash_token(token), self._timer()
        with sessions() as session:
            principal = authenticate(session, token)
        if principal is not None:
            with self._lock:
                if len(self._entries) > 10_000:
                    self._entries.clear()
                self._entries[key] = (principal, now + self._ttl)
        return principal
