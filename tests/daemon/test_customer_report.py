"""One customer's monthly SLA report through HTTP and `slad report`, on both backends:
every format says what happened in the month, in the customer's language."""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import Engine

from daemon.cli import main
from tests.daemon.conftest import Api, event, seed_registry
from tests.daemon.test_incident_flow import iso
from tests.daemon.test_owed import add_resource, detect

NAME = "株式会社アクメ"
ROUTE = "/v1/reports/sla/customers/{}"
A = datetime(2026, 11, 10, 1, 0, tzinfo=UTC)  # 10:00 JST
B = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
C = datetime(2026, 10, 31, 15, 30, tzinfo=UTC)  # 1 Nov 00:30 JST: November's
D = datetime(2026, 10, 31, 14, 30, tzinfo=UTC)  # 31 Oct 23:30 JST: October's
NOW = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


def at(api: Api, instant: datetime) -> None:
    api.clock.set(instant)


def seeded_month(api: Api) -> dict[str, int]:
    """November 2026 (Asia/Tokyo) of a standard customer with professional support:

    - C (web02), detected 1 Nov 00:30 JST: contact after 10 min, report 20 min later: met.
    - A (web01), 10 Nov: a maintenance window 01:10-01:30 UTC, contact at 01:45 (25 min
      counted: met), report at 03:00 (75 min: SLO breached).
    - B (web04), 20 Nov: provider maintenance 01:05-01:15 UTC from a notice, contact at
      03:10 (120 min counted: SLA breached), report never sent (SLA breached by now).
    - D (web03), 31 Oct 23:30 JST: October's, not in November's report.
    - support: one answered in time, one after the SLO, one on chat (out of scope).
    """
    customer = api.ok(api.post("/v1/customers", {"name": NAME, "locale": "ja"}, role="admin"), 201)
    contract = api.ok(
        api.post(
            "/v1/contracts",
            {
                "customer_id": customer["id"],
                "plan": "standard",
                "billing_start": "2026-04-01",
                "professional_support": True,
            },
            role="admin",
        ),
        201,
    )
    ids = {"customer": customer["id"], "contract": contract["id"]}
    for host in ("web01", "web02", "web03", "web04"):
        ids[host] = add_resource(api, contract["id"], host)

    at(api, D - timedelta(minutes=1))
    ids["D"] = detect(api, "web03", D)
    ids["C"] = detect(api, "web02", C)
    at(api, C + timedelta(minutes=10))
    api.ok(api.post(f"/v1/incidents/{ids['C']}/contact", {}))
    at(api, C + timedelta(minutes=30))
    api.ok(api.post(f"/v1/incidents/{ids['C']}/report", {}))

    at(api, datetime(2026, 11, 9, 1, 0, tzinfo=UTC))  # Mon 10:00 JST
    ids["S1"] = support(api, contract["id"], "email")
    ids["A"] = detect(api, "web01", A)
    at(api, A + timedelta(minutes=5))
    ids["window"] = api.ok(
        api.post(
            "/v1/maintenance-windows",
            {
                "scope": "resource",
                "scope_ref": ids["web01"],
                "description": "カーネル更新",
                "start": iso(A + timedelta(minutes=10)),
                "end": iso(A + timedelta(minutes=30)),
            },
        ),
        201,
    )["id"]
    at(api, A + timedelta(minutes=45))
    api.ok(api.post(f"/v1/incidents/{ids['A']}/contact", {}))
    at(api, A + timedelta(minutes=120))
    api.ok(api.post(f"/v1/incidents/{ids['A']}/report", {}))
    api.ok(api.post(f"/v1/support-requests/{ids['S1']}/reply", {}))  # Tue: in time

    at(api, datetime(2026, 11, 16, 1, 0, tzinfo=UTC))  # Mon 10:00 JST
    ids["S2"] = support(api, contract["id"], "phone")
    at(api, B - timedelta(minutes=10))
    ids["notice"] = api.ok(
        api.post(
            "/v1/provider-notices",
            {
                "source": "generic",
                "event_id": "maint-1",
                "update_id": "u1",
                "kind": "maintenance",
                "status": "scheduled",
                "title": {"en": "Hypervisor maintenance", "ja": "ハイパーバイザ保守"},
                "services": ["compute"],
                "affected_resources": [{"zabbix.host": "web04"}],
                "starts_at": iso(B + timedelta(minutes=5)),
                "ends_at": iso(B + timedelta(minutes=15)),
            },
            role="ingest",
        ),
        201,
    )["notice"]["id"]
    ids["B"] = detect(api, "web04", B)
    at(api, B + timedelta(minutes=130))
    api.ok(api.post(f"/v1/incidents/{ids['B']}/contact", {}))
    at(api, datetime(2026, 11, 20, 5, 0, tzinfo=UTC))  # Fri 14:00 JST: after the SLO
    api.ok(api.post(f"/v1/support-requests/{ids['S2']}/reply", {}))
    at(api, datetime(2026, 11, 21, 1, 0, tzinfo=UTC))
    ids["S3"] = support(api, contract["id"], "chat")
    at(api, NOW)
    return ids


