"""Professional-support business-day clocks and the monthly SLA report, through HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.daemon.conftest import Api, event, seed_registry

JST_MON_10 = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)  # Monday 10:00 Asia/Tokyo


def test_support_request_gets_business_day_deadlines(api: Api) -> None:
    ids = seed_registry(api, professional_support=True)
    api.clock.set(JST_MON_10)
    request = api.ok(
        api.post(
            "/v1/support-requests",
            {"contract_id": ids["contract"], "channel": "ticket", "subject": "slow queries"},
        ),
        201,
    )
    assert request["in_scope"] is True
    clock = request["clock"]
    assert clock["state"] == "running"
    assert clock["slo_due"] == "2026-12-02T09:30:00Z"  # Wed 18:30 JST
    assert clock["sla_due"] == "2026-12-07T09:30:00Z"  # following Mon 18:30 JST

    api.clock.set(datetime(2026, 12, 3, 1, 0, tzinfo=UTC))
    replied = api.ok(api.post(f"/v1/support-requests/{request['id']}/reply", {}))
    assert replied["clock"]["outcome"] == "slo_breached"
    assert api.post(f"/v1/support-requests/{request['id']}/reply", {}).status_code == 409


def test_friday_evening_request_counts_from_monday(api: Api) -> None:
    ids = seed_registry(api, professional_support=True)
    api.clock.set(datetime(2026, 11, 27, 10, 0, tzinfo=UTC))  # Fri 19:00 JST
    request = api.ok(
        api.post(
            "/v1/support-requests",
            {"contract_id": ids["contract"], "channel": "email", "subject": "question"},
        ),
        201,
    )
    assert request["clock"]["slo_due"] == "2026-12-02T09:30:00Z"
    assert request["clock"]["state"] == "paused"


def test_out_of_scope_channel_and_missing_option_have_no_clock(api: Api) -> None:
    with_option = seed_registry(api, professional_support=True)
    without = seed_registry(api, plan="full_managed")
    api.clock.set(JST_MON_10)
    chat = api.ok(
        api.post(
            "/v1/support-requests",
            {"contract_id": with_option["contract"], "channel": "chat", "subject": "hi"},
        ),
        201,
    )
    assert chat["in_scope"] is False and chat["clock"] is None
    assert "chat" in chat["scope_note"]
    no_option = api.ok(
        api.post(
            "/v1/support-requests",
            {"contract_id": without["contract"], "channel": "phone", "subject": "hi"},
        ),
        201,
    )
    assert no_option["in_scope"] is False and no_option["clock"] is None
    assert "professional-support" in no_option["scope_note"]
    assert (
        api.post(
            "/v1/support-requests", {"contract_id": 999, "channel": "phone", "subject": "x"}
        ).status_code
        == 422
    )


def test_monthly_report_counts_outcomes_per_plan_and_clock(api: Api) -> None:
    seed_registry(api)
    t0 = datetime(2026, 11, 10, 0, 0, tzinfo=UTC)
    contact_after = [timedelta(minutes=10), timedelta(minutes=45), timedelta(minutes=90)]
    for n, delay in enumerate(contact_after):
        detected = t0 + timedelta(days=n)
        api.clock.set(detected)
        incident = api.ok(
            api.post(
                "/v1/events?wait=true",
                event(f"m{n}", "problem", detected, problem=f"p{n}"),
                role="ingest",
            )
        )["results"][0]["incident_id"]
        api.clock.set(detected + delay)
        api.ok(api.post(f"/v1/incidents/{incident}/contact", {}))
        recovery = event(f"m{n}r", "recovery", detected + delay, problem=f"p{n}")
        api.ok(api.post("/v1/events?wait=true", recovery, role="ingest"))  # one failure a day
    api.clock.set(t0 + timedelta(days=10))
    report = api.ok(api.get("/v1/reports/sla", params={"month": "2026-11"}))
    rows = {(r["plan"], r["clock"]): r for r in report["rows"]}
    contact = rows[("standard", "contact")]
    assert (contact["count"], contact["met"], contact["slo_breached"], contact["sla_breached"]) == (
        3,
        1,
        1,
        1,
    )
    assert contact["slo_compliance"] == 1 / 3
    assert contact["sla_compliance"] == 2 / 3
    assert contact["median_seconds_to_stop"] == 45 * 60
    assert contact["p95_seconds_to_stop"] == 90 * 60
    report_clock = rows[("standard", "report")]
    assert report_clock["sla_breached"] == 3, "reports never sent are breached by now"
    empty = api.ok(api.get("/v1/reports/sla", params={"month": "2026-10"}))
    assert empty["rows"] == []
    assert api.get("/v1/reports/sla", params={"month": "2026-13"}).status_code == 422
    assert api.get("/v1/reports/sla", params={"month": "Nov"}).status_code == 422


def test_support_requests_filter_by_scope_state_and_breach(api: Api) -> None:
    ids = seed_registry(api, professional_support=True)

    def create(channel: str, at: datetime) -> int:
        api.clock.set(at)
        body = {"contract_id": ids["contract"], "channel": channel, "subject": channel}
        return int(api.ok(api.post("/v1/support-requests", body), 201)["id"])

    late = create("ticket", JST_MON_10 - timedelta(days=7))
    replied = create("email", JST_MON_10 - timedelta(days=7, minutes=-5))
    api.ok(api.post(f"/v1/support-requests/{replied}/reply", {}))
    fresh = create("phone", JST_MON_10)
    chat = create("chat", JST_MON_10)

    def listed(**params: object) -> list[int]:
        answer = api.get("/v1/support-requests", role="operator", params=params)
        return [r["id"] for r in api.ok(answer)]

    assert listed() == [late, replied, fresh, chat]
    assert listed(in_scope="false") == [chat]
    assert listed(in_scope="true") == [late, replied, fresh]
    assert listed(state="stopped") == [replied]
    assert listed(state="running") == [late, fresh]
    assert listed(breached="true") == [late]
    assert listed(breached="false") == [replied, fresh, chat]
    assert listed(state="running", breached="false") == [fresh]
