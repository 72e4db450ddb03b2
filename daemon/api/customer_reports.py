"""`GET /v1/reports/sla/customers/{customer_id}`: one customer's month as JSON, CSV,
printable HTML or PDF, in the customer's language (`docs/reports.md`).

It reads what the monthly SLA report reads (`viewer`): incidents, clocks, windows,
provider notices and the support clocks' figures, never what customers wrote.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query
from fastapi.responses import Response

from daemon.api.deps import NowDep, ReaderDep, ServicesDep, StrictQuery, Viewer
from daemon.api.problems import Problem, not_found
from daemon.api.types import Id
from daemon.customer_report.build import build_report
from daemon.customer_report.model import CustomerReport
from daemon.customer_report.negotiate import NotAcceptable, choose_format
from daemon.customer_report.render import MEDIA_TYPES, Format, render
from daemon.store.models import Customer

router = APIRouter(prefix="/v1", tags=["reports"], dependencies=[StrictQuery])

_OTHER_FORMATS = {
    "text/csv": {"schema": {"type": "string"}},
    "text/html": {"schema": {"type": "string"}},
    "application/pdf": {"schema": {"type": "string", "format": "binary"}},
}


@router.get(
    "/reports/sla/customers/{customer_id}",
    response_model=CustomerReport,
    responses={
        200: {"content": _OTHER_FORMATS, "description": "The report in the format asked for."},
        404: {"description": "No such customer."},
        406: {"description": "The Accept header admits none of the formats."},
        422: {"description": "The month is not YYYY-MM."},
    },
)
def customer_report(
    customer_id: Id,
    session: ReaderDep,
    svc: ServicesDep,
    _who: Viewer,
    now: NowDep,
    month: Annotated[str, Query(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM, Asia/Tokyo")],
    fmt: Annotated[
        Format | None,
        Query(alias="format", description="Wins over the Accept header; default JSON."),
    ] = None,
    accept: Annotated[str | None, Header()] = None,
) -> Response:
    """Each incident detected in the month with its clocks, targets, outcome and excluded
    time (with the windows and reasons behind it), the support requests received in it,
    compliance per clock, and the provider notices that touched the customer. The format
    is `?format=json|csv|html|pdf`, else the best match of `Accept` (`application/json`,
    `text/csv`, `text/html`, `application/pdf`), else JSON."""
    try:
        chosen = choose_format(fmt, accept)
    except NotAcceptable:
        raise Problem(
            406,
            "not-acceptable",
            "Accept admits none of application/json, text/csv, text/html, application/pdf;"
            " or ask with ?format=json|csv|html|pdf",
        ) from None
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise not_found("customer", customer_id)
    try:
        report = build_report(session, customer, month, svc.config.calendar, now, svc.horizon)
    except ValueError as exc:
        raise Problem(422, "invalid-month", f"month: {exc}") from exc
    return Response(
        render(report, chosen),
        media_type=MEDIA_TYPES[chosen],
        headers={"Vary": "Accept", **_disposition(customer_id, month, chosen)},
    )


def _disposition(customer_id: int, month: str, fmt: Format) -> dict[str, str]:
    """A file name for what is saved; CSV downloads, the PDF opens in the browser."""
    if fmt in ("json", "html"):
        return {}
    kind = "attachment" if fmt == "csv" else "inline"
    return {"Content-Disposition": f'{kind}; filename="sla-{customer_id}-{month}.{fmt}"'}
