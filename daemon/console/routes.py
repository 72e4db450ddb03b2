"""Console pages: sign-in and out, the language, the board and its actions, and the
incident page with its clock strips. Actions go through the REST routes' own service
functions (`daemon.api.incidents.contact`, `.report`), so they are checked, recorded
and audited exactly as over the API."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from daemon.api import incidents
from daemon.api.deps import ServicesDep
from daemon.api.explain import explain_out
from daemon.api.problems import Problem
from daemon.api.schemas import ActionIn, IncidentDetail
from daemon.console import sessions
from daemon.console.board import board_rows
from daemon.console.i18n import LANGUAGES
from daemon.console.strip import layout
from daemon.console.web import (
    PREFIX,
    SESSION_COOKIE,
    Acting,
    Form,
    Poller,
    Posting,
    Refused,
    User,
    view,
)
from daemon.explain import explain_clock
from daemon.services import Services
from daemon.store.models import Customer, Resource

router = APIRouter(prefix=PREFIX, include_in_schema=False)

SIGN_IN_COOKIE = "slad_console_sign_in"
"""The sign-in form's own CSRF token (double-submitted: cookie and hidden field), as no
session exists yet to hold one."""

Action = Literal["contact", "report"]
ACTIONS: dict[str, tuple[Callable[..., IncidentDetail], str]] = {
    "contact": (incidents.contact, "contacted"),
    "report": (incidents.report, "reported"),
}


def _secure(request: Request, svc: Services) -> bool:
    return request.url.scheme == "https" or svc.config.console.secure_cookie


def safe_next(target: str | None, default: str = f"{PREFIX}/board") -> str:
    """A console path to go back to; anything else (another site) is refused."""
    if target and target.startswith(PREFIX + "/") and "//" not in target and "\\" not in target:
        return target
    return default


@router.get("")
def console_root() -> Response:
    return RedirectResponse(f"{PREFIX}/board", status_code=303)


@router.get("/sign-in")
def sign_in_form(request: Request, svc: ServicesDep, next: str | None = None) -> Response:
    token = secrets.token_urlsafe(32)
    response = view(
        request, svc, None, "sign_in.html", csrf=token, next=safe_next(next), error=None
    )
    response.set_cookie(
        SIGN_IN_COOKIE,
        token,
        max_age=3600,
        path=f"{PREFIX}/sign-in",
        httponly=True,
        samesite="strict",
        secure=_secure(request, svc),
    )
    return response


@router.post("/sign-in")
def sign_in(request: Request, svc: ServicesDep, form: Form) -> Response:
    expected = request.cookies.get(SIGN_IN_COOKIE, "")
    if not expected or not sessions.csrf_ok(expected, form.get("csrf")):
        raise Refused(403, "error.csrf")
    target = safe_next(form.get("next"))
    try:
        with svc.sessions.begin() as session:
            session_id, _row = sessions.open_session(
                session, form.get("token", ""), svc.config.console.language, svc.clock()
            )
    except sessions.SignInRefused as exc:
        return view(
            request,
            svc,
            None,
            "sign_in.html",
            status_code=401,
            csrf=expected,
            next=target,
            error=f"signin.{exc}",
        )
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=_secure(request, svc),
    )
    response.delete_cookie(SIGN_IN_COOKIE, path=f"{PREFIX}/sign-in")
    return response


@router.post("/sign-out")
def sign_out(svc: ServicesDep, user: Posting) -> Response:
    with svc.sessions.begin() as session:
        sessions.end_session(session, user, svc.clock())
    response = RedirectResponse(f"{PREFIX}/sign-in", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response


@router.post("/language")
def choose_language(svc: ServicesDep, user: Posting, form: Form) -> Response:
    language = form.get("language", "")
    if language not in LANGUAGES:
        raise Refused(422, "error.not_found", f"language {language!r}")
    with svc.sessions.begin() as session:
        sessions.set_language(session, user.session_id, language, svc.clock())
    return RedirectResponse(safe_next(form.get("back")), status_code=303)


@router.get("/board")
def board(
    request: Request,
    svc: ServicesDep,
    user: User,
    done: Literal["contacted", "reported"] | None = None,
    incident: int | None = None,
) -> Response:
    now = svc.clock()
    with svc.readers() as session:
        rows = board_rows(session, now, svc.horizon)
    return view(
        request, svc, user, "board.html", rows=rows, now=now, done=done, done_incident=incident
    )


@router.get("/board/rows")
def board_fragment(request: Request, svc: ServicesDep, user: Poller) -> Response:
    """The board's rows alone, for the page's periodic refresh."""
    now = svc.clock()
    with svc.readers() as session:
        rows = board_rows(session, now, svc.horizon)
    return view(request, svc, user, "board_rows.html", rows=rows, now=now)


def parse_local(text: str, zone: ZoneInfo) -> datetime | None:
    """A form's `datetime-local` value (`2026-11-24T10:00`, read in `zone`), or an
    RFC 3339 instant with its offset; empty means now."""
    text = text.strip()
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise Refused(422, "error.bad_instant", text) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=zone)


def zone_offset_minutes(zone: ZoneInfo, at: datetime) -> int:
    """How far `zone` is ahead of UTC at `at`, for the page to read a local time."""
    offset = at.astimezone(zone).utcoffset()
    return int(offset.total_seconds() // 60) if offset else 0


def _incident_heading(session: Session, incident_id: int) -> dict[str, object]:
    try:
        incident = incidents.load_incident(session, incident_id)
    except Problem:
        raise Refused(404, "error.not_found", f"incident {incident_id}") from None
    customer = session.get(Customer, incident.customer_id)
    resource = session.get(Resource, incident.resource_id)
    return {
        "id": incident.id,
        "title": incident.title,
        "severity": incident.severity,
        "status": incident.status,
        "plan": incident.plan,
        "customer": customer.name if customer else str(incident.customer_id),
        "resource": resource.name if resource else str(incident.resource_id),
        "detected_at": incident.detected_at,
    }


def _confirm_page(
    request: Request,
    svc: Services,
    user: sessions.ConsoleUser,
    incident_id: int,
    action: str,
    back: str,
    *,
    status_code: int = 200,
    error: str | None = None,
    error_key: str | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    with svc.readers() as session:
        heading = _incident_heading(session, incident_id)
    return view(
        request,
        svc,
        user,
        "confirm.html",
        status_code=status_code,
        incident=heading,
        action=action,
        done=ACTIONS[action][1],
        back=back,
        error=error,
        error_key=error_key,
        values=values or {},
        tolerance=svc.config.server.past_tolerance_seconds,
        zone_offset=zone_offset_minutes(svc.config.calendar.timezone, svc.clock()),
    )


@router.get("/incidents/{incident_id}/{action}")
def confirm_action(
    incident_id: int,
    action: Action,
    request: Request,
    svc: ServicesDep,
    user: User,
    back: Literal["board", "incident"] = "board",
) -> Response:
    """The confirmation of an action, with its instant, reason and note."""
    if not user.may("operator"):
        raise Refused(403, "error.forbidden")
    return _confirm_page(request, svc, user, incident_id, action, back)


@router.post("/incidents/{incident_id}/{action}")
def do_action(
    incident_id: int, action: Action, request: Request, svc: ServicesDep, user: Acting, form: Form
) -> Response:
    """Record the contact or the report, as `POST /v1/incidents/{id}/contact|report`."""
    back = "incident" if form.get("back") == "incident" else "board"
    values = {k: form.get(k, "") for k in ("at", "reason", "note")}

    def again(status: int, error: str | None, key: str | None = None) -> Response:
        return _confirm_page(
            request,
            svc,
            user,
            incident_id,
            action,
            back,
            status_code=status,
            error=error,
            error_key=key,
            values=values,
        )

    try:
        at = parse_local(values["at"], svc.config.calendar.timezone)
    except Refused as exc:
        return again(exc.status, exc.detail, exc.key)
    try:
        body = ActionIn(at=at, reason=values["reason"] or None, note=values["note"] or None)
    except ValidationError as exc:
        return again(422, "; ".join(str(e["msg"]) for e in exc.errors()))
    act, done = ACTIONS[action]
    now = svc.clock()
    try:
        with svc.sessions.begin() as session:
            act(session, svc, incident_id, body, user.principal.name, now)
    except Problem as problem:
        if problem.status == 404:
            raise Refused(404, "error.not_found", problem.detail) from None
        return again(problem.status, problem.detail, f"problem.{problem.slug}")
    if back == "incident":
        target = f"{PREFIX}/incidents/{incident_id}?done={done}"
    else:
        target = f"{PREFIX}/board?done={done}&incident={incident_id}"
    return RedirectResponse(target, status_code=303)


@router.get("/incidents/{incident_id}")
def incident_page(
    incident_id: int,
    request: Request,
    svc: ServicesDep,
    user: User,
    done: Literal["contacted", "reported"] | None = None,
) -> Response:
    """Alerts, timeline and a clock strip per clock (from the explain data)."""
    now = svc.clock()
    with svc.readers() as session:
        heading = _incident_heading(session, incident_id)
        incident = incidents.load_incident(session, incident_id)
        info = incidents.detail(session, svc, incident, now)
        clocks = []
        for policy in incident.policy:
            explained = explain_out(
                incident.id,
                explain_clock(session, incident, str(policy["name"]), now, svc.horizon),
                now,
            )
            clocks.append({"explained": explained, "strip": layout(explained)})
    return view(
        request,
        svc,
        user,
        "incident.html",
        incident=heading,
        info=info,
        clocks=clocks,
        now=now,
        done=done,
    )
