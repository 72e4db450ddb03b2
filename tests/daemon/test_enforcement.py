"""Warnings and breaches recorded at their instants, notified through real receivers.

Time is the fake clock; the scheduler, outbox and downtime recorder are driven
directly, exactly as the runtime drives them, so nothing sleeps.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.header import decode_header, make_header
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope

from daemon.config import SlaConfig
from daemon.notify.channels.webhook import verify_webhook_signature
from daemon.notify.config import parse_notify_config
from sla_engine.faults import FaultExclusion
from sla_engine.policy import DEFAULT_PLANS, apply_overrides
from tests.daemon.conftest import Api, ApiFactory, event, seed_registry
from tests.daemon.test_incident_flow import clocks, iso
from tests.daemon.test_metrics import scrape, value

LITERAL_FAULTS = SlaConfig(fault_exclusion=FaultExclusion.ALL)

T0 = datetime(2026, 11, 24, 0, 50, tzinfo=UTC)
SECRET = "receiver-secret"


class Receiver:
    """A real HTTP server on loopback that records signed webhook deliveries."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"headers": dict(self.headers), "body": body})
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def events(self) -> list[str]:
        return [json.loads(r["body"])["payload"]["event"] for r in self.requests]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Mailbox:
    """An aiosmtpd handler keeping every accepted message."""

    def __init__(self) -> None:
        self.messages: list[Envelope] = []

    async def handle_DATA(self, server: object, session: object, envelope: Envelope) -> str:
        self.messages.append(envelope)
        return "250 Message accepted for delivery"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


def notify_config(receiver: Receiver, smtp_port: int | None = None) -> Any:
    table: dict[str, Any] = {
        "channels": {"hook": {"type": "webhook", "url": receiver.url, "secret": SECRET}},
        "routes": {
            "default": {
                "incident_opened": ["hook"],
                "warning": ["hook"],
                "slo_breached": ["hook"],
                "sla_breached": ["hook"],
                "incident_resolved": ["hook"],
                "unassigned_alert": ["hook"],
            }
        },
    }
    if smtp_port is not None:
        table["channels"]["customer-mail"] = {
            "type": "email",
            "host": "127.0.0.1",
            "port": smtp_port,
            "tls": "none",
            "from": "MSP Support <support@msp.example>",
        }
        table["routes"]["default"]["customer_first_notice"] = ["customer-mail"]
        table["provider"] = {
            "name": "サンプルMSP",
            "url": "https://ticket.msp.example/",
            "email": "support@msp.example",
            "phone": "050-0000-0000",
        }
    return parse_notify_config(table)


def open_incident(api: Api, at: datetime = T0, key: str = "e1") -> int:
    api.clock.set(at)
    return int(
        api.ok(api.post("/v1/events?wait=true", event(key, "problem", at), role="ingest"))[
            "results"
        ][0]["incident_id"]
    )


def timeline(api: Api, incident_id: int, kinds: tuple[str, ...]) -> list[tuple[str, str]]:
    body = api.ok(api.get(f"/v1/incidents/{incident_id}"))
    return [(t["kind"], t["at"]) for t in body["timeline"] if t["kind"] in kinds]


MARKS = ("warning", "slo_breached", "sla_breached")


