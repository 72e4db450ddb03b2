"""The console's plumbing: who is signed in, form bodies, CSRF, and the answers for a
request that cannot go on (sign in first, refused, not found)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import parse_qsl, quote

from fastapi import Depends, FastAPI, Request
from starlette.responses import RedirectResponse, Response

from daemon.api.deps import ServicesDep
from daemon.console import sessions
from daemon.console.render import page
from daemon.console.sessions import ConsoleUser
from daemon.services import Services

SESSION_COOKIE = "slad_console"
PREFIX = "/console"


class SignInNeeded(Exception):
    """No live session: pages send the browser to the sign-in page, fragments answer 401."""

    def __init__(self, fragment: bool) -> None:
        super().__init__("sign in first")
        self.fragment = fragment


class Refused(Exception):
    """A console request that is not done: `status` and the message key to show."""

    def __init__(self, status: int, key: str, detail: str = "") -> None:
        super().__init__(detail or key)
        self.status = status
        self.key = key
        self.detail = detail


def _user(request: Request, svc: Services, touch: bool) -> ConsoleUser:
    now = svc.clock()
    idle = timedelta(minutes=svc.config.console.idle_minutes)
    with svc.readers() as session:
        user = sessions.find_session(session, request.cookies.get(SESSION_COOKIE, ""), now, idle)
    if user is None:
        raise SignInNeeded(fragment=not touch)
    if touch and sessions.needs_touch(user, now):
        with svc.sessions.begin() as session:
            sessions.touch(session, user.session_id, now)
    return user


def signed_in(request: Request, svc: ServicesDep) -> ConsoleUser:
    """The signed-in user; the request counts as use of the session."""
    return _user(request, svc, touch=True)


def polling(request: Request, svc: ServicesDep) -> ConsoleUser:
    """The signed-in user of a background refresh, which does not keep the session open."""
    return _user(request, svc, touch=False)


User = Annotated[ConsoleUser, Depends(signed_in)]
Poller = Annotated[ConsoleUser, Depends(polling)]


async def form_fields(request: Request) -> dict[str, str]:
    """An `application/x-www-form-urlencoded` body (the last value of a repeated field)."""
    body = (await request.body()).decode("utf-8", errors="replace")
    return dict(parse_qsl(body, keep_blank_values=True))


Form = Annotated[dict[str, str], Depends(form_fields)]


def acting(role: str) -> Callable[[ConsoleUser, dict[str, str]], ConsoleUser]:
    """A dependency for a form post: the session's CSRF token must come with the form
    (403 otherwise), and the user's role must grant `role` (403)."""

    def check(user: User, form: Form) -> ConsoleUser:
        if not sessions.csrf_ok(user.csrf, form.get("csrf")):
            raise Refused(403, "error.csrf")
        if not user.may(role):
            raise Refused(403, "error.forbidden")
        return user

    return check


Acting = Annotated[ConsoleUser, Depends(acting("operator"))]
Posting = Annotated[ConsoleUser, Depends(acting("viewer"))]


def view(
    request: Request,
    svc: Services,
    user: ConsoleUser | None,
    template: str,
    status_code: int = 200,
    **context: Any,
) -> Response:
    """A page for `user` (or for nobody yet, on the sign-in page) in their language."""
    language = user.language if user else svc.config.console.language
    return page(
        template,
        language=language,
        zone=svc.config.calendar.timezone,
        status_code=status_code,
        user=user,
        path=request.url.path,
        poll_seconds=svc.config.console.poll_seconds,
        **context,
    )


def install_handlers(app: FastAPI) -> None:
    """Answer `SignInNeeded` and `Refused` as console pages."""

    @app.exception_handler(SignInNeeded)
    async def sign_in_needed(request: Request, exc: SignInNeeded) -> Response:
        if exc.fragment or request.method != "GET":
            return Response("sign in first", status_code=401, media_type="text/plain")
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"{PREFIX}/sign-in?next={quote(target, safe='')}", status_code=303)

    @app.exception_handler(Refused)
    def refused(request: Request, exc: Refused) -> Response:
        svc: Services = request.app.state.services
        user = None
        with contextlib.suppress(SignInNeeded):
            user = _user(request, svc, touch=False)
        return view(
            request,
            svc,
            user,
            "error.html",
            status_code=exc.status,
            message_key=exc.key,
            detail=exc.detail,
        )
