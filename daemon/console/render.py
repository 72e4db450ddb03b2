"""Rendering: the Jinja2 templates shipped with slad, and how instants read.

Instants show in the business calendar's zone (Asia/Tokyo) with the UTC instant on
hover (`title`) and in `datetime`, so what the page shows can be checked against the
API, which answers in UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape
from starlette.responses import HTMLResponse

from daemon.console.i18n import translator
from daemon.owed import format_left

_ENV = Environment(
    loader=PackageLoader("daemon.console", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def utc_text(at: datetime) -> str:
    return f"{at.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"


def instant(at: datetime | None, zone: ZoneInfo, with_seconds: bool = False) -> Markup:
    """`<time>` in `zone`, its UTC instant in `datetime` and `title`."""
    if at is None:
        return Markup("—")
    local = at.astimezone(zone)
    shown = local.strftime("%Y-%m-%d %H:%M:%S" if with_seconds else "%Y-%m-%d %H:%M")
    utc = utc_text(at)
    zone_name = escape(local.tzname() or "")
    return Markup(f'<time datetime="{utc}" title="{utc} (UTC)">{escape(shown)} {zone_name}</time>')


def detail_text(value: object, zone: ZoneInfo) -> Markup:
    """A timeline entry's detail value for people: instants (RFC 3339 text, as stored)
    as `<time>` in `zone`, lists and tables spelled out, nothing shown as `None`."""
    if value is None:
        return Markup("—")
    if isinstance(value, str):
        try:
            at = datetime.fromisoformat(value)
        except ValueError:
            return escape(value)
        return instant(at, zone, True) if at.tzinfo is not None and "T" in value else escape(value)
    if isinstance(value, dict):
        return Markup("; ").join(
            Markup("{}: {}").format(key, detail_text(item, zone)) for key, item in value.items()
        )
    if isinstance(value, list):
        return Markup("[{}]").format(Markup(", ").join(detail_text(item, zone) for item in value))
    return escape(str(value))


def page(
    template: str,
    *,
    language: str,
    zone: ZoneInfo,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """Render `template` in `language`; every page gets `t`, `instant` and `left`."""
    html = _ENV.get_template(template).render(
        t=translator(language),
        lang=language,
        instant=lambda at, seconds=False: instant(at, zone, seconds),
        left=format_left,
        utc=utc_text,
        zone=zone,
        detail_text=lambda value: detail_text(value, zone),
        **context,
    )
    return HTMLResponse(
        html,
        status_code=status_code,
        headers={
            "Cache-Control": "no-store",
            "Content-Security-Policy": (
                "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                "script-src 'self'; frame-ancestors 'none'; form-action 'self'"
            ),
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
            **(headers or {}),
        },
    )