def test_running_to_warned_to_slo_to_sla_breached(
    api_factory: ApiFactory, receiver: Receiver
) -> None:
    api = api_factory(notify=notify_config(receiver))
    seed_registry(api)
    incident_id = open_incident(api)
    svc = api.services
    assert svc.outbox.deliver_due(api.clock()) == 1
    assert receiver.events() == ["incident_opened"]
    request = receiver.requests[0]
    assert verify_webhook_signature(
        SECRET,
        request["headers"]["X-Slad-Timestamp"],
        request["body"],
        request["headers"]["X-Slad-Signature"],
        api.clock(),
        timedelta(minutes=5),
    )
    assert svc.processor.next_due() == T0 + timedelta(minutes=15)

    api.clock.set(T0 + timedelta(minutes=16))
    assert svc.processor.run_due(api.clock()) == 1
    assert timeline(api, incident_id, MARKS) == [("warning", iso(T0 + timedelta(minutes=15)))]

    api.clock.set(T0 + timedelta(minutes=31))
    assert svc.processor.run_due(api.clock()) == 2
    samples = scrape(api.client)
    assert (
        value(samples, "slad_compliance_ratio", plan="standard", clock="contact", target="slo")
        == 0.0
    )
    assert (
        value(samples, "slad_compliance_ratio", plan="standard", clock="contact", target="sla")
        == 1.0
    )

    # slad restarts: a new process on the same database carries on where it stopped.
    api = api_factory(notify=notify_config(receiver))
    svc = api.services
    api.clock.set(T0 + timedelta(hours=2))
    assert svc.processor.run_due(api.clock()) == 1
    assert svc.processor.run_due(api.clock()) == 0, "each mark is recorded once"
    samples = scrape(api.client)
    assert (
        value(samples, "slad_compliance_ratio", plan="standard", clock="contact", target="sla")
        == 0.0
    )
    assert (
        value(samples, "slad_open_incidents", plan="standard", clock="contact", state="running")
        == 1.0
    )
    assert timeline(api, incident_id, MARKS) == [
        ("warning", iso(T0 + timedelta(minutes=15))),
        ("warning", iso(T0 + timedelta(minutes=24))),
        ("slo_breached", iso(T0 + timedelta(minutes=30))),
        ("sla_breached", iso(T0 + timedelta(minutes=60))),
    ]
    contact = clocks(api.ok(api.get(f"/v1/incidents/{incident_id}")))["contact"]
    assert (contact["outcome"], contact["passed"]) == (None, ["slo", "sla"]), "still running"
    assert svc.outbox.deliver_due(api.clock()) == 4
    assert receiver.events() == [
        "incident_opened",
        "warning",
        "warning",
        "slo_breached",
        "sla_breached",
    ]
    assert svc.outbox.deliver_due(api.clock()) == 0


def test_contact_in_time_stops_the_marks(api_factory: ApiFactory, receiver: Receiver) -> None:
    api = api_factory(notify=notify_config(receiver))
    seed_registry(api)
    incident_id = open_incident(api)
    api.clock.set(T0 + timedelta(minutes=20))
    api.services.processor.run_due(api.clock())
    api.ok(api.post(f"/v1/incidents/{incident_id}/contact", {}))
    api.clock.set(T0 + timedelta(hours=1, minutes=5))
    api.services.processor.run_due(api.clock())
    kinds = [k for k, _ in timeline(api, incident_id, MARKS)]
    # contact warning at 15 min; the report clock (started at 20 min) warns at 50 and 68 min.
    assert kinds == ["warning", "warning"]
    assert timeline(api, incident_id, MARKS)[1][1] == iso(T0 + timedelta(minutes=50))


def test_downtime_becomes_a_fault_and_rejection_records_breaches_at_true_instants(
    api_factory: ApiFactory, receiver: Receiver
) -> None:
    api = api_factory(notify=notify_config(receiver), sla=LITERAL_FAULTS)
    seed_registry(api)
    incident_id = open_incident(api)
    svc = api.services
    svc.downtime.beat(T0 + timedelta(minutes=1))
    # slad is down from here until two hours later.
    api.clock.set(T0 + timedelta(hours=2))
    window = svc.downtime.record_gap(api.clock())
    assert window is not None and window.kind == "monitoring_fault"
    body = api.ok(api.get(f"/v1/incidents/{incident_id}"))
    assert clocks(body)["contact"]["slo_due"] == iso(T0 + timedelta(hours=2, minutes=29))
    assert svc.processor.run_due(api.clock()) == 0
    faults = api.ok(api.get("/v1/maintenance-windows", params={"kind": "monitoring_fault"}))
    assert [(f["author"], f["start"]) for f in faults] == [("slad", iso(T0 + timedelta(minutes=1)))]

    api.ok(
        api.patch(
            f"/v1/maintenance-windows/{window.id}",
            {"status": "rejected", "reason": "planned restart, not a fault"},
        )
    )
    assert svc.processor.run_due(api.clock()) == 4
    assert timeline(api, incident_id, MARKS) == [
        ("warning", iso(T0 + timedelta(minutes=15))),
        ("warning", iso(T0 + timedelta(minutes=24))),
        ("slo_breached", iso(T0 + timedelta(minutes=30))),
        ("sla_breached", iso(T0 + timedelta(minutes=60))),
    ]
    audit = api.ok(api.get("/v1/audit", role="admin", params={"target_type": "window"}))
    assert [a["action"] for a in audit["items"]] == ["window.update", "window.create"]


