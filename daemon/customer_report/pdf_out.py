"""The report as a PDF, drawn with ReportLab.

Text is set in ReportLab's built-in Adobe-Japan1 CID font (HeiseiKakuGo-W5, a Gothic
face that also covers Latin), so Japanese renders and extracts as text with no font
file on the machine that makes the report: the PDF names the font and every reader
with Japanese support (Acrobat, the browsers, poppler with poppler-data) supplies it.
The layout mirrors the HTML page: header, compliance, one block per incident with its
clocks and excluded time, support requests, provider notices.
"""

from __future__ import annotations

import io
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from daemon.customer_report.labels import Words
from daemon.customer_report.model import CustomerReport, IncidentEntry

FONT = "HeiseiKakuGo-W5"
LATIN = "Helvetica"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))

_BODY = ParagraphStyle("body", fontName=FONT, fontSize=8, leading=10, wordWrap="CJK")
_H1 = ParagraphStyle("h1", parent=_BODY, fontSize=15, leading=19, spaceAfter=4)
_H2 = ParagraphStyle("h2", parent=_BODY, fontSize=11.5, leading=15, spaceBefore=8, spaceAfter=3)
_H3 = ParagraphStyle("h3", parent=_BODY, fontSize=9.5, leading=12, spaceBefore=5, spaceAfter=2)
_ALERT = ParagraphStyle("alert", parent=_BODY, textColor=colors.HexColor("#bb0000"))
_OUTCOME_COLOURS = {"met": "#006600", "slo_breached": "#aa6600", "sla_breached": "#bb0000"}
_GRID = TableStyle(
    [
        ("FONTNAME", (0, 0), (-1, -1), FONT),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]
)
_META = TableStyle(
    [
        ("FONTNAME", (0, 0), (-1, -1), FONT),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
        ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#eeeeee")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
)


def render_pdf(report: CustomerReport, words: Words) -> bytes:
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=landscape(A4),
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=12 * mm,
        bottomMargin=12 * mm,
        title=f"{words['title']} {report.customer.name} {report.month}",
        author="slad",
        lang=words.locale,
    )
    doc.build(_story(report, words))
    return out.getvalue()


_LATIN: dict[str, ParagraphStyle] = {}


def _styled(text: str, style: ParagraphStyle) -> ParagraphStyle:
    """All-ASCII text is set in Helvetica, whose Latin glyphs every reader has and spaces
    as measured; the rest in the Japanese CID font."""
    if not text.isascii():
        return style
    latin = _LATIN.get(style.name)
    if latin is None:
        latin = _LATIN[style.name] = ParagraphStyle(
            f"{style.name}-latin", parent=style, fontName=LATIN
        )
    return latin


def _p(text: object, style: ParagraphStyle = _BODY) -> Paragraph:
    words = str(text)
    return Paragraph(escape(words), _styled(words, style))


def _outcome(code: str, words: Words) -> Paragraph:
    colour = _OUTCOME_COLOURS.get(code)
    label = words.code(code)
    text = escape(label)
    markup = f'<font color="{colour}">{text}</font>' if colour else text
    return Paragraph(markup, _styled(label, _BODY))


def _table(rows: list[list[Any]], style: TableStyle = _GRID, widths: Any = None) -> Table:
    cells = [[c if isinstance(c, Flowable) else _p(c) for c in row] for row in rows]
    return Table(cells, colWidths=widths, style=style, repeatRows=1, hAlign="LEFT")


def _story(report: CustomerReport, words: Words) -> list[Flowable]:
    w = words
    status = w["partial"] if report.partial else w["complete"]
    story: list[Flowable] = [
        _p(w["title"], _H1),
        _table(
            [
                [w["customer"], report.customer.name],
                [w["month"], report.month],
                [w["period"], w.period(report.period_from, report.period_to)],
                [w["timezone"], report.timezone],
                [w["generated_at"], w.when(report.generated_at)],
                [w["status"], _p(status, _ALERT if report.partial else _BODY)],
            ],
            _META,
            [35 * mm, 120 * mm],
        ),
        _p(w["compliance"], _H2),
    ]
    if report.compliance:
        head = [
            w["clock"],
            w["count"],
            w.code("met"),
            w.code("slo_breached"),
            w.code("sla_breached"),
            w["undecided"],
            f"SLO {w['ratio']}",
            f"SLA {w['ratio']}",
        ]
        story.append(
            _table(
                [head]
                + [
                    [
                        w.code(c.clock),
                        c.count,
                        c.met,
                        c.slo_breached,
                        c.sla_breached,
                        c.open,
                        w.ratio(c.slo.ratio),
                        w.ratio(c.sla.ratio),
                    ]
                    for c in report.compliance
                ]
            )
        )
    else:
        story.append(_p(w["no_clocks"]))
    story.append(_p(w["incidents"], _H2))
    story.extend(KeepTogether(_incident(i, w)) for i in report.incidents)
    if not report.incidents:
        story.append(_p(w["no_incidents"]))
    story.append(_p(w["support_requests"], _H2))
    story.append(_support(report, w) if report.support_requests else _p(w["no_support_requests"]))
    story.append(_p(w["notices"], _H2))
    story.append(_notices(report, w) if report.notices else _p(w["no_notices"]))
    return story


