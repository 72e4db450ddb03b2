"""Every write route in the OpenAPI document has a read-your-writes case.

The cases themselves run against a real `slad run` (`tests/faults`, marked e2e); this
check runs with the unit suite, so a write route added without its case fails at once.
"""

from __future__ import annotations

from tests.daemon.conftest import Api
from tests.faults.read_your_writes import WRITE_CASES, write_routes


def test_every_write_route_has_a_read_your_writes_case(api: Api) -> None:
    routes = write_routes(api.client.get("/openapi.json").json())
    assert routes - WRITE_CASES.keys() == set(), "add a case to tests/faults/read_your_writes.py"
    assert WRITE_CASES.keys() - routes == set(), "cases for routes that no longer exist"