def test_short_gap_is_not_a_fault(api: Api) -> None:
    api.services.downtime.beat(T0)
    assert api.services.downtime.record_gap(T0 + timedelta(seconds=30)) is None


def test_crash_between_commit_and_delivery_loses_nothing_and_sends_once(
    api_factory: ApiFactory, receiver: Receiver
) -> None:
    first = api_factory(notify=notify_config(receiver))
    seed_registry(first)
    open_incident(first)
    # The process dies here: the incident and its outbox row are committed, not sent.
    restarted = api_factory(notify=notify_config(receiver))
    assert restarted.services.outbox.deliver_due(restarted.clock()) == 1
    assert first.services.outbox.deliver_due(first.clock()) == 0
    assert restarted.services.outbox.deliver_due(restarted.clock()) == 0
    assert receiver.events() == ["incident_opened"]
    key = receiver.requests[0]["headers"]["X-Slad-Idempotency-Key"]
    assert key.startswith("slad.incident.")


def test_failed_delivery_retries_with_backoff_then_gives_up_visibly(
    api_factory: ApiFactory, receiver: Receiver
) -> None:
    api = api_factory(notify=notify_config(receiver))
    seed_registry(api)
    open_incident(api)
    receiver.status = 503
    assert api.services.outbox.deliver_due(api.clock()) == 0
    [row] = api.ok(api.get("/v1/outbox", role="operator", params={"status": "pending"}))
    assert row["attempts"] == 1 and "503" in row["last_error"]
    assert row["next_attempt_at"] == iso(T0 + timedelta(seconds=10))
    assert api.services.outbox.deliver_due(api.clock()) == 0, "not before the backoff"
    receiver.status = 400
    api.clock.advance(seconds=10)
    assert api.services.outbox.deliver_due(api.clock()) == 0
    [failed] = api.ok(api.get("/v1/outbox", role="operator", params={"status": "failed"}))
    assert failed["attempts"] == 2
    receiver.status = 200
    api.ok(api.post(f"/v1/outbox/{failed['id']}/retry", role="admin"))
    assert api.services.outbox.deliver_due(api.clock()) == 1
    assert receiver.events().count("incident_opened") == 3


