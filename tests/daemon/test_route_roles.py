"""Every route of the OpenAPI document admits exactly the roles `docs/api-roles.md` gives it.

The table in that page is the expectation: a route the app serves but the table lacks
(or the other way round) fails here, so no route ships without its role written down,
and the code and the page cannot drift apart.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.daemon.conftest import Api

ROLES_PAGE = Path(__file__).resolve().parents[2] / "docs" / "api-roles.md"
_ROW = re.compile(r"^\| (GET|POST|PATCH|PUT|DELETE) \| `([^`]+)` \| (\w+) \|$")
CALLERS = ("anonymous", "ingest", "viewer", "operator", "admin")
ADMITS = {
    "none": set(CALLERS),
    "signature": set(CALLERS),
    "ingest": {"ingest", "admin"},
    "viewer": {"viewer", "operator", "admin"},
    "operator": {"operator", "admin"},
    "admin": {"admin"},
}


def documented_roles() -> dict[tuple[str, str], str]:
    """(method, route) → least role, as the page's table gives them."""
    table: dict[tuple[str, str], str] = {}
    for line in ROLES_PAGE.read_text(encoding="utf-8").splitlines():
        match = _ROW.match(line.strip())
        if match:
            method, route, role = match.groups()
            assert role in ADMITS, f"{method} {route}: unknown role {role!r} in {ROLES_PAGE}"
            assert (method, route) not in table, f"{method} {route} is listed twice"
            table[(method, route)] = role
    return table


def served_routes(api: Api) -> dict[tuple[str, str], dict[str, Any]]:
    paths: dict[str, dict[str, Any]] = api.ok(api.client.get("/openapi.json"))["paths"]
    return {
        (method.upper(), path): operation
        for path, operations in paths.items()
        for method, operation in operations.items()
    }


def test_every_served_route_has_its_role_written_down(api: Api) -> None:
    served, documented = set(served_routes(api)), set(documented_roles())
    assert sorted(served - documented) == [], f"routes missing from {ROLES_PAGE.name}"
    assert sorted(documented - served) == [], f"{ROLES_PAGE.name} lists routes not served"


def _concrete(path: str, operation: dict[str, Any]) -> str:
    """`path` with every parameter filled in with a value of its type."""
    for parameter in operation.get("parameters", []):
        if parameter["in"] != "path":
            continue
        schema = parameter.get("schema", {})
        value = "start" if "enum" in schema else "1" if schema.get("type") == "integer" else "main"
        path = path.replace("{" + parameter["name"] + "}", value)
    return path


def test_every_route_admits_exactly_its_roles(api: Api) -> None:
    roles = documented_roles()
    wrong = []
    # Revoking token 1 revokes the viewer's own token: that route goes last.
    ordered = sorted(served_routes(api).items(), key=lambda r: ("/revoke" in r[0][1], r[0]))
    for (method, route), operation in ordered:
        role = roles.get((method, route))
        if role is None:
            continue  # reported by the test above
        url = _concrete(route, operation)
        body = {} if method in ("POST", "PATCH", "PUT") else None
        statuses = {
            caller: api.client.request(
                method, url, json=body, headers={} if caller == "anonymous" else api.headers(caller)
            ).status_code
            for caller in CALLERS
        }
        if role == "signature":
            if len(set(statuses.values())) != 1:
                wrong.append(f"{method} {route} depends on the token: {statuses}")
            continue
        for caller, status in statuses.items():
            refused = status in (401, 403)
            if refused == (caller in ADMITS[role]):
                wrong.append(f"{method} {route} as {caller}: {status} (table says {role})")
            elif refused:
                expected = 401 if caller == "anonymous" else 403
                if status != expected:
                    wrong.append(f"{method} {route} as {caller}: {status}, not {expected}")
    assert wrong == []


@pytest.mark.parametrize("route", ["customer-incidents", "operations-requests", "support-requests"])
def test_customers_requests_are_not_for_viewers(api: Api, route: str) -> None:
    refused = api.get(f"/v1/{route}", role="viewer")
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert api.ok(api.get(f"/v1/{route}", role="operator")) == []
