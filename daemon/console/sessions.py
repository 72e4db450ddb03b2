"""Console sessions: signing in with an API token opens a server-side session.

The browser holds only a random session id in an HttpOnly, SameSite=Strict cookie; the
store keeps its SHA-256, so a leaked database opens no session. A session acts with its
token's name and role, and ends when signed out, when unused for the configured idle
time, or as soon as its token is revoked or expires: it never outlives the credential
it was opened with. Each session has a synchroniser token that every form carries
(`csrf_ok`), so another site cannot make a signed-in browser act.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from daemon import audit
from daemon.auth import Principal, hash_token, token_state
from daemon.store.models import ApiToken, ConsoleSession

TOUCH_EVERY = timedelta(seconds=60)
"""How stale `last_seen_at` may get before a request writes it again: idle expiry is
that precise, and a busy console does not write on every page."""


class SignInRefused(ValueError):
    """The token cannot open a console session; the message says why."""


@dataclass(frozen=True, slots=True)
class ConsoleUser:
    """A live session: who acts (the token's name and role), its forms' CSRF token and
    its language."""

    session_id: int
    principal: Principal
    csrf: str
    language: str
    last_seen_at: datetime

    def may(self, role: str) -> bool:
        return self.principal.may(role)


def open_session(
    session: Session, token: str, language: str, now: datetime
) -> tuple[str, ConsoleSession]:
    """A new session for `token` (the session id to put in the cookie, and its row);
    audited as a sign-in by the token's name. Raises SignInRefused for an unknown,
    revoked or expired token, or one with no console role (`ingest`)."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token.strip())))
    if row is None:
        raise SignInRefused("unknown-token")
    state = token_state(row, now)
    if state != "active":
        raise SignInRefused(f"{state}-token")
    if not Principal(row.name, row.role).may("viewer"):
        raise SignInRefused("ingest-token")
    session_id = secrets.token_urlsafe(32)
    opened = ConsoleSession(
        session_hash=hash_token(session_id),
        token_id=row.id,
        csrf_token=secrets.token_urlsafe(32),
        language=language,
        created_at=now,
        last_seen_at=now,
    )
    session.add(opened)
    session.flush()
    audit.record(
        session,
        at=now,
        actor=row.name,
        action="console.sign_in",
        target_type="console_session",
        target_id=opened.id,
        detail={"token_id": row.id, "role": row.role},
    )
    return session_id, opened


def find_session(
    session: Session, session_id: str, now: datetime, idle: timedelta
) -> ConsoleUser | None:
    """The live session behind a cookie's `session_id`, or None: unknown, signed out,
    idle for `idle` or longer, or its token revoked or expired."""
    if not session_id:
        return None
    row = session.scalar(
        select(ConsoleSession).where(
            ConsoleSession.session_hash == hash_token(session_id),
            ConsoleSession.ended_at.is_(None),
        )
    )
    if row is None or now - row.last_seen_at >= idle:
        return None
    token = row.token
    if token_state(token, now) != "active":
        return None
    return ConsoleUser(
        session_id=row.id,
        principal=Principal(token.name, token.role, token.expires_at),
        csrf=row.csrf_token,
        language=row.language,
        last_seen_at=row.last_seen_at,
    )


def needs_touch(user: ConsoleUser, now: datetime) -> bool:
    return now - user.last_seen_at >= TOUCH_EVERY


def touch(session: Session, session_id: int, now: datetime) -> None:
    """Record use of the session at `now` (it then stays open `idle` longer)."""
    session.execute(
        update(ConsoleSession).where(ConsoleSession.id == session_id).values(last_seen_at=now)
    )


def set_language(session: Session, session_id: int, language: str, now: datetime) -> None:
    session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.id == session_id)
        .values(language=language, last_seen_at=now)
    )


def end_session(session: Session, user: ConsoleUser, now: datetime) -> None:
    """Sign out: the session id stops working at once; audited."""
    session.execute(
        update(ConsoleSession).where(ConsoleSession.id == user.session_id).values(ended_at=now)
    )
    audit.record(
        session,
        at=now,
        actor=user.principal.name,
        action="console.sign_out",
        target_type="console_session",
        target_id=user.session_id,
    )


def csrf_ok(expected: str, given: str | None) -> bool:
    """Whether a form's token is the session's (compared in constant time)."""
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())