def test_basic_plan_contacts_the_customer_automatically(
    api_factory: ApiFactory, receiver: Receiver, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    api = api_factory(notify=notify_config(receiver, port))
    customer = api.ok(
        api.post(
            "/v1/customers",
            {"name": "山田商事", "locale": "ja", "contact_email": "ops@yamada.example"},
            role="admin",
        ),
        201,
    )
    contract = api.ok(
        api.post(
            "/v1/contracts",
            {"customer_id": customer["id"], "plan": "basic", "billing_start": "2026-04-01"},
            role="admin",
        ),
        201,
    )
    api.ok(
        api.post(
            "/v1/resources",
            {
                "contract_id": contract["id"],
                "name": "web01",
                "kind": "vm",
                "selectors": [{"zabbix.host": "web01"}],
            },
            role="admin",
        ),
        201,
    )
    incident_id = open_incident(api)
    api.clock.set(T0 + timedelta(minutes=3))
    assert api.services.outbox.deliver_due(api.clock()) == 2
    [mail] = box.messages
    assert mail.rcpt_tos == ["ops@yamada.example"]
    parsed = message_from_bytes(mail.original_content or b"")
    assert "障害発生のご連絡" in str(make_header(decode_header(parsed["Subject"])))
    body = api.ok(api.get(f"/v1/incidents/{incident_id}"))
    assert body["contacted_at"] == iso(T0 + timedelta(minutes=3))
    assert clocks(body)["contact"]["outcome"] == "met"
    contacted = [t for t in body["timeline"] if t["kind"] == "contacted"]
    assert contacted[0]["actor"] == "slad:auto-contact:customer-mail"


def test_one_wake_up_records_incident_and_support_marks_and_notifies_only_routed_ones(
    api_factory: ApiFactory, receiver: Receiver
) -> None:
    """Incidents' and support requests' clocks fall due in one batch: each mark is on
    its timeline or clock, and only the routed ones (breaches, not warnings) are sent,
    each naming its case."""
    routes = {"slo_breached": ["hook"]}
    notify = parse_notify_config(
        {
            "channels": {"hook": {"type": "webhook", "url": receiver.url, "secret": SECRET}},
            "routes": {"default": routes},
        }
    )
    api = api_factory(notify=notify)
    ids = seed_registry(api, professional_support=True)
    incident_id = open_incident(api)
    support = api.ok(
        api.post(
            "/v1/support-requests",
            {"contract_id": ids["contract"], "channel": "ticket", "subject": "slow queries"},
        ),
        201,
    )
    svc = api.services
    api.clock.set(datetime(2026, 12, 3, 0, 0, tzinfo=UTC))  # past the request's SLO too
    recorded = svc.processor.run_due(api.clock())
    assert recorded >= 4  # the incident's two warnings and its breaches, the request's breach
    assert timeline(api, incident_id, MARKS)[:3] == [
        ("warning", iso(T0 + timedelta(minutes=15))),
        ("warning", iso(T0 + timedelta(minutes=24))),
        ("slo_breached", iso(T0 + timedelta(minutes=30))),
    ]
    reply = api.ok(api.get(f"/v1/support-requests/{support['id']}", role="operator"))["clock"]
    assert "slo" in reply["passed"]
    assert svc.outbox.deliver_due(api.clock()) == 2
    assert receiver.events() == ["slo_breached", "slo_breached"]
    texts = sorted(r["body"].decode() for r in receiver.requests)
    assert [f"I-{incident_id}" in t for t in texts].count(True) == 1
    assert [f"S-{support['id']}" in t for t in texts].count(True) == 1


def test_a_stopping_daemon_leaves_the_rest_of_a_backlog_of_marks_for_its_next_run(
    api_factory: ApiFactory,
) -> None:
    """After a downtime every open incident's marks may be due at once: a stop is
    honoured between batches, and the next run records the rest at their instants."""
    api = api_factory(plans=apply_overrides(DEFAULT_PLANS, {"standard": {"group_by": "problem"}}))
    seed_registry(api)
    api.clock.set(T0)
    ids = [
        api.ok(
            api.post(
                "/v1/events?wait=true",
                event(f"e{n}", "problem", T0, problem=f"p{n}"),
                role="ingest",
            )
        )["results"][0]["incident_id"]
        for n in range(3)
    ]
    assert len(set(ids)) == 3
    processor = api.services.processor
    processor.batch = 2
    api.clock.set(T0 + timedelta(minutes=16))  # each incident's 50 % warning is due
    assert processor.run_due(api.clock(), stopping=lambda: True) == 2
    assert processor.run_due(api.clock()) == 1
    for incident_id in ids:
        assert timeline(api, incident_id, MARKS) == [("warning", iso(T0 + timedelta(minutes=15)))]
