"""Bad input through HTTP: each case is a 4xx problem+json naming the field, and the store
is exactly what it was before.

The table holds what outside fuzzing found reaching 500 (integers beyond 64 bits, `null`
in PATCH bodies, instants that overflow when converted to UTC, NUL characters and lone
surrogates, deeply nested or year-1 Zabbix notifications) and their neighbours. Paths
name the rows the set-up creates as ``{customer}``, ``{incident}``, ... so each case
reaches the code behind the validation, not a 404.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest
from sqlalchemy import select

from daemon.store.models import Base
from tests.daemon.conftest import (
    BACKENDS,
    Api,
    FakeClock,
    event,
    migrated_database,
    open_api,
    seed_registry,
)
from tests.daemon.test_zabbix_source import FakeZabbix, body, sign, zabbix_api

T0 = datetime(2026, 11, 24, 0, 50, tzinfo=UTC)
BEYOND_64 = str(2**64)  # 18446744073709551616
BEYOND_63 = 2**63
HUGE = str(10**20)
FAR_EAST_YEAR_1 = "0001-01-01T00:00:00+14:00"  # before datetime.min once in UTC
FAR_WEST_YEAR_9999 = "9999-12-31T23:59:59-12:00"  # after datetime.max once in UTC
NUL = "a\x00b"
SURROGATE = b'"a\\ud800b"'  # a JSON string holding a lone UTF-16 surrogate
NOTICE = {
    "source": "aws",
    "event_id": "arn:aws:health:ap-northeast-1::event/EC2/MAINT/1",
    "update_id": "u1",
    "kind": "maintenance",
    "status": "scheduled",
    "title": {"en": "EC2 host maintenance"},
    "starts_at": "2026-11-25T00:00:00Z",
    "ends_at": "2026-11-25T01:00:00Z",
}


@dataclass(frozen=True)
class Case:
    """One bad request: `body` is a JSON value, or bytes sent as they are (JSON that
    `json.dumps` cannot write, e.g. a lone surrogate); `field` must be named."""

    name: str
    method: str
    path: str
    field: str
    body: Any = None
    role: str = "admin"
    status: int = 422


def cursor(value: int) -> str:
    return base64.urlsafe_b64encode(str(value).encode()).decode()


def due_cursor(due: str | None, last_id: int) -> str:
    """A cursor of the next-due order, as its encoding would look."""
    return base64.urlsafe_b64encode(json.dumps([due, last_id]).encode()).decode()


def raw_json(template: str, value: bytes) -> bytes:
    """`template` (JSON with one ``@`` placeholder) with `value` put in verbatim."""
    return template.encode().replace(b"@", value)


CASES = [
    # integers beyond 64 bits, in paths, filters, cursors and bodies
    *[
        Case(f"path {path} beyond 64 bits", "get", f"/v1/{path}/{BEYOND_64}", field)
        for path, field in (
            ("customers", "customer_id"),
            ("contracts", "contract_id"),
            ("resources", "resource_id"),
            ("incidents", "incident_id"),
            ("maintenance-windows", "window_id"),
            ("support-requests", "request_id"),
            ("window-changes", "change_id"),
        )
    ],
    Case(
        "window change accepted beyond 64 bits",
        "post",
        f"/v1/window-changes/{BEYOND_64}/accept",
        "change_id",
        {"reason": "checked"},
    ),
    Case("patch beyond 64 bits", "patch", f"/v1/customers/{BEYOND_64}", "customer_id", {}),
    Case("delete beyond 64 bits", "delete", f"/v1/contracts/{BEYOND_64}", "contract_id"),
    Case("id zero", "get", "/v1/customers/0", "customer_id"),
    Case("negative id", "get", "/v1/resources/-1", "resource_id"),
    Case(
        "contact beyond 64 bits",
        "post",
        f"/v1/incidents/{BEYOND_64}/contact",
        "incident_id",
        {},
        role="operator",
    ),
    Case("event retry beyond 64 bits", "post", f"/v1/events/{BEYOND_64}/retry", "event_id"),
    Case("outbox retry beyond 64 bits", "post", f"/v1/outbox/{BEYOND_64}/retry", "message_id"),
    Case(
        "service request beyond 64 bits",
        "post",
        f"/v1/operations-requests/{BEYOND_64}/start",
        "request_id",
        {},
        role="operator",
    ),
    *[
        Case(f"filter {param} beyond 64 bits", "get", f"{path}?{param}={HUGE}", param)
        for path, param in (
            ("/v1/incidents", "customer"),
            ("/v1/incidents", "contract"),
            ("/v1/incidents", "resource"),
            ("/v1/contracts", "customer_id"),
            ("/v1/resources", "contract_id"),
            ("/v1/support-requests", "contract_id"),
            ("/v1/customer-incidents", "contract_id"),
            ("/v1/outbox", "incident_id"),
        )
    ],
    Case(
        "report for customer 10^20",
        "get",
        f"/v1/reports/sla?month=2026-11&customer={HUGE}",
        "customer",
    ),
    *[
        Case(f"cursor of 10^30 on {path}", "get", f"{path}?cursor={cursor(10**30)}", "cursor")
        for path in ("/v1/incidents", "/v1/alerts", "/v1/events", "/v1/audit")
    ],
    Case("cursor not issued", "get", "/v1/incidents?cursor=!!", "cursor"),
    Case(
        "contract for customer 2^63",
        "post",
        "/v1/contracts",
        "customer_id",
        {"customer_id": BEYOND_63, "plan": "standard", "billing_start": "2026-04-01"},
    ),
    Case(
        "resource for contract 2^63",
        "post",
        "/v1/resources",
        "contract_id",
        {"contract_id": BEYOND_63, "name": "db01", "kind": "vm"},
    ),
    Case(
        "support request for contract 2^63",
        "post",
        "/v1/support-requests",
        "contract_id",
        {"contract_id": BEYOND_63, "channel": "ticket", "subject": "s"},
        role="operator",
    ),
    Case(
        "assign to resource 2^63",
        "post",
        "/v1/alerts/{alert}/assign",
        "resource_id",
        {"resource_id": BEYOND_63},
        role="operator",
    ),
    Case(
        "window scoped to customer 10^20",
        "post",
        "/v1/maintenance-windows",
        "scope_ref",
        {
            "scope": "customer",
            "scope_ref": HUGE,
            "start": "2026-11-25T00:00:00Z",
            "end": "2026-11-25T01:00:00Z",
        },
        role="operator",
    ),
    # null where a value cannot be cleared
    *[
        Case(f"null {field} on {path}", "patch", path, field, {field: None})
        for path, field in (
            ("/v1/customers/{customer}", "name"),
            ("/v1/customers/{customer}", "locale"),
            ("/v1/contracts/{contract}", "plan"),
            ("/v1/contracts/{contract}", "professional_support"),
            ("/v1/contracts/{contract}", "advisory"),
            ("/v1/resources/{resource}", "name"),
            ("/v1/resources/{resource}", "kind"),
            ("/v1/resources/{resource}", "selectors"),
        )
    ],
    *[
        Case(
            f"null window {field}",
            "patch",
            "/v1/maintenance-windows/{window}",
            field,
            {field: None},
            role="operator",
        )
        for field in ("status", "start", "description")
    ],
    # instants that overflow once in UTC, dates past what the calendar reaches
    Case(
        "event detected in year 1 east of UTC",
        "post",
        "/v1/events",
        "detected_at",
        event("y1", "problem", T0) | {"detected_at": FAR_EAST_YEAR_1},
        role="ingest",
    ),
    Case(
        "event detected in year 9999 west of UTC",
        "post",
        "/v1/events",
        "detected_at",
        event("y9", "problem", T0) | {"detected_at": FAR_WEST_YEAR_9999},
        role="ingest",
    ),
    Case(
        "batch event in year 1",
        "post",
        "/v1/events",
        "detected_at",
        {
            "events": [
                event("b1", "problem", T0),
                event("b2", "problem", T0) | {"detected_at": FAR_EAST_YEAR_1},
            ]
        },
        role="ingest",
    ),
    Case(
        "contact at year 1",
        "post",
        "/v1/incidents/{incident}/contact",
        "at",
        {"at": FAR_EAST_YEAR_1, "reason": "r"},
        role="operator",
    ),
    Case(
        "window in year 9999",
        "post",
        "/v1/maintenance-windows",
        "start",
        {"scope": "all", "start": FAR_WEST_YEAR_9999, "end": FAR_WEST_YEAR_9999},
        role="operator",
    ),
    Case(
        "window patch to year 1",
        "patch",
        "/v1/maintenance-windows/{window}",
        "end",
        {"end": FAR_EAST_YEAR_1},
        role="operator",
    ),
    Case(
        "support request received in year 1",
        "post",
        "/v1/support-requests",
        "received_at",
        {
            "contract_id": 1,
            "channel": "ticket",
            "subject": "s",
            "received_at": FAR_EAST_YEAR_1,
            "reason": "r",
        },
        role="operator",
    ),
    Case(
        "contract billing from 9999-12-31",
        "post",
        "/v1/contracts",
        "billing_start",
        {"customer_id": 1, "plan": "standard", "billing_start": "9999-12-31"},
    ),
    Case(
        "contract cancelled on 9999-12-31",
        "patch",
        "/v1/contracts/{contract}",
        "cancellation_date",
        {"cancellation_date": "9999-12-31"},
    ),
    Case(
        "incidents detected from year 1",
        "get",
        "/v1/incidents?detected_from=0001-01-01T00:00:00%2B14:00",
        "detected_from",
    ),
    Case("audit since year 9999", "get", "/v1/audit?since=9999-12-31T23:59:59-12:00", "since"),
    Case(
        "incidents from a naive instant",
        "get",
        "/v1/incidents?detected_to=2026-11-24T09:00",
        "detected_to",
    ),
    Case("report for month 9999-12", "get", "/v1/reports/sla?month=9999-12", "month"),
    Case("report for month 0000-01", "get", "/v1/reports/sla?month=0000-01", "month"),
    # NUL characters: PostgreSQL text cannot hold them, so they are refused everywhere
    Case("NUL in a customer name", "post", "/v1/customers", "name", {"name": NUL}),
    Case("NUL in a renamed customer", "patch", "/v1/customers/{customer}", "name", {"name": NUL}),
    Case(
        "NUL in a contact e-mail",
        "patch",
        "/v1/customers/{customer}",
        "contact_email",
        {"contact_email": NUL},
    ),
    Case(
        "NUL in a resource name",
        "post",
        "/v1/resources",
        "name",
        {"contract_id": 1, "name": NUL, "kind": "vm"},
    ),
    Case(
        "NUL in a selector value",
        "post",
        "/v1/resources",
        "selectors",
        {"contract_id": 1, "name": "db01", "kind": "vm", "selectors": [{"zabbix.host": NUL}]},
    ),
    Case(
        "NUL in a selector key",
        "patch",
        "/v1/resources/{resource}",
        "selectors",
        {"selectors": [{NUL: "web01"}]},
    ),
    Case(
        "NUL in a note",
        "post",
        "/v1/incidents/{incident}/notes",
        "text",
        {"text": NUL},
        role="operator",
    ),
    Case(
        "NUL in a contact note",
        "post",
        "/v1/incidents/{incident}/contact",
        "note",
        {"note": NUL},
        role="operator",
    ),
    Case(
        "NUL in an alert title",
        "post",
        "/v1/events",
        "title",
        event("n1", "problem", T0, title=NUL),
        role="ingest",
    ),
    Case(
        "NUL in an event's resource ids",
        "post",
        "/v1/events",
        "resource_ids",
        event("n2", "problem", T0, resource_ids={"zabbix.host": NUL}),
        role="ingest",
    ),
    Case(
        "NUL in a window description",
        "post",
        "/v1/maintenance-windows",
        "description",
        {
            "scope": "all",
            "description": NUL,
            "start": "2026-11-25T00:00:00Z",
            "end": "2026-11-25T01:00:00Z",
        },
        role="operator",
    ),
    Case(
        "NUL in a window time zone",
        "post",
        "/v1/maintenance-windows",
        "timezone",
        {
            "scope": "all",
            "start": "2026-11-25T00:00:00Z",
            "rrule": "FREQ=DAILY",
            "duration_minutes": 30,
            "timezone": NUL,
        },
        role="operator",
    ),
    Case(
        "NUL in a support subject",
        "post",
        "/v1/support-requests",
        "subject",
        {"contract_id": 1, "channel": "ticket", "subject": NUL},
        role="operator",
    ),
    *[
        Case(f"NUL in filter {param} of {path}", "get", f"{path}?{param}=a%00b", param)
        for path, param in (
            ("/v1/incidents", "plan"),
            ("/v1/incidents", "source"),
            ("/v1/alerts", "source"),
            ("/v1/events", "source"),
            ("/v1/audit", "target_type"),
            ("/v1/audit", "target_id"),
        )
    ],
    Case(
        "NUL in a window deletion reason",
        "delete",
        "/v1/maintenance-windows/{window}?reason=a%00b",
        "reason",
        role="operator",
    ),
    Case("NUL in a window source filter", "get", "/v1/maintenance-windows?source=a%00b", "source"),
    Case(
        "windows scoped to 10^20", "get", f"/v1/maintenance-windows?scope_ref={HUGE}", "scope_ref"
    ),
    Case(
        "windows active in year 1",
        "get",
        "/v1/maintenance-windows?active_at=0001-01-01T00:00:00%2B14:00",
        "active_at",
    ),
    Case(
        "incidents due before year 9999",
        "get",
        "/v1/incidents?due_before=9999-12-31T23:59:59-12:00",
        "due_before",
    ),
    Case(
        "due-order cursor of 10^30",
        "get",
        f"/v1/incidents?sort=next_due&cursor={due_cursor(None, 10**30)}",
        "cursor",
    ),
    Case(
        "due-order cursor in year 1",
        "get",
        f"/v1/incidents?sort=next_due&cursor={due_cursor(FAR_EAST_YEAR_1, 1)}",
        "cursor",
    ),
    # charges
    Case(
        "charges of customer 10^20", "get", f"/v1/charges?month=2026-11&customer={HUGE}", "customer"
    ),
    Case(
        "hours of contract beyond 64 bits",
        "get",
        f"/v1/contracts/{BEYOND_64}/hours?month=2026-11",
        "contract_id",
    ),
    Case(
        "NUL in an hours note",
        "post",
        "/v1/contracts/{contract}/hours",
        "note",
        {"option": "advisory", "month": "2026-11", "hours": 1, "note": NUL},
    ),
    Case(
        "contract made on 9999-12-31",
        "post",
        "/v1/contracts",
        "contract_date",
        {
            "customer_id": 1,
            "plan": "standard",
            "billing_start": "2026-04-01",
            "contract_date": "9999-12-31",
        },
    ),
    Case(
        "null prices on a contract", "patch", "/v1/contracts/{contract}", "prices", {"prices": None}
    ),
    Case(
        "null first charged day of a resource",
        "patch",
        "/v1/resources/{resource}",
        "added_on",
        {"added_on": None},
    ),
    # provider notices posted by a source slad has no connector for
    Case("notice beyond 64 bits", "get", f"/v1/provider-notices/{BEYOND_64}", "notice_id"),
    Case("notices of customer 10^20", "get", f"/v1/provider-notices?customer={HUGE}", "customer"),
    Case(
        "notices active in year 9999",
        "get",
        "/v1/provider-notices?active_at=9999-12-31T23:59:59-12:00",
        "active_at",
    ),
    Case(
        "notice starting in year 1",
        "post",
        "/v1/provider-notices",
        "starts_at",
        NOTICE | {"starts_at": FAR_EAST_YEAR_1},
        role="ingest",
    ),
    Case(
        "NUL in a notice title",
        "post",
        "/v1/provider-notices",
        "title",
        NOTICE | {"title": {"en": NUL}},
        role="ingest",
    ),
    Case(
        "NUL in a notice's affected resource",
        "post",
        "/v1/provider-notices",
        "affected_resources",
        NOTICE | {"affected_resources": [{"aws.instance": NUL}]},
        role="ingest",
    ),
    Case(
        "NUL in a notice's raw payload",
        "post",
        "/v1/provider-notices",
        "raw",
        NOTICE | {"raw": {"detail": [NUL]}},
        role="ingest",
    ),
    # lone surrogates: no UTF-8 encoding exists for them
    Case(
        "lone surrogate in a customer name",
        "post",
        "/v1/customers",
        "name",
        raw_json('{"name": @}', SURROGATE),
    ),
    Case(
        "lone surrogate in a note",
        "post",
        "/v1/incidents/{incident}/notes",
        "text",
        raw_json('{"text": @}', SURROGATE),
        role="operator",
    ),
    Case(
        "lone surrogate in an event title",
        "post",
        "/v1/events",
        "title",
        raw_json(json.dumps(event("s1", "problem", T0, title="@")).replace('"@"', "@"), SURROGATE),
        role="ingest",
    ),
    # bodies FastAPI cannot read as JSON: a validation problem like any other non-JSON
    Case("body that is not UTF-8", "post", "/v1/customers", "body", b'{"name": "\xff\xfe"}'),
    Case(
        "body nested too deeply",
        "post",
        "/v1/incidents/{incident}/notes",
        "body",
        b"[" * 20_000 + b"]" * 20_000,
        role="operator",
    ),
    # a body naming a row that does not exist is wrong in the body, not in the path
    Case(
        "contract of a customer that does not exist",
        "post",
        "/v1/contracts",
        "customer_id",
        {"customer_id": 999_999, "plan": "standard", "billing_start": "2026-04-01"},
    ),
    Case(
        "resource of a contract that does not exist",
        "post",
        "/v1/resources",
        "contract_id",
        {"contract_id": 999_999, "name": "db01", "kind": "vm"},
    ),
    Case(
        "alert assigned to a resource that does not exist",
        "post",
        "/v1/alerts/{alert}/assign",
        "resource_id",
        {"resource_id": 999_999},
        role="operator",
    ),
    Case(
        "merge with an incident that does not exist",
        "post",
        "/v1/incidents/{incident}/merge",
        "incident_id",
        {"incident_id": 999_999, "reason": "same outage"},
        role="operator",
    ),
]


def zabbix_case(name: str, field: str, raw: bytes) -> Case:
    return Case(name, "zabbix", "/v1/webhooks/zabbix/main", field, raw)


def notification(**changes: Any) -> dict[str, Any]:
    return body("77") | changes


ZABBIX_CASES = [
    zabbix_case(
        "signed notification with a lone surrogate",
        "event_name",
        json.dumps(notification(event_name="@")).encode().replace(b'"@"', SURROGATE),
    ),
    zabbix_case(
        "signed notification with deeply nested tags",
        "body",
        json.dumps(notification(tags="@")).encode().replace(b'"@"', b"[" * 5000 + b"]" * 5000),
    ),
    zabbix_case(
        "signed notification with tags nested a hundred deep",
        "tags",
        json.dumps(notification(tags=[{"tag": "a", "value": "@"}]))
        .encode()
        .replace(b'"@"', b'{"x": ' * 100 + b"1" + b"}" * 100),
    ),
    zabbix_case(
        "signed notification of year 1",
        "event_date",
        json.dumps(notification(event_date="0001.01.01", event_time="00:00:00")).encode(),
    ),
    zabbix_case(
        "signed notification with a NUL in its name",
        "event_name",
        json.dumps(notification(event_name=NUL)).encode(),
    ),
    zabbix_case(
        "signed notification with a NUL in a tag",
        "tags",
        json.dumps(notification(tags=[{"tag": "service", "value": NUL}])).encode(),
    ),
]


@pytest.fixture(scope="module", params=BACKENDS)
def seeded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Api, dict[str, int]]]:
    """A Zabbix-enabled app with one row of each kind the cases address, shared by the
    cases of a backend: each leaves the store as it found it, or fails."""
    directory = tmp_path_factory.mktemp("bad-input")
    with migrated_database(request.param, directory) as (url, engine):
        api = zabbix_api(partial(open_api, url, engine, FakeClock(), "bad-input"), FakeZabbix())
        try:
            yield api, seed(api)
        finally:
            api.client.__exit__(None, None, None)


def seed(api: Api) -> dict[str, int]:
    ids = seed_registry(api)
    api.clock.set(T0)
    result = api.ok(api.post("/v1/events?wait=true", event("e1", "problem", T0), role="ingest"))
    ids["incident"] = result["results"][0]["incident_id"]
    stray = event("e2", "problem", T0, problem="p2", host="nowhere")
    result = api.ok(api.post("/v1/events?wait=true", stray, role="ingest"))
    ids["alert"] = result["results"][0]["alert_id"]
    window = {
        "scope": "all",
        "start": (T0 + timedelta(days=1)).isoformat(),
        "end": (T0 + timedelta(days=1, hours=1)).isoformat(),
    }
    ids["window"] = api.ok(api.post("/v1/maintenance-windows", window), 201)["id"]
    return ids


TRACES = {"source_instances"}  # a refused webhook leaves its "last rejected" there, by design


def snapshot(api: Api) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table but `TRACES`, so "the store is unchanged" means that."""
    with api.services.sessions() as session:
        return {
            table.name: [tuple(row) for row in session.execute(select(table).order_by(*table.c))]
            for table in Base.metadata.sorted_tables
            if table.name not in TRACES
        }


