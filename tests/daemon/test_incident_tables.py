"""`slad incidents due` and `slad incidents list`: owed clocks by time left, for people
and scripts, in the calendar's time zone, and quiet when the reader stops reading."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from daemon.cli import EXIT_PIPE, main
from daemon.incident_tables import due_rows, list_incidents, print_due, print_list
from daemon.owed import format_left
from tests.daemon.conftest import Api
from tests.daemon.test_owed import T0, owed_world

TOKYO = ZoneInfo("Asia/Tokyo")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(750, "12m 30s"), (59, "59s"), (7500, "2h 05m"), (273600, "3d 04h"), (-250, "-4m 10s")],
)
def test_time_left_reads_like_a_person_says_it(seconds: float, text: str) -> None:
    assert format_left(seconds) == text


def test_due_table_sorts_owed_clocks_by_time_left_in_tokyo_time(api: Api) -> None:
    world = owed_world(api)
    now = T0 + timedelta(minutes=1)
    out = io.StringIO()
    with api.services.sessions() as session:
        print_due(due_rows(session, now), now, TOKYO, False, out)
    header, *lines = out.getvalue().splitlines()
    assert header.split() == ["CUSTOMER", "RESOURCE", "INCIDENT", "CLOCK", "TARGET", "DUE", "LEFT"]
    assert [line.split()[2] for line in lines] == [
        str(world["overdue"]),
        str(world["recovered"]),
        str(world["fresh"]),
    ], "the done incident owes nothing; the recovered one still owes its contact"
    overdue, recovered, fresh = lines
    assert overdue.split()[3:5] == ["contact", "SLA"] and overdue.endswith("-11m 00s")
    assert "2026-11-24 10:10:00 JST" in recovered and recovered.endswith("9m 00s")
    assert fresh.split()[:2] == ["acme-standard", "web01"]
    assert "2026-11-24 10:30:00 JST" in fresh and fresh.endswith("29m 00s")

    out = io.StringIO()
    with api.services.sessions() as session:
        print_due(due_rows(session, now), now, TOKYO, True, out)
    first = json.loads(out.getvalue().splitlines()[1])
    assert first == {
        "customer": "acme-standard",
        "resource": "web02",
        "incident_id": world["recovered"],
        "title": "problem web02",
        "clock": "contact",
        "target": "slo",
        "due": "2026-11-24T10:10:00+09:00",
        "seconds_left": 540.0,
    }


def test_list_has_a_header_the_customer_and_the_time_left(api: Api) -> None:
    world = owed_world(api)
    now = T0 + timedelta(minutes=1)
    out = io.StringIO()
    with api.services.sessions() as session:
        print_list(list_incidents(session, None, 20), now, TOKYO, False, out)
    header, *lines = out.getvalue().splitlines()
    assert header.split()[:5] == ["ID", "STATUS", "PLAN", "CUSTOMER", "DETECTED"]
    assert "LEFT" in header
    fresh = next(line for line in lines if line.startswith(str(world["fresh"])))
    assert "acme-standard" in fresh and "2026-11-24 10:00:00 JST" in fresh
    assert "contact SLO" in fresh and "29m 00s" in fresh

    out = io.StringIO()
    with api.services.sessions() as session:
        print_list(list_incidents(session, "resolved", 20), now, TOKYO, True, out)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    recovered = next(r for r in rows if r["id"] == world["recovered"])
    assert recovered["customer"] == "acme-standard" and recovered["owed"] is True
    assert recovered["seconds_left"] == 540.0


def _config(tmp_path: Path, url: str) -> Path:
    config = tmp_path / "slad.toml"
    config.write_text(f"[database]\nurl = {json.dumps(url)}\n")
    return config


def test_due_command_prints_the_table_and_json(
    database: tuple[str, Engine], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, database[0])
    assert main(["--config", str(config), "incidents", "due"]) == 0
    assert capsys.readouterr().out.split() == [
        "CUSTOMER",
        "RESOURCE",
        "INCIDENT",
        "CLOCK",
        "TARGET",
        "DUE",
        "LEFT",
    ]
    assert main(["--config", str(config), "incidents", "due", "--json"]) == 0
    assert capsys.readouterr().out == ""


def test_due_piped_into_a_closed_reader_ends_without_a_traceback(
    database: tuple[str, Engine], tmp_path: Path
) -> None:
    config = _config(tmp_path, database[0])
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader (`head`) has gone before slad writes
    try:
        done = subprocess.run(
            [sys.executable, "-m", "daemon.cli", "--config", str(config), "incidents", "due"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write_end)
    assert done.stderr == ""
    assert done.returncode == EXIT_PIPE
