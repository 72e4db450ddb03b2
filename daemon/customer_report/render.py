"""Write a `CustomerReport` in one of its formats, in the customer's language.

JSON is the API's value (instants in UTC); CSV, HTML and PDF are for people and show
instants in the calendar's zone. The HTML page is a Jinja2 template with its print
stylesheet inline and no external assets, so it prints and archives as it is.
"""

from __future__ import annotations

from typing import Literal
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from daemon.customer_report.csv_out import render_csv
from daemon.customer_report.labels import Words
from daemon.customer_report.model import CustomerReport

Format = Literal["json", "csv", "html", "pdf"]
MEDIA_TYPES: dict[Format, str] = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
}

_TEMPLATES = Environment(
    loader=PackageLoader("daemon", "templates/reports"),
    autoescape=select_autoescape(["html", "j2"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def words_for(report: CustomerReport) -> Words:
    return Words(report.customer.locale, ZoneInfo(report.timezone))


def render(report: CustomerReport, fmt: Format) -> bytes:
    if fmt == "json":
        return report.model_dump_json(by_alias=True, indent=2).encode() + b"\n"
    words = words_for(report)
    if fmt == "csv":
        # A byte-order mark, so spreadsheet programs read the Japanese as UTF-8.
        return render_csv(report, words).encode("utf-8-sig")
    if fmt == "html":
        template = _TEMPLATES.get_template("customer.html.j2")
        return template.render(r=report, w=words).encode()
    from daemon.customer_report.pdf_out import render_pdf  # ReportLab loads only for PDFs

    return render_pdf(report, words)
