"""A closed month survives a crash, and `slad charges` reads what the API wrote.

Against a real `slad run` on SQLite: the registry and the hours are entered over HTTP,
October 2025 is closed, the daemon is killed without shutdown and restarted, and the
month still answers as closed with the same lines, through HTTP and through the CLI.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.slad_process import SladProcess, free_port, slad

pytestmark = pytest.mark.e2e


def test_a_closed_month_survives_a_crash_and_the_cli_reads_it(tmp_path: Path) -> None:
    config = tmp_path / "slad.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "slad.db"}"\n'
        "[prices.professional_support]\nincluded_hours = 4\nhourly_rate_yen = 12000\n"
    )
    slad(config, "migrate")
    admin = slad(config, "token", "create", "--role", "admin", "--name", "e2e").strip()
    server = SladProcess(config, free_port(), tmp_path / "slad.log").start()
    try:

        def ok(method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
            response = server.request(method, path, admin, **kwargs)
            assert response.status_code == status, response.text
            return response.json()

        customer = ok("POST", "/v1/customers", 201, json={"name": "Kanda Trading"})
        contract = ok(
            "POST",
            "/v1/contracts",
            201,
            json={
                "customer_id": customer["id"],
                "plan": "full_managed",
                "professional_support": True,
                "billing_start": "2025-04-01",
            },
        )
        for name, added, retired in (
            ("web01", "2025-04-01", None),
            ("tmp01", "2025-10-11", "2025-10-20"),
        ):
            ok(
                "POST",
                "/v1/resources",
                201,
                json={
                    "contract_id": contract["id"],
                    "name": name,
                    "kind": "vm",
                    "added_on": added,
                    "retired_on": retired,
                },
            )
        ok(
            "POST",
            f"/v1/contracts/{contract['id']}/hours",
            201,
            json={"option": "professional_support", "month": "2025-10", "hours": 6.5, "note": "db"},
        )
        closed = ok("POST", "/v1/charges/2025-10/close")
        # 50,000 + 10/31 of 50,000 (16,129) + 100,000 + 2.5 h x 12,000 (30,000).
        assert [line["amount_yen"] for line in closed["contracts"][0]["lines"]] == [
            50_000,
            16_129,
            100_000,
            30_000,
        ]
        assert closed["status"] == "closed" and closed["total_yen"] == 196_129
        server.kill()
        server.start()
        assert ok("GET", "/v1/charges", params={"month": "2025-10"}) == closed
        assert json.loads(slad(config, "charges", "2025-10", "--format", "json")) == closed
    finally:
        server.stop()