def support(api: Api, contract_id: int, channel: str) -> int:
    body = {"contract_id": contract_id, "channel": channel, "subject": "VPN の設定について"}
    return int(api.ok(api.post("/v1/support-requests", body), 201)["id"])


def report(api: Api, customer_id: int, month: str = "2026-11", **params: str) -> Any:
    return api.get(ROUTE.format(customer_id), params={"month": month, **params})


def clocks(incident: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in incident["clocks"]}


def test_json_lists_each_incident_clock_exclusion_support_request_and_notice(api: Api) -> None:
    ids = seeded_month(api)
    body = api.ok(report(api, ids["customer"]))
    assert body["customer"] == {"id": ids["customer"], "name": NAME, "locale": "ja"}
    assert (body["month"], body["timezone"], body["partial"]) == ("2026-11", "Asia/Tokyo", True)
    assert (body["from"], body["to"]) == ("2026-10-31T15:00:00Z", "2026-11-30T15:00:00Z")
    assert body["generated_at"] == iso(NOW)
    assert [i["id"] for i in body["incidents"]] == [ids["C"], ids["A"], ids["B"]]
    c, a, b = body["incidents"]
    assert a["resource"] == "web01" and a["detected_at"] == iso(A)

    contact, report_clock = clocks(a)["contact"], clocks(a)["report"]
    assert (contact["slo_target_seconds"], contact["sla_target_seconds"]) == (1800, 3600)
    assert (contact["start"], contact["stop"]) == (iso(A), iso(A + timedelta(minutes=45)))
    assert contact["slo_due"] == iso(A + timedelta(minutes=50))
    assert (contact["counted_seconds"], contact["excluded_seconds"]) == (1500, 1200)
    assert contact["outcome"] == "met"
    assert contact["exclusions"] == [
        {
            "start": iso(A + timedelta(minutes=10)),
            "end": iso(A + timedelta(minutes=30)),
            "seconds": 1200,
            "ahead": False,
            "windows": [
                {
                    "id": ids["window"],
                    "kind": "maintenance",
                    "reason": "カーネル更新",
                    "scope": "resource",
                }
            ],
        }
    ]
    assert (report_clock["outcome"], report_clock["exclusions"]) == ("slo_breached", [])
    assert report_clock["counted_seconds"] == 75 * 60

    b_contact, b_report = clocks(b)["contact"], clocks(b)["report"]
    assert (b_contact["outcome"], b_contact["counted_seconds"]) == ("sla_breached", 7200)
    [provider] = b_contact["exclusions"]
    assert (provider["start"], provider["seconds"]) == (iso(B + timedelta(minutes=5)), 600)
    assert [w["kind"] for w in provider["windows"]] == ["provider_maintenance"]
    assert (b_report["state"], b_report["stop"], b_report["outcome"]) == (
        "running",
        None,
        "sla_breached",
    )
    assert [cl["outcome"] for cl in c["clocks"]] == ["met", "met"]

    s1, s2, s3 = body["support_requests"]
    assert [s["id"] for s in (s1, s2, s3)] == [ids["S1"], ids["S2"], ids["S3"]]
    assert s1["clock"]["outcome"] == "met"
    assert (s1["clock"]["slo_target_business_days"], s1["clock"]["sla_target_business_days"]) == (
        2,
        5,
    )
    assert s1["clock"]["slo_due"] == "2026-11-11T09:30:00Z"  # Wed 18:30 JST
    assert s2["clock"]["outcome"] == "slo_breached"
    assert s2["clock"]["sla_due"] == "2026-11-24T09:30:00Z"  # Mon 23 Nov is a holiday
    assert s2["replied_at"] == "2026-11-20T05:00:00Z"
    assert (s3["in_scope"], s3["clock"]) == (False, None)
    assert "subject" not in s1 and "channel" not in s1, "what customers wrote needs an operator"

    compliance = {row["clock"]: row for row in body["compliance"]}
    assert list(compliance) == ["contact", "report", "support_reply"]
    assert compliance["contact"] | {"slo": None, "sla": None} == {
        "clock": "contact",
        "count": 3,
        "met": 2,
        "slo_breached": 0,
        "sla_breached": 1,
        "open": 0,
        "slo": None,
        "sla": None,
    }
    assert compliance["contact"]["slo"] == {"met": 2, "breached": 1, "ratio": 2 / 3}
    assert compliance["report"]["slo"] == {"met": 1, "breached": 2, "ratio": 1 / 3}
    assert compliance["report"]["sla"] == {"met": 2, "breached": 1, "ratio": 2 / 3}
    assert compliance["support_reply"]["slo"]["ratio"] == 0.5
    assert compliance["support_reply"]["sla"]["ratio"] == 1.0

    [notice] = body["notices"]
    assert notice["id"] == ids["notice"]
    assert (notice["title"], notice["resources"], notice["kind"]) == (
        "ハイパーバイザ保守",
        ["web04"],
        "maintenance",
    )
    assert notice["starts_at"] == iso(B + timedelta(minutes=5))