def _incident(incident: IncidentEntry, w: Words) -> list[Flowable]:
    detected = w.when(incident.detected_at)
    if incident.detected_at_estimated:
        detected += f" ({w['detected_at_estimated']})"
    parts: list[Flowable] = [
        _p(f"{w['incident']} #{incident.id}: {incident.title}", _H3),
        _table(
            [
                [w["resource"], incident.resource, w["severity"], incident.severity],
                [w["detected_at"], detected, w["contacted_at"], w.when(incident.contacted_at)],
                [
                    w["reported_at"],
                    w.when(incident.reported_at),
                    w["resolved_at"],
                    w.when(incident.resolved_at),
                ],
            ],
            _META,
            [28 * mm, 75 * mm, 28 * mm, 75 * mm],
        ),
        Spacer(1, 2 * mm),
    ]
    head = [
        w["clock"],
        w["start"],
        w["stop"],
        w["slo_target"],
        w["sla_target"],
        w["slo_due"],
        w["sla_due"],
        w["counted"],
        w["excluded"],
        w["outcome"],
    ]
    rows: list[list[Any]] = [head]
    for c in incident.clocks:
        rows.append(
            [
                w.code(c.name),
                w.when(c.start),
                w.when(c.stop),
                w.duration(c.slo_target_seconds),
                w.duration(c.sla_target_seconds),
                w.when(c.slo_due),
                w.when(c.sla_due),
                w.duration(c.counted_seconds),
                w.duration(c.excluded_seconds),
                _outcome(c.outcome, w),
            ]
        )
    parts.append(_table(rows))
    excluded = [
        [
            w.code(c.name),
            w.when(e.start),
            w.when(e.end),
            w.duration(e.seconds) + (f" ({w['planned']})" if e.ahead else ""),
            "\n".join(
                f"{w.code(win.kind)} #{win.id}" + (f": {win.reason}" if win.reason else "")
                for win in e.windows
            ),
        ]
        for c in incident.clocks
        for e in c.exclusions
    ]
    if excluded:
        parts.append(Spacer(1, 1.5 * mm))
        parts.append(_p(w["exclusions"]))
        head = [w["clock"], w["from"], w["to"], w["excluded"], w["reason"]]
        parts.append(
            _table([head, *excluded], widths=[35 * mm, 35 * mm, 35 * mm, 30 * mm, 130 * mm])
        )
    return parts


def _support(report: CustomerReport, w: Words) -> Table:
    head = [
        w["support_request"],
        w["received_at"],
        w["replied_at"],
        w["slo_target"],
        w["sla_target"],
        w["slo_due"],
        w["sla_due"],
        w["outcome"],
    ]
    rows: list[list[Any]] = [head]
    for s in report.support_requests:
        first = [f"#{s.id}", w.when(s.received_at), w.when(s.replied_at)]
        if s.clock is None:
            rows.append([*first, w["out_of_scope"], "", "", "", ""])
            continue
        rows.append(
            [
                *first,
                w.business_days(s.clock.slo_target_business_days),
                w.business_days(s.clock.sla_target_business_days),
                w.when(s.clock.slo_due),
                w.when(s.clock.sla_due),
                _outcome(s.clock.outcome, w),
            ]
        )
    return _table(rows)


def _notices(report: CustomerReport, w: Words) -> Table:
    head = [
        w["notice"],
        w["source"],
        w["kind"],
        w["state"],
        w["from"],
        w["to"],
        w["resources"],
    ]
    rows: list[list[Any]] = [head]
    for n in report.notices:
        rows.append(
            [
                f"#{n.id} {n.title}",
                n.source,
                w.code(n.kind),
                w.code(n.status),
                w.when(n.starts_at),
                w.when(n.ends_at) if n.ends_at else w["not_announced"],
                ", ".join(n.resources),
            ]
        )
    return _table(rows, widths=[95 * mm, 20 * mm, 25 * mm, 20 * mm, 30 * mm, 30 * mm, 50 * mm])
