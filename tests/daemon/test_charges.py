"""A month's charges through HTTP and `slad charges`, on both backends, by hand.

October 2026 for one standard contract (billing start 1 Apr, professional support at
10 included hours and ¥15,000 an hour, volume discount 5% from 3 resources, 10% from 5):

| resource | under contract in October  | days | 30,000 x days / 31, down |
|----------|----------------------------|------|---------------------------|
| web01    | all month                  | 31   | 30,000 |
| web02    | retired on the 15th        | 15   | 14,516 |
| db01     | added on the 10th          | 22   | 21,290 |
| tmp01    | added the 5th, retired 9th | 5    |  4,838 |

Monthly fees 70,644; at most 3 resources on one day (5th to 15th) → 5%: 70,644 x 95 /
100 = 67,111.8 → 67,111, discount -3,533. Professional support 100,000; 12.5 hours
worked (8 + 4.5), 2.5 beyond the 10 included → 37,500. Total 204,611. Invoice date: 3
Nov is Culture Day, so the 3rd business day of November is Thursday 5 Nov.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from daemon.cli import main
from daemon.store.models import Contract
from tests.daemon.conftest import Api

NOV_2_JST = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)  # Monday 10:00 Asia/Tokyo
OCTOBER = [
    ("web01 monthly fee", 30_000, 31),
    ("web02 monthly fee", 14_516, 15),
    ("db01 monthly fee", 21_290, 22),
    ("tmp01 monthly fee", 4_838, 5),
    ("professional_support monthly fee", 100_000, 31),
    ("professional_support hours: 12.5 h worked, 10 h included", 37_500, None),
    ("volume discount 5% on monthly fees of ¥70,644 (3 resources)", -3_533, None),
]


def registry(api: Api) -> dict[str, Any]:
    """The contract of the module docstring, and a basic one of another customer."""
    api.clock.set(NOV_2_JST)
    customer = api.ok(api.post("/v1/customers", {"name": "Kanda Trading"}, role="admin"), 201)
    contract = api.ok(
        api.post(
            "/v1/contracts",
            {
                "customer_id": customer["id"],
                "plan": "standard",
                "professional_support": True,
                "billing_start": "2026-04-01",
                "contract_date": "2026-03-20",
                "prices": {
                    "professional_support": {"included_hours": 10, "hourly_rate_yen": 15000}
                },
                "volume_discount": {
                    "tiers": [
                        {"min_resources": 3, "percent": 5},
                        {"min_resources": 5, "percent": 10},
                    ]
                },
            },
            role="admin",
        ),
        201,
    )
    resources = {}
    for name, added, retired in (
        ("web01", "2026-04-01", None),
        ("web02", "2026-04-01", "2026-10-15"),
        ("db01", "2026-10-10", None),
        ("tmp01", "2026-10-05", "2026-10-09"),
    ):
        body = {"contract_id": contract["id"], "name": name, "kind": "vm", "added_on": added}
        if retired:
            body["retired_on"] = retired
        resources[name] = api.ok(api.post("/v1/resources", body, role="admin"), 201)
    for hours in (8, 4.5):
        api.ok(
            api.post(
                f"/v1/contracts/{contract['id']}/hours",
                {
                    "option": "professional_support",
                    "month": "2026-10",
                    "hours": hours,
                    "note": "tuning",
                },
            ),
            201,
        )
    other = api.ok(api.post("/v1/customers", {"name": "Ueno Foods"}, role="admin"), 201)
    basic = api.ok(
        api.post(
            "/v1/contracts",
            {"customer_id": other["id"], "plan": "basic", "billing_start": "2026-10-20"},
            role="admin",
        ),
        201,
    )
    api.ok(
        api.post(
            "/v1/resources",
            {"contract_id": basic["id"], "name": "lb01", "kind": "elb", "added_on": "2026-10-20"},
            role="admin",
        ),
        201,
    )
    return {"customer": customer, "contract": contract, "resources": resources, "other": other}


def lines(statement: dict[str, Any], contract_id: int) -> list[tuple[str, int, int | None]]:
    (entry,) = [c for c in statement["contracts"] if c["contract_id"] == contract_id]
    return [(x["description"], x["amount_yen"], x["days_charged"]) for x in entry["lines"]]


def test_a_month_with_resources_coming_and_going(api: Api) -> None:
    ids = registry(api)
    october = api.ok(api.get("/v1/charges", params={"month": "2026-10"}))
    assert october["invoice_date"] == "2026-11-05"
    assert october["status"] == "open"
    assert lines(october, ids["contract"]["id"]) == OCTOBER
    kanda = october["contracts"][0]
    assert kanda["customer"] == "Kanda Trading" and kanda["total_yen"] == 204_611
    hours = kanda["lines"][5]
    assert (hours["quantity"], hours["unit_price_yen"]) == (2.5, 15_000)
    # The basic contract starts on the 20th: initial fee and 12/31 of 5,000 = 1,935.
    (ueno,) = [c for c in october["contracts"] if c["customer"] == "Ueno Foods"]
    assert [(x["kind"], x["amount_yen"]) for x in ueno["lines"]] == [
        ("initial_fee", 30_000),
        ("monthly_fee", 1_935),
    ]
    assert october["total_yen"] == 204_611 + 31_935
    only = api.ok(
        api.get("/v1/charges", params={"month": "2026-10", "customer": ids["other"]["id"]})
    )
    assert [c["customer"] for c in only["contracts"]] == ["Ueno Foods"]
    # April holds the initial fee: the billing start is later than the contract date.
    april = api.ok(api.get("/v1/charges", params={"month": "2026-04"}))
    assert lines(april, ids["contract"]["id"])[0] == ("standard initial fee", 100_000, None)
    assert april["invoice_date"] == "2026-05-08"  # Golden Week


def test_closed_month_is_immutable_and_late_changes_are_adjusted_next_month(api: Api) -> None:
    ids = registry(api)
    contract_id = ids["contract"]["id"]
    refused = api.post("/v1/charges/2026-11/close", role="admin")
    assert refused.status_code == 409 and "has not ended" in refused.json()["detail"]
    assert api.post("/v1/charges/2026-10/close").status_code == 403  # operators may not
    api.clock.set(datetime(2026, 11, 5, 0, 0, tzinfo=UTC))
    closed = api.ok(api.post("/v1/charges/2026-10/close", role="admin"))
    assert closed["status"] == "closed" and closed["total_yen"] == 204_611 + 31_935
    assert api.post("/v1/charges/2026-10/close", role="admin").status_code == 409
    assert api.post("/v1/charges/2026-12/close", role="admin").status_code == 409

    web01 = ids["resources"]["web01"]["id"]
    back_dated = {"retired_on": "2026-10-20"}
    missing = api.patch(f"/v1/resources/{web01}", back_dated, role="admin")
    assert missing.status_code == 422
    assert missing.json()["type"] == "urn:slad:problem:reason-required"
    reason = "customer decommissioned web01 on 20 Oct and told us late"
    api.ok(api.patch(f"/v1/resources/{web01}", {**back_dated, "reason": reason}, role="admin"))
    late_hours = {"option": "professional_support", "month": "2026-10", "hours": 1, "note": "x"}
    assert api.post(f"/v1/contracts/{contract_id}/hours", late_hours).status_code == 422
    # Retiring keeps the resource: it is still listed, with its dates.
    kept = api.ok(api.get(f"/v1/resources/{web01}"))
    assert (kept["added_on"], kept["retired_on"]) == ("2026-04-01", "2026-10-20")
    web02 = ids["resources"]["web02"]["id"]
    deleted = api.delete(f"/v1/resources/{web02}", role="admin")
    assert deleted.status_code == 409 and "retired_on" in deleted.json()["detail"]

    october = api.ok(api.get("/v1/charges", params={"month": "2026-10"}))
    assert october == closed, "a closed month answers as it was invoiced"

    # web01 now 20 of 31 days: 19,354, i.e. -10,646. Monthly fees 59,998 still with 3
    # resources on one day: 56,998.1 → 56,998, discount -3,000 instead of -3,533: +533.
    november = api.ok(api.get("/v1/charges", params={"month": "2026-11"}))
    kanda = lines(november, contract_id)
    assert kanda == [
        ("db01 monthly fee", 30_000, 30),
        ("professional_support monthly fee", 100_000, 30),
        ("adjustment of 2026-10: web01 monthly fee (31 → 20 days)", -10_646, -11),
        (
            "adjustment of 2026-10: volume discount 5% on monthly fees of ¥59,998 (3 resources)"
            " (¥-3,533 → ¥-3,000)",
            533,
            None,
        ),
    ]
    adjustments = [
        x for c in november["contracts"] for x in c["lines"] if x["kind"] == "adjustment"
    ]
    assert {x["reason"] for x in adjustments} == {reason}
    assert {x["adjusts_month"] for x in adjustments} == {"2026-10"}

    # Once November is closed, the same change is not adjusted again in December.
    api.clock.set(datetime(2026, 12, 4, 0, 0, tzinfo=UTC))
    api.ok(api.post("/v1/charges/2026-11/close", role="admin"))
    december = api.ok(api.get("/v1/charges", params={"month": "2026-12"}))
    assert all(x["kind"] != "adjustment" for c in december["contracts"] for x in c["lines"])
    assert december["invoice_date"] == "2027-01-06"  # closed 1-3 Jan

    audit = api.ok(api.get("/v1/audit", params={"target_type": "month"}, role="admin"))
    assert [a["target_id"] for a in audit["items"]] == ["2026-11", "2026-10"]


def test_cancellation_dates_follow_the_notice(api: Api) -> None:
    api.clock.set(NOV_2_JST)
    customer = api.ok(api.post("/v1/customers", {"name": "Shiba Ltd"}, role="admin"), 201)
    body = {"customer_id": customer["id"], "plan": "full_managed", "billing_start": "2026-01-01"}
    contract = api.ok(api.post("/v1/contracts", body, role="admin"), 201)
    path = f"/v1/contracts/{contract['id']}"
    early = api.patch(
        path, {"notice_date": "2026-03-31", "cancellation_date": "2026-04-29"}, role="admin"
    )
    assert early.status_code == 422
    problem = early.json()
    assert problem["type"] == "urn:slad:problem:cancellation-too-early"
    assert "2026-04-30" in problem["detail"] and "2026-03-31" in problem["detail"]
    assert api.ok(api.get(path))["cancellation_date"] is None, "a refusal changes nothing"
    done = api.ok(
        api.patch(
            path,
            {"notice_date": "2026-03-31", "cancellation_date": "2026-04-30", "reason": "moving"},
            role="admin",
        )
    )
    assert done["earliest_cancellation_date"] == "2026-04-30"
    # Without a notice date the notice is taken as given today (2 Nov → 1 Dec).
    other = api.ok(api.post("/v1/contracts", body, role="admin"), 201)
    too_soon = api.patch(
        f"/v1/contracts/{other['id']}", {"cancellation_date": "2026-11-30"}, role="admin"
    )
    assert too_soon.status_code == 422 and "2026-12-01" in too_soon.json()["detail"]
    fine = api.ok(
        api.patch(f"/v1/contracts/{other['id']}", {"cancellation_date": "2026-12-01"}, role="admin")
    )
    assert fine["notice_date"] == "2026-11-02"
    # A contract cancelled before notice dates were kept keeps its date through a price
    # change, though its notice is unknown.
    with api.services.sessions.begin() as session:
        session.get(Contract, other["id"]).notice_date = None  # type: ignore[union-attr]
    api.clock.set(datetime(2026, 11, 20, 1, 0, tzinfo=UTC))
    repriced = api.ok(
        api.patch(
            f"/v1/contracts/{other['id']}", {"prices": {"monthly_fee_yen": 48000}}, role="admin"
        )
    )
    assert (repriced["cancellation_date"], repriced["notice_date"]) == ("2026-12-01", None)


def test_cancellation_inside_the_minimum_term_charges_the_rest(api: Api) -> None:
    api.clock.set(NOV_2_JST)
    customer = api.ok(api.post("/v1/customers", {"name": "Ikebukuro KK"}, role="admin"), 201)
    contract = api.ok(
        api.post(
            "/v1/contracts",
            {
                "customer_id": customer["id"],
                "plan": "full_managed",
                "billing_start": "2026-04-01",
                "notice_date": "2026-08-10",
                "cancellation_date": "2026-09-15",
                "prices": {"monthly_fee_yen": 45000},
            },
            role="admin",
        ),
        201,
    )
    for name in ("app01", "app02"):
        body = {"contract_id": contract["id"], "name": name, "kind": "vm", "added_on": "2026-04-01"}
        api.ok(api.post("/v1/resources", body, role="admin"), 201)
    september = api.ok(api.get("/v1/charges", params={"month": "2026-09"}))
    # 15/30 of 45,000 each; then 15/30 of September's rest + October to March, per resource:
    # 22,500 + 6 x 45,000 = 292,500, for two resources 585,000.
    assert [
        (x["kind"], x["quantity"], x["amount_yen"]) for x in september["contracts"][0]["lines"]
    ] == [
        ("monthly_fee", 1, 22_500),
        ("monthly_fee", 1, 22_500),
        ("early_cancellation_fee", 2, 585_000),
    ]
    assert api.ok(api.get("/v1/charges", params={"month": "2026-10"}))["contracts"] == []


@pytest.mark.parametrize(
    ("body", "slug"),
    [
        ({"plan": "basic", "volume_discount": {"percent": 5}}, "invalid-prices"),
        (
            {"volume_discount": {"percent": 5, "tiers": [{"min_resources": 2, "percent": 5}]}},
            "validation-error",
        ),
        ({"prices": {"monthly_fee_yen": -1}}, "validation-error"),
        ({"prices": {"monthly_fee_yen": 1.5}}, "validation-error"),
        ({"prices": {"advisory": {"included_hours": 0.001}}}, "validation-error"),
        ({"cancellation_date": "2026-03-31"}, "invalid-dates"),
    ],
)
def test_bad_prices_and_dates_are_refused(api: Api, body: dict[str, Any], slug: str) -> None:
    customer = api.ok(api.post("/v1/customers", {"name": "Bad Prices"}, role="admin"), 201)
    full = {
        "customer_id": customer["id"],
        "plan": "standard",
        "billing_start": "2026-04-01",
        **body,
    }
    response = api.post("/v1/contracts", full, role="admin")
    assert response.status_code == 422, response.text
    assert response.json()["type"].endswith(slug)
    assert api.ok(api.get("/v1/contracts")) == []


def test_hours_are_checked_and_audited(api: Api) -> None:
    ids = registry(api)
    path = f"/v1/contracts/{ids['contract']['id']}/hours"
    for body, slug in (
        (
            {"option": "advisory", "month": "2026-10", "hours": 1, "note": "x"},
            "option-not-contracted",
        ),
        (
            {"option": "professional_support", "month": "2026-12", "hours": 1, "note": "x"},
            "future-month",
        ),
        (
            {"option": "professional_support", "month": "2026-03", "hours": 1, "note": "x"},
            "outside-term",
        ),
        (
            {"option": "professional_support", "month": "2026-10", "hours": -13, "note": "x"},
            "invalid-hours",
        ),
        (
            {"option": "professional_support", "month": "2026-13", "hours": 1, "note": "x"},
            "invalid-month",
        ),
    ):
        response = api.post(path, body)
        assert response.status_code == 422, response.text
        assert response.json()["type"].endswith(slug)
    corrected = api.ok(
        api.post(
            path,
            {"option": "professional_support", "month": "2026-10", "hours": -0.5, "note": "typo"},
        ),
        201,
    )
    assert corrected["month_total_hours"] == 12.0
    listed = api.ok(api.get(path, params={"month": "2026-10"}))
    assert [x["hours"] for x in listed] == [8.0, 4.5, -0.5]
    audit = api.ok(api.get("/v1/audit", params={"target_type": "contract"}, role="admin"))
    assert [a["detail"]["hours"] for a in audit["items"] if a["action"] == "contract.hours"] == [
        "-0.5",
        "4.5",
        "8",
    ]
    assert api.get("/v1/charges", params={"month": "2026-1"}).status_code == 422
    assert api.get("/v1/charges", params={"month": "2026-10", "customer": 999}).status_code == 404


def test_slad_charges_prints_the_month(
    api: Api, database: tuple[str, Engine], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = registry(api)
    url, _engine = database
    config = tmp_path / "slad.toml"
    config.write_text(f"[database]\nurl = {json.dumps(url)}\n")
    args = ["--config", str(config), "charges", "2026-10", "--customer", "Kanda Trading"]
    assert main([*args, "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [
        (
            r["description"],
            int(r["amount_yen"]),
            int(r["days_charged"]) if r["days_charged"] else None,
        )
        for r in rows
    ] == OCTOBER
    assert {(r["invoice_date"], r["customer"], r["status"]) for r in rows} == {
        ("2026-11-05", "Kanda Trading", "open")
    }
    assert sum(int(r["amount_yen"]) for r in rows) == 204_611
    assert main([*args, "--format", "json"]) == 0
    as_json = json.loads(capsys.readouterr().out)
    assert as_json == api.ok(
        api.get("/v1/charges", params={"month": "2026-10", "customer": ids["customer"]["id"]})
    )
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "invoice date 2026-11-05" in text and "total ¥204,611" in text
    assert main(["--config", str(config), "charges", "2026-10", "--customer", "nobody"]) == 2
    assert "no customer" in capsys.readouterr().err


def test_a_price_change_is_not_back_dated_but_a_contract_entered_late_is_adjusted(
    api: Api,
) -> None:
    ids = registry(api)
    api.clock.set(datetime(2026, 11, 5, 0, 0, tzinfo=UTC))
    api.ok(api.post("/v1/charges/2026-10/close", role="admin"))
    contract_id = ids["contract"]["id"]
    api.ok(
        api.patch(
            f"/v1/contracts/{contract_id}", {"prices": {"monthly_fee_yen": 40000}}, role="admin"
        )
    )
    november = api.ok(api.get("/v1/charges", params={"month": "2026-11"}))
    assert lines(november, contract_id)[:3] == [
        ("web01 monthly fee", 40_000, 30),
        ("db01 monthly fee", 40_000, 30),
        ("professional_support monthly fee", 100_000, 30),
    ]
    assert all(x["kind"] != "adjustment" for c in november["contracts"] for x in c["lines"])

    body = {"customer_id": ids["other"]["id"], "plan": "standard", "billing_start": "2026-10-16"}
    refused = api.post("/v1/contracts", body, role="admin")
    assert refused.status_code == 422 and "closed month" in refused.json()["detail"]
    late = api.ok(
        api.post("/v1/contracts", {**body, "reason": "order signed in October"}, role="admin"), 201
    )
    api.ok(
        api.post(
            "/v1/resources",
            {
                "contract_id": late["id"],
                "name": "app09",
                "kind": "vm",
                "added_on": "2026-10-16",
                "reason": "in service since 16 Oct",
            },
            role="admin",
        ),
        201,
    )
    november = api.ok(api.get("/v1/charges", params={"month": "2026-11"}))
    adjusted = [
        (x["key"], x["amount_yen"], x["reason"])
        for c in november["contracts"]
        if c["contract_id"] == late["id"]
        for x in c["lines"]
        if x["kind"] == "adjustment"
    ]
    # October: initial fee and 16/31 of 30,000 = 15,483.8 → 15,483.
    assert adjusted == [
        ("initial_fee", 100_000, "order signed in October; in service since 16 Oct"),
        (
            f"monthly_fee:resource:{adjusted_resource(api, late['id'])}",
            15_483,
            "in service since 16 Oct",
        ),
    ]


def adjusted_resource(api: Api, contract_id: int) -> int:
    (resource,) = api.ok(api.get("/v1/resources", params={"contract_id": contract_id}))
    return int(resource["id"])