def test_an_ended_month_is_final_and_holds_only_its_own_incidents(api: Api) -> None:
    ids = seeded_month(api)
    october = api.ok(report(api, ids["customer"], "2026-10"))
    assert october["partial"] is False
    assert [i["id"] for i in october["incidents"]] == [ids["D"]]
    assert (october["support_requests"], october["notices"]) == ([], [])
    december = api.ok(report(api, ids["customer"], "2026-12"))
    assert december["partial"] is True and december["incidents"] == []
    assert (december["compliance"], december["support_requests"]) == ([], [])
    empty = report(api, ids["customer"], "2026-12", format="html").text
    for says in ("この月のインシデントはありません", "この月に計測した対応時間はありません"):
        assert says in empty
    assert "この月のインシデントはありません" in pdf_text(
        report(api, ids["customer"], "2026-12", format="pdf").content
    )


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_csv_has_a_row_per_clock_exclusion_request_compliance_line_and_notice(api: Api) -> None:
    ids = seeded_month(api)
    response = report(api, ids["customer"], format="csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith(b"\xef\xbb\xbf"), "a BOM, for spreadsheet programs"
    rows = rows_of(response.content.decode("utf-8-sig"))
    assert list(rows[0]) == [
        "section", "customer_id", "month", "partial", "incident_id", "support_request_id",
        "notice_id", "resource", "title", "source", "kind", "clock", "clock_label", "state",
        "start", "end", "slo_target", "sla_target", "target_unit", "slo_due", "sla_due",
        "counted_seconds", "excluded_seconds", "outcome", "outcome_label", "window_ids",
        "window_kinds", "reason", "count", "met", "slo_breached", "sla_breached", "open",
        "slo_ratio", "sla_ratio",
    ]  # fmt: skip
    sections = [r["section"] for r in rows]
    assert sections.count("incident_clock") == 6
    assert sections.count("exclusion") == 2
    assert sections.count("support_request") == 3
    assert sections.count("compliance") == 3
    assert sections.count("notice") == 1
    a_report = next(
        r for r in rows if r["section"] == "incident_clock" and r["incident_id"] == str(ids["A"])
        and r["clock"] == "report"
    )  # fmt: skip
    assert (a_report["outcome"], a_report["outcome_label"]) == ("slo_breached", "SLO未達")
    assert a_report["start"] == "2026-11-10T10:45:00+09:00", "instants in Asia/Tokyo"
    assert (a_report["slo_target"], a_report["target_unit"]) == ("3600", "seconds")
    exclusion = next(
        r for r in rows if r["section"] == "exclusion" and r["window_kinds"] == "maintenance"
    )
    assert exclusion["incident_id"] == str(ids["A"]) and exclusion["window_ids"] == str(
        ids["window"]
    )
    assert exclusion["reason"] == "メンテナンス: カーネル更新"
    assert exclusion["excluded_seconds"] == "1200"
    assert (exclusion["start"], exclusion["end"]) == (
        "2026-11-10T10:10:00+09:00",
        "2026-11-10T10:30:00+09:00",
    )
    contact = next(r for r in rows if r["section"] == "compliance" and r["clock"] == "contact")
    assert (contact["met"], contact["sla_breached"], contact["slo_ratio"]) == ("2", "1", "0.6667")
    support = [r for r in rows if r["section"] == "support_request"]
    assert [r["target_unit"] for r in support] == ["business_days", "business_days", ""]
    assert support[2]["reason"].startswith("対象外")
    [notice] = [r for r in rows if r["section"] == "notice"]
    assert (notice["title"], notice["resource"]) == ("ハイパーバイザ保守", "web04")


def test_html_is_in_the_customers_language_and_needs_nothing_from_outside(api: Api) -> None:
    ids = seeded_month(api)
    response = report(api, ids["customer"], format="html")
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    for label in (
        "月次SLA報告書",
        "障害発生連絡",
        "障害発生報告",
        "対象外時間とその理由",
        "SLO未達",
    ):
        assert label in page
    assert NAME in page and "カーネル更新" in page and "ハイパーバイザ保守" in page
    assert "この月はまだ終わっていません" in page
    assert "2026-11-10 10:00" in page, "instants in Asia/Tokyo wall time"
    assert "@media print" in page
    assert "http://" not in page and "https://" not in page and "<link" not in page
    assert "Monthly SLA report" not in page

    api.ok(api.patch(f"/v1/customers/{ids['customer']}", {"locale": "en"}, role="admin"))
    english = report(api, ids["customer"], format="html").text
    for label in (
        "Monthly SLA report",
        "Incident contact",
        "Excluded time and why",
        "SLO breached",
    ):
        assert label in english
    assert "月次SLA報告書" not in english
    assert NAME in english and "Hypervisor maintenance" in english


def test_html_escapes_what_was_recorded(api: Api) -> None:
    ids = seeded_month(api)
    api.ok(api.patch(f"/v1/customers/{ids['customer']}", {"name": "<b>ACME</b>"}, role="admin"))
    page = report(api, ids["customer"], format="html").text
    assert "<b>ACME</b>" not in page and "&lt;b&gt;ACME&lt;/b&gt;" in page


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_pdf_text_carries_the_japanese_name_the_incidents_and_the_reasons(api: Api) -> None:
    ids = seeded_month(api)
    response = report(api, ids["customer"], format="pdf")
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    text = pdf_text(response.content)
    assert NAME in text
    assert "月次SLA報告書" in text
    assert f"インシデント #{ids['A']}" in text and f"インシデント #{ids['B']}" in text
    assert "SLO未達" in text and "SLA未達" in text
    assert "カーネル更新" in text
    assert "この月はまだ終わっていません" in text


@pytest.mark.parametrize(
    ("accept", "media"),
    [
        ("text/csv", "text/csv"),
        ("text/html,application/xhtml+xml;q=0.9,*/*;q=0.8", "text/html"),
        ("application/pdf", "application/pdf"),
        ("application/json", "application/json"),
        ("*/*", "application/json"),
        ("text/csv;q=0.5, application/pdf", "application/pdf"),
    ],
)
def test_the_accept_header_picks_the_format(api: Api, accept: str, media: str) -> None:
    ids = seeded_month(api)
    response = api.client.get(
        ROUTE.format(ids["customer"]),
        params={"month": "2026-11"},
        headers={**api.headers("viewer"), "Accept": accept},
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(media)


def test_format_wins_over_accept_and_nothing_acceptable_is_406(api: Api) -> None:
    ids = seeded_month(api)
    headers = {**api.headers("viewer"), "Accept": "application/pdf"}
    path = ROUTE.format(ids["customer"])
    chosen = api.client.get(path, params={"month": "2026-11", "format": "csv"}, headers=headers)
    assert chosen.headers["content-type"].startswith("text/csv")
    refused = api.client.get(
        path, params={"month": "2026-11"}, headers={**headers, "Accept": "image/png"}
    )
    assert refused.status_code == 406
    assert refused.headers["content-type"] == "application/problem+json"


def test_unknown_customer_is_404_and_a_bad_month_or_format_is_422(api: Api) -> None:
    ids = seeded_month(api)
    missing = report(api, 999_999)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert "customer 999999" in missing.json()["detail"]
    for month in ("2026-13", "2026-00", "Nov", "2026-1", "1900-01", "9999-12"):
        bad = report(api, ids["customer"], month)
        assert bad.status_code == 422, month
        assert "month" in bad.text
    assert api.get(ROUTE.format(ids["customer"])).status_code == 422, "month is required"
    assert report(api, ids["customer"], format="docx").status_code == 422
    assert report(api, ids["customer"], fmt="pdf").status_code == 422, "unknown parameter"


def test_a_viewer_reads_reports_and_no_token_does_not(api: Api) -> None:
    ids = seeded_month(api)
    for role in ("viewer", "operator", "admin"):
        assert (
            api.get(ROUTE.format(ids["customer"]), role, params={"month": "2026-11"}).status_code
            == 200
        )
    assert (
        api.get(ROUTE.format(ids["customer"]), "ingest", params={"month": "2026-11"}).status_code
        == 403
    )
    assert (
        api.client.get(ROUTE.format(ids["customer"]), params={"month": "2026-11"}).status_code
        == 401
    )


def test_slad_report_writes_every_format(
    api: Api,
    database: tuple[str, Engine],
    tmp_path: Path,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    ids = seeded_month(api)
    url, _engine = database
    config = tmp_path / "slad.toml"
    config.write_text(f"[database]\nurl = {json.dumps(url)}\n")
    base = ["--config", str(config), "report"]

    assert main([*base, NAME, "2026-11", "--format", "json"]) == 0
    as_json = json.loads(capsysbinary.readouterr().out)
    assert as_json["customer"]["name"] == NAME
    assert [i["id"] for i in as_json["incidents"]] == [ids["C"], ids["A"], ids["B"]]

    assert main([*base, str(ids["customer"]), "2026-11", "--format", "csv"]) == 0
    rows = rows_of(capsysbinary.readouterr().out.decode("utf-8-sig"))
    assert len(rows) == 15 and rows[0]["customer_id"] == str(ids["customer"])

    assert main([*base, NAME, "2026-11", "--format", "html"]) == 0
    assert "月次SLA報告書" in capsysbinary.readouterr().out.decode()

    target = tmp_path / "acme.pdf"
    assert main([*base, NAME, "2026-11", "--format", "pdf", "--output", str(target)]) == 0
    assert f"インシデント #{ids['A']}" in pdf_text(target.read_bytes())
    assert main([*base, NAME, "2026-11", "--format", "pdf"]) == 0, "stdout is not a terminal"
    assert NAME in pdf_text(capsysbinary.readouterr().out)

    assert main([*base, "nobody", "2026-11"]) == 2
    assert b"no customer" in capsysbinary.readouterr().err
    assert main([*base, NAME, "2026-13"]) == 2
    assert b"month" in capsysbinary.readouterr().err


def test_a_monitoring_fault_is_excluded_only_as_far_as_it_hid_the_incident(api: Api) -> None:
    ids = seed_registry(api)
    start = datetime(2026, 11, 24, 0, 50, tzinfo=UTC)
    api.clock.set(start)
    fault = api.ok(
        api.post(
            "/v1/maintenance-windows",
            {
                "scope": "source",
                "source": "generic",
                "kind": "monitoring_fault",
                "description": "Zabbix API unreachable",
                "start": iso(start),
            },
        ),
        201,
    )
    api.clock.set(start + timedelta(minutes=20))
    hidden = api.ok(
        api.post(
            "/v1/events?wait=true",
            event("late", "problem", start + timedelta(minutes=5)),
            role="ingest",
        )
    )["results"][0]["incident_id"]
    api.clock.set(start + timedelta(minutes=30))
    api.ok(api.post(f"/v1/incidents/{hidden}/contact", {}))

    body = api.ok(report(api, ids["customer"]))
    contact = clocks(body["incidents"][0])["contact"]
    assert (contact["outcome"], contact["counted_seconds"]) == ("met", 600)
    assert contact["exclusions"] == [
        {
            "start": iso(start + timedelta(minutes=5)),
            "end": iso(start + timedelta(minutes=20)),
            "seconds": 900,
            "ahead": False,
            "windows": [
                {
                    "id": fault["id"],
                    "kind": "monitoring_fault",
                    "reason": "Zabbix API unreachable",
                    "scope": "source",
                }
            ],
        }
    ]
    assert clocks(body["incidents"][0])["report"]["exclusions"] == [], "it hid nothing there"
    rows = rows_of(report(api, ids["customer"], format="csv").content.decode("utf-8-sig"))
    [excluded] = [r for r in rows if r["section"] == "exclusion"]
    assert excluded["reason"] == "監視システムの障害: Zabbix API unreachable"
    assert excluded["window_ids"] == str(fault["id"])


def test_undecided_clocks_are_open_or_pending_and_planned_windows_are_marked(api: Api) -> None:
    ids = seed_registry(api)
    detected = NOW - timedelta(minutes=5)
    incident = detect(api, "web01", detected)
    window = api.ok(
        api.post(
            "/v1/maintenance-windows",
            {
                "scope": "resource",
                "scope_ref": ids["resource"],
                "description": "planned reboot",
                "start": iso(NOW + timedelta(minutes=10)),
                "end": iso(NOW + timedelta(minutes=20)),
            },
        ),
        201,
    )
    body = api.ok(report(api, ids["customer"]))
    [entry] = body["incidents"]
    assert entry["id"] == incident
    contact, pending = clocks(entry)["contact"], clocks(entry)["report"]
    assert (contact["state"], contact["outcome"]) == ("running", "open")
    assert contact["slo_due"] == iso(detected + timedelta(minutes=40)), "the window moves it"
    [planned] = contact["exclusions"]
    assert (planned["ahead"], planned["windows"][0]["id"]) == (True, window["id"])
    assert (pending["state"], pending["outcome"], pending["slo_due"]) == (
        "pending",
        "pending",
        None,
    )
    rows = {row["clock"]: row for row in body["compliance"]}
    assert (rows["contact"]["open"], rows["report"]["open"]) == (1, 1)
    assert rows["contact"]["slo"] == {"met": 0, "breached": 0, "ratio": None}
    html = report(api, ids["customer"], format="html").text
    assert "進行中" in html and "未開始" in html and "(予定)" in html


def test_files_are_named_for_saving(api: Api) -> None:
    ids = seeded_month(api)
    csv_file = report(api, ids["customer"], format="csv").headers["content-disposition"]
    assert csv_file == f'attachment; filename="sla-{ids["customer"]}-2026-11.csv"'
    pdf = report(api, ids["customer"], format="pdf")
    assert pdf.headers["content-disposition"].startswith("inline;")
    assert pdf.headers["vary"] == "Accept"


def test_slad_report_will_not_write_a_pdf_to_a_terminal(
    api: Api,
    database: tuple[str, Engine],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seed_registry(api)
    url, _engine = database
    config = tmp_path / "slad.toml"
    config.write_text(f"[database]\nurl = {json.dumps(url)}\n")
    leader, follower = os.openpty()
    with os.fdopen(follower, "w") as terminal:
        monkeypatch.setattr(sys, "stdout", terminal)
        code = main(
            ["--config", str(config), "report", "acme-standard", "2026-11", "--format", "pdf"]
        )
    os.close(leader)
    assert code == 2
    assert "--output" in capsys.readouterr().err
