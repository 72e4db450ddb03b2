"""The console over TestClient: sign-in and sessions, CSRF, roles, the board, actions,
the incident page's clock strip, the unassigned queue and the language."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from daemon.store.models import AuditEntry, ConsoleSession, MaintenanceWindow
from tests.daemon.conftest import Api, event, seed_registry
from tests.daemon.test_incident_flow import iso
from tests.daemon.test_owed import T0, add_resource, detect

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class Browser:
    """A cookie-keeping client of the console on `api`'s app, signed in as one role."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.client = TestClient(api.client.app, follow_redirects=False)
        self.csrf = ""

    def sign_in(self, role: str) -> Browser:
        form = self.client.get("/console/sign-in")
        assert form.status_code == 200
        answer = self.client.post(
            "/console/sign-in",
            data={"csrf": csrf_of(form.text), "token": self.api.tokens[role], "next": ""},
        )
        assert answer.status_code == 303, answer.text
        self.csrf = csrf_of(self.get("/console/board").text)
        return self

    def get(self, path: str) -> object:
        return self.client.get(path)

    def post(self, path: str, **fields: str) -> object:
        return self.client.post(path, data={"csrf": self.csrf, **fields})


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def board_order(html: str) -> list[tuple[str, str]]:
    return re.findall(r'data-incident="(\d+)" data-clock="(\w+)"', html)