def send(api: Api, case: Case, ids: dict[str, int]) -> Any:
    path = case.path.format(**ids)
    if case.method == "zabbix":
        assert isinstance(case.body, bytes)
        return api.client.post(path, content=case.body, headers=sign(case.body))
    headers = api.headers(case.role)
    if isinstance(case.body, bytes):
        headers = {**headers, "Content-Type": "application/json"}
        return api.client.request(case.method, path, content=case.body, headers=headers)
    if case.body is None:
        return api.client.request(case.method, path, headers=headers)
    return api.client.request(case.method, path, json=case.body, headers=headers)


@pytest.mark.parametrize("case", CASES + ZABBIX_CASES, ids=lambda c: c.name)
def test_bad_input_is_a_problem_naming_the_field_and_changes_nothing(
    seeded: tuple[Api, dict[str, int]], case: Case
) -> None:
    api, ids = seeded
    before = snapshot(api)
    answer = send(api, case, ids)
    assert answer.status_code == case.status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["status"] == case.status
    assert case.field in problem["detail"], problem
    assert snapshot(api) == before


def service_request(api: Api, contract: int) -> None:
    body = {"contract_id": contract, "channel": "phone", "subject": "db slow"}
    api.ok(api.post("/v1/customer-incidents", body), 201)


def option_hours(api: Api, contract: int) -> None:
    body = {"option": "professional_support", "month": "2026-10", "hours": 1, "note": "db"}
    api.ok(api.post(f"/v1/contracts/{contract}/hours", body), 201)


@pytest.mark.parametrize("refer", [service_request, option_hours], ids=lambda f: f.__name__)
def test_deleting_a_contract_something_still_refers_to_is_a_conflict(api: Api, refer: Any) -> None:
    """Whatever table refers to the contract, the delete is a 409 naming it, not a 500
    from the database's foreign key, and the contract stays."""
    customer = api.ok(api.post("/v1/customers", {"name": "Kanda"}, role="admin"), 201)["id"]
    body = {
        "customer_id": customer,
        "plan": "full_managed",
        "professional_support": True,
        "billing_start": "2026-04-01",
    }
    contract = api.ok(api.post("/v1/contracts", body, role="admin"), 201)["id"]
    refer(api, contract)
    before = snapshot(api)
    answer = api.delete(f"/v1/contracts/{contract}", role="admin")
    assert answer.status_code == 409, answer.text
    assert answer.json()["type"] == "urn:slad:problem:in-use"
    assert f"contract {contract}" in answer.json()["detail"]
    assert snapshot(api) == before
