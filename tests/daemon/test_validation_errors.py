"""Validation errors read by a person: one line per problem, the field as the client
wrote it, the form expected, the real cause first."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.daemon.conftest import Api, event

T0 = datetime(2026, 11, 24, 0, 50, tzinfo=UTC)


def problem(answer: Any) -> tuple[list[str], list[dict[str, Any]]]:
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    body = answer.json()
    assert body["type"] == "urn:slad:problem:validation-error"
    return body["detail"].split("\n"), body["errors"]


def test_an_event_without_a_time_zone_gets_one_line_about_it(api: Api) -> None:
    naive = event("e1", "problem", T0) | {"detected_at": "2026-11-24T09:50:00"}
    lines, errors = problem(api.post("/v1/events", naive, role="ingest"))
    assert lines == [
        "detected_at: needs a time zone offset: an RFC 3339 instant with a time zone offset,"
        " e.g. 2026-11-24T09:00:00+09:00 or ...T00:00:00Z"
    ]
    assert [(e["field"], e["type"]) for e in errors] == [("detected_at", "timezone_aware")]


def test_a_bad_event_in_a_batch_is_named_by_its_position(api: Api) -> None:
    batch = {"events": [event("e1", "problem", T0), event("e2", "exploded", T0)]}
    lines, _ = problem(api.post("/v1/events", batch, role="ingest"))
    assert lines == [
        "events[1].kind: must be 'problem', 'recovery' or 'update'",
    ]


def test_a_misspelt_field_comes_first_with_the_field_it_misspells(api: Api) -> None:
    lines, _ = problem(api.post("/v1/customers", {"nmae": "acme"}, role="admin"))
    assert lines == [
        "nmae: is not a field of this request; did you mean 'name'?",
        "name: is required",
    ]


def test_parameters_say_where_they_are_and_what_they_take(api: Api) -> None:
    lines, _ = problem(api.get("/v1/incidents?customer=100000000000000000000&breached=maybe"))
    assert lines == [
        "query parameter customer: must be an id from 1 to 9223372036854775807",
        "query parameter breached: must be true or false",
    ]
    lines, _ = problem(api.get("/v1/customers/abc"))
    assert lines == ["path parameter customer_id: must be an integer"]


def test_json_that_does_not_parse_says_so(api: Api) -> None:
    answer = api.client.post(
        "/v1/customers",
        content=b'{"name": ',
        headers={**api.headers("admin"), "Content-Type": "application/json"},
    )
    lines, _ = problem(answer)
    assert len(lines) == 1 and lines[0].startswith("body: is not valid JSON: ")


def test_null_is_refused_where_nothing_can_be_cleared(api: Api) -> None:
    customer = api.ok(api.post("/v1/customers", {"name": "acme"}, role="admin"), 201)
    lines, _ = problem(api.patch(f"/v1/customers/{customer['id']}", {"name": None}, role="admin"))
    assert lines == ["name: cannot be null; leave it out to keep the current value"]
    cleared = api.patch(f"/v1/customers/{customer['id']}", {"contact_email": None}, role="admin")
    assert api.ok(cleared)["contact_email"] is None


def test_the_schema_offers_null_only_where_it_clears(api: Api) -> None:
    schemas = api.client.get("/openapi.json").json()["components"]["schemas"]
    patch = schemas["ContractPatch"]["properties"]
    assert patch["plan"].get("type") == "string" and "anyOf" not in patch["plan"]
    assert {"type": "null"} in patch["cancellation_date"]["anyOf"]


def test_a_free_form_value_no_store_holds_is_named_by_its_path(api: Api) -> None:
    deep: dict[str, Any] = {"leaf": 1}
    for _ in range(40):
        deep = {"x": deep}
    body = event("e1", "problem", T0, raw={"tags": [{"tag": "a", "value": "b\x00"}]})
    lines, _ = problem(api.post("/v1/events", body, role="ingest"))
    assert lines == ["raw.tags[0].value: must not contain NUL characters (U+0000)"]
    lines, _ = problem(api.post("/v1/events", event("e2", "problem", T0, raw=deep), role="ingest"))
    assert lines == [f"raw{'.x' * 32}: nests more than 32 levels deep"]