def test_sign_in_opens_a_session_whose_id_is_stored_only_as_a_hash(api: Api) -> None:
    browser = Browser(api)
    form = browser.client.get("/console/sign-in")
    answer = browser.client.post(
        "/console/sign-in",
        data={"csrf": csrf_of(form.text), "token": api.tokens["viewer"], "next": "/console/alerts"},
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/console/alerts"
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("slad_console="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    session_id = cookie.split(";")[0].split("=", 1)[1]
    with api.services.sessions() as session:
        rows = list(session.scalars(select(ConsoleSession)))
        audits = list(
            session.scalars(select(AuditEntry).where(AuditEntry.action == "console.sign_in"))
        )
    assert [r.session_hash for r in rows] == [hashlib.sha256(session_id.encode()).hexdigest()]
    assert [a.actor for a in audits] == ["test-viewer-0"]
    page = browser.client.get("/console/board")
    assert page.status_code == 200 and "test-viewer-0" in page.text


def test_the_cookie_is_secure_over_https_or_when_configured(api_factory) -> None:
    from dataclasses import replace

    from daemon.config import ConsoleConfig

    def cookie(api: Api, base_url: str) -> str:
        """The session cookie slad sets, reached at `base_url` (a TLS-terminating proxy
        talks plain HTTP to slad while the browser, which holds the cookies, is on https)."""
        client = TestClient(api.client.app, base_url=base_url, follow_redirects=False)
        form = client.get("/console/sign-in")
        pre = form.headers["set-cookie"].split(";")[0]
        answer = client.post(
            "/console/sign-in",
            data={"csrf": csrf_of(form.text), "token": api.tokens["viewer"]},
            headers={"Cookie": pre},
        )
        assert answer.status_code == 303
        return next(
            c for c in answer.headers.get_list("set-cookie") if c.startswith("slad_console=")
        )

    plain = api_factory()
    assert "Secure" not in cookie(plain, "http://testserver")
    assert "Secure" in cookie(plain, "https://testserver")
    proxied = api_factory(console=replace(ConsoleConfig(), secure_cookie=True))
    assert "Secure" in cookie(proxied, "http://testserver")


def test_console_settings_are_checked() -> None:
    import pytest

    from daemon.config import ConfigError, load_config

    assert load_config(None, environ={"SLAD_CONSOLE__LANGUAGE": "en"}).console.language == "en"
    with pytest.raises(ConfigError, match=r"\[console\] language must be 'ja' or 'en'"):
        load_config(None, environ={"SLAD_CONSOLE__LANGUAGE": "fr"})
    with pytest.raises(ConfigError, match=r"\[console\] idle_minutes must be at least 1"):
        load_config(None, environ={"SLAD_CONSOLE__IDLE_MINUTES": "0"})


def test_sign_in_refuses_unknown_and_ingest_tokens_and_a_form_without_its_token(api: Api) -> None:
    browser = Browser(api)
    csrf = csrf_of(browser.client.get("/console/sign-in").text)
    for token, reason in (("slad_nope", "トークンが不明です"), (api.tokens["ingest"], "ingest")):
        refused = browser.client.post("/console/sign-in", data={"csrf": csrf, "token": token})
        assert refused.status_code == 401 and reason in refused.text
    forged = browser.client.post(
        "/console/sign-in", data={"csrf": "guess", "token": api.tokens["admin"]}
    )
    assert forged.status_code == 403
    stranger = TestClient(api.client.app, follow_redirects=False)
    no_cookie = stranger.post("/console/sign-in", data={"csrf": csrf, "token": api.tokens["admin"]})
    assert no_cookie.status_code == 403
    with api.services.sessions() as session:
        assert list(session.scalars(select(ConsoleSession))) == []


def test_pages_send_strangers_to_sign_in_and_fragments_answer_401(api: Api) -> None:
    stranger = TestClient(api.client.app, follow_redirects=False)
    page = stranger.get("/console/incidents/7")
    assert page.status_code == 303
    assert page.headers["location"] == "/console/sign-in?next=%2Fconsole%2Fincidents%2F7"
    assert stranger.get("/console/board/rows").status_code == 401
    assert stranger.post("/console/incidents/7/contact", data={}).status_code == 401


def test_an_idle_session_expires_and_polling_does_not_keep_it_open(api: Api) -> None:
    browser = Browser(api).sign_in("viewer")
    api.clock.advance(hours=11)
    assert browser.get("/console/board/rows").status_code == 200
    api.clock.advance(minutes=61)  # 12 h 1 min after the last page, polls in between
    assert browser.get("/console/board/rows").status_code == 401
    assert browser.get("/console/board").status_code == 303


def test_using_a_page_keeps_the_session_open(api: Api) -> None:
    browser = Browser(api).sign_in("viewer")
    api.clock.advance(hours=11)
    assert browser.get("/console/board").status_code == 200
    api.clock.advance(hours=11)
    assert browser.get("/console/board").status_code == 200


def test_the_idle_time_is_configurable(api_factory) -> None:
    from dataclasses import replace

    from daemon.config import ConsoleConfig

    api = api_factory()
    short = api_factory(console=replace(ConsoleConfig(), idle_minutes=5))
    browser = Browser(short).sign_in("viewer")
    short.clock.advance(minutes=5)
    assert browser.get("/console/board").status_code == 303
    assert api is not short


def test_sign_out_and_revoking_the_token_end_the_session(api: Api) -> None:
    browser = Browser(api).sign_in("viewer")
    assert browser.client.post("/console/sign-out", data={}).status_code == 403
    assert browser.post("/console/sign-out").status_code == 303
    assert browser.get("/console/board").status_code == 303
    other = Browser(api).sign_in("operator")
    token_id = api.ok(api.get("/v1/tokens", role="admin"))
    operator = next(t for t in token_id if t["name"] == "test-operator-0")
    api.ok(api.post(f"/v1/tokens/{operator['id']}/revoke", {"reason": "left"}, role="admin"))
    assert other.get("/console/board").status_code == 303


def test_the_board_orders_owed_clocks_by_time_left_and_colours_them(api: Api) -> None:
    ids = seed_registry(api)
    add_resource(api, ids["contract"], "web02")
    add_resource(api, ids["contract"], "web03")
    late = detect(api, "web01", T0)
    soon = detect(api, "web02", T0 - timedelta(minutes=20))
    overdue = detect(api, "web03", T0 - timedelta(minutes=70))
    api.clock.set(T0 + timedelta(minutes=1))
    browser = Browser(api).sign_in("operator")
    page = browser.get("/console/board")
    assert board_order(page.text) == [
        (str(overdue), "contact"),
        (str(soon), "contact"),
        (str(late), "contact"),
    ]
    levels = re.findall(r'class="row level-(\w+)"', page.text)
    assert levels == ["breach", "warn", "ok"]  # past its SLA, 21 of 30 min (past 50 %), 1 min
    assert 'data-action="contact"' in page.text
    fragment = browser.get("/console/board/rows")
    assert board_order(fragment.text) == board_order(page.text)
    assert fragment.text.lstrip().startswith("<tbody")


def test_a_contact_from_the_board_stops_the_clock_and_is_audited(api: Api) -> None:
    seed_registry(api)
    incident_id = detect(api, "web01", T0)
    browser = Browser(api).sign_in("operator")
    confirm = browser.get(f"/console/incidents/{incident_id}/contact")
    assert confirm.status_code == 200 and 'name="reason"' in confirm.text
    done = browser.post(f"/console/incidents/{incident_id}/contact", note="phoned")
    assert done.status_code == 303
    assert done.headers["location"] == f"/console/board?done=contacted&incident={incident_id}"
    detail = api.ok(api.get(f"/v1/incidents/{incident_id}"))
    assert detail["contacted_at"] == iso(T0)
    contact = next(c for c in detail["clocks"] if c["name"] == "contact")
    assert contact["state"] == "stopped"
    assert board_order(browser.get("/console/board").text) == [(str(incident_id), "report")]
    with api.services.sessions() as session:
        actors = session.scalars(
            select(AuditEntry.actor).where(AuditEntry.action == "incident.contacted")
        ).all()
    assert actors == ["test-operator-0"]
    again = browser.post(f"/console/incidents/{incident_id}/contact")
    assert again.status_code == 409 and "already-contacted" in again.text


def test_a_past_instant_needs_a_reason_as_over_the_api(api: Api) -> None:
    seed_registry(api)
    incident_id = detect(api, "web01", T0)
    api.clock.set(T0 + timedelta(minutes=20))
    browser = Browser(api).sign_in("operator")
    past = "2026-11-24T10:05"  # Asia/Tokyo, 01:05 UTC
    refused = browser.post(f"/console/incidents/{incident_id}/contact", at=past)
    assert refused.status_code == 422 and 'data-error="problem.reason-required"' in refused.text
    assert api.ok(api.get(f"/v1/incidents/{incident_id}"))["contacted_at"] is None
    done = browser.post(f"/console/incidents/{incident_id}/contact", at=past, reason="phone log")
    assert done.status_code == 303
    assert api.ok(api.get(f"/v1/incidents/{incident_id}"))["contacted_at"] == iso(
        T0 + timedelta(minutes=5)
    )
    bad = browser.post(f"/console/incidents/{incident_id}/report", at="yesterday")
    assert bad.status_code == 422


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(api: Api) -> None:
    seed_registry(api)
    incident_id = detect(api, "web01", T0)
    browser = Browser(api).sign_in("operator")
    for fields in ({}, {"csrf": "not-the-token"}):
        refused = browser.client.post(f"/console/incidents/{incident_id}/contact", data=fields)
        assert refused.status_code == 403 and 'data-error="error.csrf"' in refused.text
    other = Browser(api).sign_in("operator")
    foreign = browser.client.post(
        f"/console/incidents/{incident_id}/contact", data={"csrf": other.csrf}
    )
    assert foreign.status_code == 403
    assert api.ok(api.get(f"/v1/incidents/{incident_id}"))["contacted_at"] is None


def test_a_viewer_sees_the_board_but_cannot_act(api: Api) -> None:
    seed_registry(api)
    incident_id = detect(api, "web01", T0)
    viewer = Browser(api).sign_in("viewer")
    board = viewer.get("/console/board")
    assert board_order(board.text) == [(str(incident_id), "contact")]
    assert "data-action" not in board.text
    assert viewer.get(f"/console/incidents/{incident_id}/contact").status_code == 403
    refused = viewer.post(f"/console/incidents/{incident_id}/contact")
    assert refused.status_code == 403 and 'data-error="error.forbidden"' in refused.text
    assert viewer.post("/console/alerts/1/assign", resource_id="1").status_code == 403
    assert api.ok(api.get(f"/v1/incidents/{incident_id}"))["contacted_at"] is None


def test_the_incident_page_draws_the_excluded_stretch_with_its_window(api: Api) -> None:
    ids = seed_registry(api)
    incident_id = detect(api, "web01", T0)
    api.clock.set(T0 + timedelta(minutes=5))
    api.ok(
        api.post(
            "/v1/maintenance-windows",
            {
                "scope": "resource",
                "scope_ref": ids["resource"],
                "description": "kernel update",
                "start": iso(T0 + timedelta(minutes=10)),
                "end": iso(T0 + timedelta(minutes=30)),
            },
        ),
        201,
    )
    api.clock.set(T0 + timedelta(minutes=40))
    page = Browser(api).sign_in("viewer").get(f"/console/incidents/{incident_id}")
    assert page.status_code == 200
    contact = page.text.split('data-clock-strip="contact"')[1].split('data-clock-strip="report"')[0]
    assert re.findall(r'data-segment="(\w+)"', contact) == [
        "counted",
        "excluded",
        "counted",
        "counted",
    ]
    assert 'data-label="maintenance #1: kernel update"' in contact
    # 20 of the strip's 80 minutes (detection to the SLA due at 02:20) are excluded.
    assert 'x="125.0" y="18" width="250.0"' in contact
    assert 'class="mark mark-slo" x1="625.0"' in contact
    assert "data-moves" in contact and "window.create" in contact
    assert (
        "2026-11-24 10:00:00 JST" in page.text and 'title="2026-11-24T01:00:00Z (UTC)"' in page.text
    )
    assert Browser(api).sign_in("viewer").get("/console/incidents/999").status_code == 404


def test_the_language_is_chosen_per_user(api: Api) -> None:
    seed_registry(api)
    detect(api, "web01", T0)
    browser = Browser(api).sign_in("viewer")
    assert "対応が必要なクロック" in browser.get("/console/board").text
    changed = browser.post("/console/language", language="en", back="/console/board")
    assert changed.status_code == 303 and changed.headers["location"] == "/console/board"
    assert "Owed clocks" in browser.get("/console/board").text
    assert "対応が必要なクロック" in Browser(api).sign_in("viewer").get("/console/board").text
    assert browser.post("/console/language", language="fr").status_code == 422
    elsewhere = browser.post("/console/language", language="ja", back="https://evil.example/")
    assert elsewhere.headers["location"] == "/console/board"


def test_an_unassigned_alert_is_assigned_from_the_queue(api: Api) -> None:
    ids = seed_registry(api)
    api.ok(
        api.post(
            "/v1/events?wait=true",
            event("lost-1", "problem", T0, problem="lost", host="db09"),
            role="ingest",
        )
    )
    browser = Browser(api).sign_in("operator")
    queue = browser.get("/console/alerts")
    alert_id = int(re.findall(r'data-alert="(\d+)"', queue.text)[0])
    done = browser.post(f"/console/alerts/{alert_id}/assign", resource_id=str(ids["resource"]))
    assert done.status_code == 303
    assert 'data-alert="' not in browser.get("/console/alerts").text
    alert = next(a for a in api.ok(api.get("/v1/alerts")).get("items") if a["id"] == alert_id)
    assert alert["incident_id"] is not None


def test_windows_notices_and_sources_pages_render(api: Api) -> None:
    ids = seed_registry(api)
    api.ok(
        api.post(
            "/v1/maintenance-windows",
            {
                "scope": "customer",
                "scope_ref": ids["customer"],
                "description": "patch night",
                "start": iso(T0 + timedelta(days=1)),
                "end": iso(T0 + timedelta(days=1, hours=2)),
            },
        ),
        201,
    )
    browser = Browser(api).sign_in("viewer")
    windows = browser.get(f"/console/windows?resource={ids['resource']}")
    assert windows.status_code == 200 and "patch night" in windows.text
    assert "patch night" not in browser.get("/console/windows?resource=999").text
    assert browser.get("/console/notices").status_code == 200
    assert browser.get("/console/sources").status_code == 200


def test_the_windows_calendar_expands_recurrences_and_marks_synchronised_windows(
    api: Api,
) -> None:
    ids = seed_registry(api)
    weekly = api.ok(
        api.post(
            "/v1/maintenance-windows",
            {
                "scope": "resource",
                "scope_ref": ids["resource"],
                "description": "weekly patching",
                "start": "2026-11-24T17:00:00Z",  # Wednesday 02:00 in Tokyo
                "rrule": "FREQ=WEEKLY",
                "duration_minutes": 120,
            },
        ),
        201,
    )
    with api.services.sessions.begin() as session:
        synced = MaintenanceWindow(
            scope="resource",
            scope_ref=ids["resource"],
            kind="provider_maintenance",
            description="host retirement",
            start_at=T0 + timedelta(days=2),
            end_at=T0 + timedelta(days=2, hours=1),
            external_ref="aws:health:arn-1",
            author="source:aws",
            created_at=T0,
            updated_at=T0,
        )
        session.add(synced)
    page = Browser(api).sign_in("viewer").get(f"/console/windows?resource={ids['resource']}")
    days = re.findall(r'data-day="([\d-]+)"', page.text)
    assert days[0] == "2026-11-24" and len(days) == 14
    cells = page.text.split('data-day="')
    weekly_days = [c[:10] for c in cells[1:] if f'data-occurrence="{weekly["id"]}"' in c]
    assert weekly_days == ["2026-11-25", "2026-12-02"]
    assert "02:00-04:00" in page.text
    synced_cell = next(c for c in cells[1:] if c.startswith("2026-11-26"))
    assert "host retirement" in synced_cell and "ソース同期" in synced_cell
    assert page.text.count("data-synced") == 1


def test_the_console_is_not_in_the_openapi_document(api: Api) -> None:
    paths = api.ok(api.client.get("/openapi.json"))["paths"]
    assert not [p for p in paths if p.startswith("/console")]
    assert api.client.get("/console/static/console.css").status_code == 200
