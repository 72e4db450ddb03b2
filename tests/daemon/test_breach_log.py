"""A breach is logged at WARNING and names its incident in both log formats."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest

from daemon.logs import TEXT_FORMAT, JsonFormatter
from tests.daemon.conftest import Api, seed_registry
from tests.daemon.test_owed import T0, detect


def test_breaches_are_warnings_that_name_the_incident(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    seed_registry(api)
    incident_id = detect(api, "web01", T0)
    api.clock.set(T0 + timedelta(minutes=61))
    with caplog.at_level(logging.INFO, logger="slad.scheduler"):
        assert api.services.processor.run_due(api.clock()) == 4
    marks = {r.mark: r for r in caplog.records if r.name == "slad.scheduler"}  # type: ignore[attr-defined]
    assert marks["warning:0.5"].levelno == logging.INFO
    for mark in ("slo_breached", "sla_breached"):
        record = marks[mark]
        assert record.levelno == logging.WARNING
        text = logging.Formatter(TEXT_FORMAT).format(record)
        assert f"WARNING slad.scheduler incident {incident_id}: clock contact {mark}" in text
        entry = json.loads(JsonFormatter().format(record))
        assert entry["level"] == "WARNING"
        assert entry["incident_id"] == incident_id and entry["mark"] == mark
    assert "2026-11-24T02:00:00+00:00" in marks["sla_breached"].getMessage(), "the true instant"
