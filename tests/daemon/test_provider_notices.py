# ruff: noqa: F811, RUF001  (fixtures imported from test_enforcement; full-width brackets in Japanese)
"""Provider notices (SPEC section 6) through POST /v1/provider-notices, on both backends:
kept once per update, forwarded once per revision to real SMTP and HTTP receivers, turned
into windows that follow the notice, and shown when they map to no resource."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.header import decode_header, make_header
from typing import Any

from connectors.notices import NoticeKind, NoticeStatus, ProviderNotice
from daemon.notices import record_notices
from daemon.notify.config import parse_notify_config
from daemon.notify.events import NotifyEvent
from tests.daemon.conftest import Api, ApiFactory, event
from tests.daemon.test_enforcement import SECRET, Mailbox, Receiver, mailbox, receiver  # noqa: F401
from tests.daemon.test_incident_flow import clocks, iso
from tests.daemon.test_metrics import scrape, value

NOW = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
START = NOW + timedelta(days=1)
END = START + timedelta(hours=2)
NOC = "noc@msp.example"


def notify(receiver: Receiver, smtp_port: int) -> Any:
    return parse_notify_config(
        {
            "channels": {
                "hook": {"type": "webhook", "url": receiver.url, "secret": SECRET},
                "mail": {
                    "type": "email",
                    "host": "127.0.0.1",
                    "port": smtp_port,
                    "tls": "none",
                    "from": "MSP Support <support@msp.example>",
                    "to": [NOC],
                },
            },
            "routes": {"default": {"provider_notice": ["hook", "mail"]}},
        }
    )


def customer(
    api: Api, name: str, locale: str, instance_id: str, email: str | None
) -> dict[str, int]:
    body: dict[str, Any] = {"name": name, "locale": locale}
    if email:
        body["contact_email"] = email
    row = api.ok(api.post("/v1/customers", body, role="admin"), 201)
    contract = api.ok(
        api.post(
            "/v1/contracts",
            {"customer_id": row["id"], "plan": "standard", "billing_start": "2026-04-01"},
            role="admin",
        ),
        201,
    )
    resource = api.ok(
        api.post(
            "/v1/resources",
            {
                "contract_id": contract["id"],
                "name": f"{name}-vm",
                "kind": "vm",
                "selectors": [{"aws.dimension.InstanceId": instance_id}],
            },
            role="admin",
        ),
        201,
    )
    return {"customer": row["id"], "resource": resource["id"]}


def notice(update: str = "u1", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "source": "aws",
        "instance": "prod",
        "event_id": "arn:aws:health:ap-northeast-1::event/EC2/MAINT/1",
        "update_id": update,
        "kind": "maintenance",
        "status": "scheduled",
        "title": {"en": "EC2 host maintenance", "ja": "EC2 ホストメンテナンス"},
        "description": {"en": "The host is retired.", "ja": "ホストを退役します。"},
        "services": ["EC2"],
        "regions": ["ap-northeast-1"],
        "affected_resources": [
            {"aws.dimension.InstanceId": "i-1"},
            {"aws.dimension.InstanceId": "i-2"},
            {"aws.dimension.InstanceId": "i-unknown"},
        ],
        "starts_at": iso(START),
        "ends_at": iso(END),
    }
    return body | changes


def post(api: Api, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
    return dict(api.ok(api.post("/v1/provider-notices", body, role="ingest"), status))


def hook_payloads(receiver: Receiver) -> list[dict[str, Any]]:
    return [json.loads(r["body"])["payload"] for r in receiver.requests]


def subject(envelope: Any) -> str:
    parsed = message_from_bytes(envelope.original_content or b"")
    return str(make_header(decode_header(parsed["Subject"])))


def setup(
    api_factory: ApiFactory, receiver: Receiver, port: int
) -> tuple[Api, dict[str, int], dict[str, int]]:
    api = api_factory(notify=notify(receiver, port))
    api.clock.set(NOW)
    acme = customer(api, "acme", "ja", "i-1", "ops@acme.example")
    beta = customer(api, "beta", "en", "i-2", "ops@beta.example")
    customer(api, "gamma", "ja", "i-3", "ops@gamma.example")  # not affected
    return api, acme, beta


def test_each_revision_reaches_every_affected_customer_and_operators_once(
    api_factory: ApiFactory, receiver: Receiver, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    api, acme, beta = setup(api_factory, receiver, port)

    created = post(api, notice(), 201)
    assert created["status"] == "created"
    kept = created["notice"]
    assert [r["resource_id"] for r in kept["resources"]] == [acme["resource"], beta["resource"]]
    assert kept["customer_ids"] == [acme["customer"], beta["customer"]]
    assert [(w["resource_id"], w["start"], w["end"]) for w in kept["windows"]] == [
        (acme["resource"], iso(START), iso(END)),
        (beta["resource"], iso(START), iso(END)),
    ]
    assert api.services.outbox.deliver_due(api.clock()) == 6  # 2 customers x 2 + operators x 2
    assert sorted(m.rcpt_tos[0] for m in box.messages) == [
        NOC,
        "ops@acme.example",
        "ops@beta.example",
    ]
    by_rcpt = {m.rcpt_tos[0]: subject(m) for m in box.messages}
    assert (
        by_rcpt["ops@acme.example"]
        == "[メンテナンスのお知らせ] aws: EC2 ホストメンテナンス（予定）"
    )
    assert (
        by_rcpt["ops@beta.example"] == "[maintenance notice] aws: EC2 host maintenance (scheduled)"
    )
    payloads = hook_payloads(receiver)
    assert sorted(p["customer_name"] for p in payloads) == ["acme", "acme, beta", "beta"]
    assert {p["revision"] for p in payloads} == {1}

    # The same update again, and a new update with nothing material in it: nothing is sent.
    assert post(api, notice())["status"] == "duplicate"
    reworded = notice("u2", description={"en": "Reworded."})
    assert post(api, reworded)["status"] == "unchanged"
    assert api.services.outbox.deliver_due(api.clock()) == 0
    assert len(receiver.requests) == 3 and len(box.messages) == 3

    # Moved by an hour: a new revision, sent once more, and the windows follow.
    moved = notice(
        "u3", starts_at=iso(START + timedelta(hours=1)), ends_at=iso(END + timedelta(hours=1))
    )
    updated = post(api, moved)
    assert (updated["status"], updated["notice"]["revision"]) == ("updated", 2)
    assert [w["id"] for w in updated["notice"]["windows"]] == [w["id"] for w in kept["windows"]]
    assert {(w["start"], w["end"]) for w in updated["notice"]["windows"]} == {
        (iso(START + timedelta(hours=1)), iso(END + timedelta(hours=1)))
    }
    assert post(api, moved)["status"] == "duplicate"
    assert api.services.outbox.deliver_due(api.clock()) == 6
    assert [p["revision"] for p in hook_payloads(receiver)[3:]] == [2, 2, 2]
    assert {p["change"] for p in hook_payloads(receiver)[3:]} == {"更新", "updated"}

    # Cancelled: the windows go, and the cancellation is forwarded too.
    cancelled = post(
        api,
        notice("u4", status="cancelled", starts_at=moved["starts_at"], ends_at=moved["ends_at"]),
    )
    assert cancelled["notice"]["windows"] == []
    assert api.services.outbox.deliver_due(api.clock()) == 6
    assert api.ok(api.get("/v1/maintenance-windows", params={"kind": "provider_maintenance"})) == []

    shown = api.ok(api.get(f"/v1/provider-notices/{kept['id']}"))
    assert [u["update_id"] for u in shown["updates"]] == ["u1", "u2", "u3", "u4"]
    assert [u["material"] for u in shown["updates"]] == [True, False, True, True]
    audiences = {a["customer_name"]: a["deliveries"] for a in shown["recipients"]}
    assert set(audiences) == {"acme", "beta", None}
    assert [(d["revision"], d["status"]) for d in audiences["acme"] if d["channel"] == "mail"] == [
        (1, "sent"),
        (2, "sent"),
        (3, "sent"),
    ]
    assert {d["recipient"] for d in audiences[None] if d["channel"] == "mail"} == {NOC}


def test_a_notice_that_maps_to_no_resource_is_kept_and_shown_to_operators(
    api_factory: ApiFactory, receiver: Receiver, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    api, _acme, _beta = setup(api_factory, receiver, port)
    google = {
        "source": "gcp",
        "event_id": "incident-42",
        "update_id": "2026-11-24T01:00:00Z",
        "kind": "incident",
        "status": "active",
        "title": {"en": "Cloud SQL connectivity issues"},
        "services": ["Cloud SQL"],
        "regions": ["asia-northeast1"],
        "starts_at": iso(NOW - timedelta(minutes=20)),
    }
    kept = post(api, google, 201)["notice"]
    assert (kept["mapped"], kept["resources"], kept["windows"]) == (False, [], [])
    assert api.services.outbox.deliver_due(api.clock()) == 2  # operators only
    assert [m.rcpt_tos for m in box.messages] == [[NOC]]
    [payload] = hook_payloads(receiver)
    assert (payload["customer_name"], payload["ends"]) == ("-", "未定（発表なし）")
    unmapped = api.ok(api.get("/v1/provider-notices", params={"mapped": "false"}))["items"]
    assert [n["id"] for n in unmapped] == [kept["id"]]
    samples = scrape(api.client)
    assert value(samples, "slad_provider_notices", source="gcp", kind="incident") == 1
    assert value(samples, "slad_provider_notices_unmapped", source="gcp") == 1
    assert value(samples, "slad_provider_notices_undelivered", source="gcp") is None


def test_an_incident_notice_opens_a_window_only_once_an_operator_confirms_its_impact(
    api_factory: ApiFactory, receiver: Receiver, mailbox: tuple[Mailbox, int]
) -> None:
    _box, port = mailbox
    api, acme, _beta = setup(api_factory, receiver, port)
    detected = NOW - timedelta(minutes=20)
    api.clock.set(NOW - timedelta(minutes=19))
    body = event("outage", "problem", detected, resource_ids={"aws.dimension.InstanceId": "i-1"})
    incident_id = api.ok(api.post("/v1/events?wait=true", body, role="ingest"))["results"][0][
        "incident_id"
    ]
    api.clock.set(NOW)
    outage = notice(
        "o1",
        event_id="arn:aws:health:ap-northeast-1::event/EC2/ISSUE/9",
        kind="incident",
        status="active",
        affected_resources=[{"aws.dimension.InstanceId": "i-1"}],
        starts_at=iso(NOW - timedelta(minutes=30)),
        ends_at=None,
    )
    kept = post(api, outage, 201)["notice"]
    assert kept["windows"] == [], "an outage notice pauses no clock by itself"
    assert clocks(api.ok(api.get(f"/v1/incidents/{incident_id}")))["contact"]["state"] == "running"

    path = f"/v1/provider-notices/{kept['id']}/confirm-impact"
    assert api.post(path, {}).status_code == 422
    assert api.post(path, {"reason": "AWS confirmed"}, role="viewer").status_code == 403
    confirmed = api.ok(api.post(path, {"reason": "web01 was down with the host"}))
    [window] = confirmed["windows"]
    assert (window["resource_id"], window["start"], window["end"]) == (
        acme["resource"],
        iso(NOW - timedelta(minutes=30)),
        None,
    )
    contact = clocks(api.ok(api.get(f"/v1/incidents/{incident_id}")))["contact"]
    assert (contact["state"], contact["slo_due"], contact["counted_seconds"]) == ("paused", None, 0)
    audit = api.ok(api.get("/v1/audit", role="admin", params={"target_type": "provider_notice"}))
    assert audit["items"][0]["reason"] == "web01 was down with the host"

    maintenance = post(api, notice(), 201)["notice"]
    refused = api.post(f"/v1/provider-notices/{maintenance['id']}/confirm-impact", {"reason": "x"})
    assert refused.status_code == 409


def test_a_change_reaching_into_the_past_applies_from_now_and_is_audited(
    api_factory: ApiFactory, receiver: Receiver, mailbox: tuple[Mailbox, int]
) -> None:
    _box, port = mailbox
    api, acme, _beta = setup(api_factory, receiver, port)
    late = notice(
        "l1",
        status="active",
        affected_resources=[{"aws.dimension.InstanceId": "i-1"}],
        starts_at=iso(NOW - timedelta(minutes=30)),
        ends_at=iso(NOW + timedelta(hours=1)),
    )
    kept = post(api, late, 201)["notice"]
    assert [(w["start"], w["end"]) for w in kept["windows"]] == [
        (iso(NOW), iso(NOW + timedelta(hours=1)))
    ]
    held = api.ok(api.get("/v1/audit", role="admin", params={"target_type": "provider_notice"}))
    assert held["items"][0]["action"] == "window.past_change_held"
    assert held["items"][0]["detail"]["wanted_past"] == [
        [(NOW - timedelta(minutes=30)).isoformat(), NOW.isoformat()]
    ]

    api.clock.set(NOW + timedelta(minutes=10))
    post(api, late | {"update_id": "l2", "status": "cancelled"})
    shown = api.ok(api.get(f"/v1/provider-notices/{kept['id']}"))
    assert [(w["start"], w["end"]) for w in shown["windows"]] == [
        (iso(NOW), iso(NOW + timedelta(minutes=10)))
    ], "the part already past stays; the rest is gone"
    del acme


def test_a_notice_with_no_end_pauses_clocks_without_a_due_instant(
    api_factory: ApiFactory, receiver: Receiver, mailbox: tuple[Mailbox, int]
) -> None:
    _box, port = mailbox
    api, _acme, _beta = setup(api_factory, receiver, port)
    api.clock.set(NOW - timedelta(minutes=5))
    body = event(
        "slow",
        "problem",
        NOW - timedelta(minutes=5),
        resource_ids={"aws.dimension.InstanceId": "i-2"},
    )
    incident_id = api.ok(api.post("/v1/events?wait=true", body, role="ingest"))["results"][0][
        "incident_id"
    ]
    post(api, notice(starts_at=iso(NOW + timedelta(minutes=5)), ends_at=None), 201)
    api.clock.set(NOW + timedelta(minutes=20))
    contact = clocks(api.ok(api.get(f"/v1/incidents/{incident_id}")))["contact"]
    assert (contact["state"], contact["slo_due"], contact["sla_due"]) == ("paused", None, None)
    assert contact["counted_seconds"] == 10 * 60


def test_a_warning_due_before_an_open_window_says_the_deadline_is_not_known(
    api_factory: ApiFactory, receiver: Receiver, mailbox: tuple[Mailbox, int]
) -> None:
    _box, port = mailbox
    table = notify(receiver, port)
    routes = {**table.routes.default, NotifyEvent.WARNING: ("hook",)}
    api = api_factory(notify=replace(table, routes=replace(table.routes, default=routes)))
    api.clock.set(NOW)
    customer(api, "acme", "en", "i-1", "ops@acme.example")
    body = event("w", "problem", NOW, resource_ids={"aws.dimension.InstanceId": "i-1"})
    incident_id = api.ok(api.post("/v1/events?wait=true", body, role="ingest"))["results"][0][
        "incident_id"
    ]
    open_ended = notice(affected_resources=[{"aws.dimension.InstanceId": "i-1"}], ends_at=None)
    post(api, open_ended | {"starts_at": iso(NOW + timedelta(minutes=20))}, 201)

    api.clock.set(NOW + timedelta(minutes=25))
    assert api.services.processor.run_due(api.clock()) == 1  # the 50 % warning at 15 minutes
    api.services.outbox.deliver_due(api.clock())
    [warning] = [p for p in hook_payloads(receiver) if p["event"] == "warning"]
    assert warning["slo_due"] == warning["sla_due"] == "none yet (paused by a window with no end)"
    contact = clocks(api.ok(api.get(f"/v1/incidents/{incident_id}")))["contact"]
    assert (contact["state"], contact["counted_seconds"]) == ("paused", 20 * 60)


def test_sources_hand_notices_over_and_the_worker_applies_them(
    api_factory: ApiFactory, receiver: Receiver, mailbox: tuple[Mailbox, int]
) -> None:
    _box, port = mailbox
    api, _acme, _beta = setup(api_factory, receiver, port)
    handed = ProviderNotice(
        source="azure",
        event_id="TRACK-1",
        update_id="1",
        kind=NoticeKind.MAINTENANCE,
        status=NoticeStatus.SCHEDULED,
        title={"en": "Planned maintenance"},
        starts_at=START,
        ends_at=END,
        affected_resources=({"aws.dimension.InstanceId": "i-1"},),
    )
    with api.services.sessions.begin() as session:
        (result,) = record_notices(session, [handed], NOW)
        assert result.status == "created"
    samples = scrape(api.client)
    assert value(samples, "slad_provider_notices_undelivered", source="azure") == 1
    assert api.services.notices.apply_pending(NOW) == 1
    assert api.services.notices.apply_pending(NOW) == 0
    assert api.services.outbox.deliver_due(NOW) == 4  # acme x 2, operators x 2
    assert value(scrape(api.client), "slad_provider_notices_undelivered", source="azure") is None
    [listed] = api.ok(api.get("/v1/provider-notices", params={"source": "azure"}))["items"]
    assert len(api.ok(api.get(f"/v1/provider-notices/{listed['id']}"))["windows"]) == 1


def test_lists_filter_and_page_and_bad_input_changes_nothing(
    api_factory: ApiFactory, receiver: Receiver, mailbox: tuple[Mailbox, int]
) -> None:
    _box, port = mailbox
    api, acme, beta = setup(api_factory, receiver, port)
    first = post(api, notice(), 201)["notice"]
    only_acme = notice(event_id="e2", affected_resources=[{"aws.dimension.InstanceId": "i-1"}])
    second = post(
        api, only_acme | {"starts_at": iso(NOW), "ends_at": iso(NOW + timedelta(hours=1))}, 201
    )["notice"]
    third = post(api, notice(event_id="e3", kind="informational", status="active"), 201)["notice"]

    def ids(**params: Any) -> list[int]:
        return [n["id"] for n in api.ok(api.get("/v1/provider-notices", params=params))["items"]]

    assert ids() == [third["id"], second["id"], first["id"]]
    assert ids(kind="informational") == [third["id"]]
    assert ids(status="scheduled") == [second["id"], first["id"]]
    assert ids(customer=beta["customer"]) == [third["id"], first["id"]]
    assert ids(active_at=iso(NOW + timedelta(minutes=30))) == [second["id"]]
    assert ids(source="gcp") == []
    page = api.ok(api.get("/v1/provider-notices", params={"limit": 2}))
    rest = api.ok(
        api.get("/v1/provider-notices", params={"limit": 2, "cursor": page["next_cursor"]})
    )
    assert [n["id"] for n in page["items"] + rest["items"]] == ids()
    assert rest["next_cursor"] is None
    del acme

    backwards = api.post(
        "/v1/provider-notices",
        notice(event_id="bad", ends_at=iso(START - timedelta(hours=1))),
        role="ingest",
    )
    assert backwards.status_code == 422 and "ends_at" in backwards.text
    assert (
        api.post(
            "/v1/provider-notices", notice(event_id="bad", title={}), role="ingest"
        ).status_code
        == 422
    )
    assert api.post("/v1/provider-notices", notice(event_id="bad")).status_code == 403
    assert (
        api.get("/v1/provider-notices", params={"active_at": "2026-11-24T01:00:00"}).status_code
        == 422
    )
    assert api.get("/v1/provider-notices/999999").status_code == 404
    assert ids() == [third["id"], second["id"], first["id"]]
