"""The OpenAPI document lists every status a route answers, each error as the
problem+json slad sends; the statuses of the whole API are checked against a running
daemon by `tests/e2e/test_api_schema.py`."""

from __future__ import annotations

from typing import Any

from connectors.zabbix.webhook import TEST_FIELD
from daemon.sources.webhooks import ControlOut
from tests.daemon.conftest import Api, ApiFactory
from tests.daemon.test_zabbix_source import FakeZabbix, deliver, zabbix_api

PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/ProblemOut"}}}


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def test_every_error_answer_is_documented_as_a_problem(api: Api) -> None:
    document = api.client.get("/openapi.json").json()
    for method, path, operation in operations(document):
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                assert response["content"] == PROBLEM, (method, path, status)
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_statuses_that_come_from_where_a_route_sits_are_documented(api: Api) -> None:
    document = api.client.get("/openapi.json").json()
    for method, path, operation in operations(document):
        statuses = set(operation["responses"])
        if "security" in operation:
            assert {"401", "403"} <= statuses, (method, path)
        if "requestBody" in operation:
            assert {"413", "422"} <= statuses, (method, path)
        if path.startswith("/v1/"):
            assert {"422", "503"} <= statuses, (method, path)
        if "{" in path and path.split("{")[1].split("}")[0].endswith("_id"):
            assert "404" in statuses, (method, path)
    post_events = document["paths"]["/v1/events"]["post"]
    assert {"401", "403"} <= set(post_events["responses"])


def test_conflicts_are_documented_where_they_happen(api: Api) -> None:
    paths = api.client.get("/openapi.json").json()["paths"]
    for method, path in (
        ("post", "/v1/incidents/{incident_id}/merge"),
        ("post", "/v1/alerts/{alert_id}/split"),
        ("post", "/v1/window-changes/{change_id}/accept"),
        ("post", "/v1/window-changes/{change_id}/reject"),
        ("delete", "/v1/contracts/{contract_id}"),
        ("post", "/v1/charges/{month}/close"),
    ):
        assert "409" in paths[path][method]["responses"], (method, path)


def test_a_webhook_answered_without_alerts_matches_its_documented_answer(
    api_factory: ApiFactory,
) -> None:
    api = zabbix_api(api_factory, FakeZabbix())
    answer = deliver(api, {TEST_FIELD: True})
    assert answer.status_code == 200, answer.text
    assert ControlOut.model_validate(answer.json()).note
    documented = api.client.get("/openapi.json").json()["paths"]["/v1/webhooks/zabbix/{instance}"]
    schema = documented["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert {"$ref": "#/components/schemas/ControlOut"} in schema["anyOf"]
