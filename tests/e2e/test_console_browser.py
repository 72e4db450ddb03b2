"""The console in a real browser (Debian's Chromium, headless, through Playwright)
against a real `slad run`: sign in, the board's order and countdown, a contact from the
board, a viewer who cannot act, a form without its CSRF token, the clock strip and both
languages. Screenshots of the board and an incident page go to `tests/e2e/artifacts/`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.slad_process import SladProcess, free_port, slad

pytestmark = pytest.mark.e2e

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = os.environ.get("SLAD_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
STATIC = Path(__file__).resolve().parents[2] / "daemon" / "console" / "static"


@dataclass
class World:
    server: SladProcess
    tokens: dict[str, str]
    incidents: dict[str, int]

    def api(self, method: str, path: str, role: str = "admin", **kwargs: Any) -> Any:
        response = httpx.request(
            method,
            f"{self.server.url}{path}",
            headers={"Authorization": f"Bearer {self.tokens[role]}"},
            timeout=60,
            **kwargs,
        )
        assert response.status_code < 300, response.text
        return response.json()


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("console")
    config = tmp / "slad.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{tmp / "slad.db"}"\n[console]\npoll_seconds = 2\n'
    )
    slad(config, "migrate")
    tokens = {
        role: slad(config, "token", "create", "--role", role, "--name", f"e2e-{role}").strip()
        for role in ("admin", "operator", "viewer", "ingest")
    }
    server = SladProcess(config, free_port(), tmp / "slad.log").start()
    world = World(server, tokens, {})
    try:
        customer = world.api("POST", "/v1/customers", json={"name": "神田商事"})
        contract = world.api(
            "POST",
            "/v1/contracts",
            json={"customer_id": customer["id"], "plan": "standard", "billing_start": "2026-04-01"},
        )
        resources = {}
        for host in ("web01", "web02", "db01"):
            resources[host] = world.api(
                "POST",
                "/v1/resources",
                json={
                    "contract_id": contract["id"],
                    "name": host,
                    "kind": "vm",
                    "selectors": [{"zabbix.host": host}],
                },
            )["id"]
        now = datetime.now(UTC)
        for name, host, minutes in (
            ("fresh", "web01", 1),
            ("warned", "web02", 20),
            ("late", "db01", 90),
        ):
            answer = world.api(
                "POST",
                "/v1/events?wait=true",
                role="ingest",
                json={
                    "event_key": f"e2e-{host}",
                    "problem_key": f"{host}-down",
                    "kind": "problem",
                    "detected_at": _iso(now - timedelta(minutes=minutes)),
                    "title": f"{host} is down",
                    "severity": "high",
                    "resource_ids": {"zabbix.host": host},
                },
            )
            world.incidents[name] = answer["results"][0]["incident_id"]
        world.api(
            "POST",
            "/v1/maintenance-windows",
            role="operator",
            json={
                "scope": "resource",
                "scope_ref": resources["db01"],
                "description": "DB failover test",
                "start": _iso(now - timedelta(minutes=80)),
                "end": _iso(now - timedelta(minutes=70)),
                "reason": "approved change CHG-7",
            },
        )
        yield world
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser(world: World) -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with playwright_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield chromium
        chromium.close()


def signed_in(browser: Any, world: World, role: str, width: int = 1920, height: int = 1080) -> Any:
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.goto(f"{world.server.url}/console/board")
    assert "/console/sign-in" in page.url
    page.fill("#token", world.tokens[role])
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/console/board$"))
    return page


def rows(page: Any) -> list[tuple[int, str, int]]:
    return [
        (
            int(r.get_attribute("data-incident")),
            r.get_attribute("data-clock"),
            int(r.get_attribute("data-seconds-left")),
        )
        for r in page.locator("tr.row[data-due]").all()
    ]


def test_the_board_orders_rows_by_time_left_and_counts_down(browser: Any, world: World) -> None:
    page = signed_in(browser, world, "operator")
    assert page.locator("[data-user]").inner_text() == "e2e-operator"
    shown = rows(page)
    contact_rows = [(i, left) for i, clock, left in shown if clock == "contact"]
    assert [i for i, _ in contact_rows] == [
        world.incidents["late"],
        world.incidents["warned"],
        world.incidents["fresh"],
    ]
    assert [left for _, _, left in shown] == sorted(left for _, _, left in shown)
    levels = [
        page.locator(f'tr.row[data-incident="{i}"]').get_attribute("data-level")
        for i, _ in contact_rows
    ]
    assert levels == ["breach", "warn", "ok"]
    first = page.locator("tr.row [data-left]").first
    before = first.inner_text()
    page.wait_for_function(
        "before => document.querySelector('tr.row [data-left]').textContent !== before",
        arg=before,
        timeout=5000,
    )
    assert first.inner_text() != before
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "board-1920x1080.png"))
    page.set_viewport_size({"width": 1366, "height": 768})
    page.screenshot(path=str(ARTIFACTS / "board-1366x768.png"))
    print(f"screenshots in {ARTIFACTS}")
    page.context.close()


def test_a_viewer_cannot_act(browser: Any, world: World) -> None:
    page = signed_in(browser, world, "viewer")
    assert page.locator("tr.row").count() >= 3
    assert page.locator("[data-action]").count() == 0
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    incident = world.incidents["fresh"]
    refused = page.request.post(
        f"{world.server.url}/console/incidents/{incident}/contact", form={"csrf": csrf}
    )
    assert refused.status == 403
    assert world.api("GET", f"/v1/incidents/{incident}")["contacted_at"] is None
    page.context.close()


def test_a_form_without_its_csrf_token_is_refused(browser: Any, world: World) -> None:
    page = signed_in(browser, world, "operator")
    incident = world.incidents["fresh"]
    refused = page.request.post(
        f"{world.server.url}/console/incidents/{incident}/contact", form={"note": "forged"}
    )
    assert refused.status == 403
    assert world.api("GET", f"/v1/incidents/{incident}")["contacted_at"] is None
    page.context.close()


def test_a_contact_from_the_board_stops_the_clock_and_the_row_leaves(
    browser: Any, world: World
) -> None:
    page = signed_in(browser, world, "operator")
    incident = world.incidents["fresh"]
    row = page.locator(f'tr.row[data-incident="{incident}"][data-clock="contact"]')
    row.locator('[data-action="contact"]').click()
    page.wait_for_url(re.compile(rf"/console/incidents/{incident}/contact"))
    page.fill("#note", "phoned the customer")
    page.click("[data-confirm]")
    page.wait_for_url(re.compile(r"/console/board\?done=contacted"))
    assert page.locator("[data-flash]").is_visible()
    assert page.locator(f'tr.row[data-incident="{incident}"][data-clock="contact"]').count() == 0
    assert page.locator(f'tr.row[data-incident="{incident}"][data-clock="report"]').count() == 1
    detail = world.api("GET", f"/v1/incidents/{incident}")
    contact = next(c for c in detail["clocks"] if c["name"] == "contact")
    assert contact["state"] == "stopped" and detail["contacted_at"] is not None
    page.context.close()


def test_the_clock_strip_shows_the_excluded_stretch_with_its_reason(
    browser: Any, world: World
) -> None:
    page = signed_in(browser, world, "viewer")
    page.goto(f"{world.server.url}/console/incidents/{world.incidents['late']}")
    strip = page.locator('[data-clock-strip="contact"]')
    assert strip.locator('rect[data-segment="excluded"]').count() == 1
    assert strip.locator('rect[data-segment="counted"]').count() >= 2
    assert "DB failover test" in strip.locator("[data-excluded-segment]").inner_text()
    assert (
        strip.locator("line.mark-slo").count() == 1 and strip.locator("line.mark-sla").count() == 1
    )
    assert "approved change CHG-7" in strip.locator("[data-moves]").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "incident.png"), full_page=True)
    page.context.close()


def test_japanese_and_english_render(browser: Any, world: World) -> None:
    page = signed_in(browser, world, "viewer")
    assert page.locator("html").get_attribute("lang") == "ja"
    assert "対応が必要なクロック" in page.locator("h1").inner_text()
    assert "顧客連絡" in page.locator("table.board").inner_text()
    page.select_option("[data-language]", "en")
    page.wait_for_function("document.documentElement.lang === 'en'")
    assert "Owed clocks" in page.locator("h1").inner_text()
    assert "Customer contact" in page.locator("table.board").inner_text()
    due = page.locator("table.board time").first
    assert due.get_attribute("title").endswith("Z (UTC)") and "JST" in due.inner_text()
    page.select_option("[data-language]", "ja")
    page.wait_for_function("document.documentElement.lang === 'ja'")
    page.context.close()


def test_a_row_turns_amber_then_red_as_its_countdown_passes_the_marks(browser: Any) -> None:
    """The page's own clock recolours a row between refreshes: at the first warning it
    turns amber, past the SLO red, with the label in the page's language."""
    now = datetime.now(UTC)
    due, warn, slo = (_iso(now + timedelta(seconds=s)) for s in (300, 1, 3))
    page = browser.new_page()
    page.set_content(
        '<table data-board data-rows-url="/none" data-poll-seconds="600" data-label-ok="余裕あり"'
        ' data-label-warn="警告" data-label-breach="違反">'
        f'<tbody data-now="{_iso(now)}"><tr class="row level-ok" data-level="ok"'
        f' data-due="{due}" data-warn="{warn}" data-slo="{slo}"><td data-left>5m 00s</td>'
        "<td><span data-level-label>余裕あり</span></td></tr></tbody></table>"
    )
    page.add_script_tag(path=str(STATIC / "console.js"))
    page.evaluate("document.dispatchEvent(new Event('DOMContentLoaded'))")
    page.wait_for_function(
        "document.querySelector('tr.row').dataset.level === 'warn'", timeout=5000
    )
    assert page.locator("[data-level-label]").inner_text() == "警告"
    assert "level-warn" in page.locator("tr.row").get_attribute("class")
    page.wait_for_function(
        "document.querySelector('tr.row').dataset.level === 'breach'", timeout=6000
    )
    assert page.locator("[data-level-label]").inner_text() == "違反"
    assert re.fullmatch(r"4m \d\ds", page.locator("[data-left]").inner_text())
    page.close()
