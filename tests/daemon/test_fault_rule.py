"""A fault excuses only the incidents it hid (SPEC section 4), through REST on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from daemon.config import ConfigError, load_config
from sla_engine.policy import DEFAULT_PLANS, apply_overrides
from tests.daemon.conftest import Api, ApiFactory, event, seed_registry
from tests.daemon.test_enforcement import LITERAL_FAULTS, MARKS, timeline
from tests.daemon.test_incident_flow import clocks, iso

T0 = datetime(2026, 11, 24, 0, 50, tzinfo=UTC)


def minutes(value: float) -> datetime:
    return T0 + timedelta(minutes=value)


# Each alert of these tests is a failure of its own, with an incident of its own.
PER_PROBLEM = apply_overrides(DEFAULT_PLANS, {"standard": {"group_by": "problem"}})


def receive(api: Api, key: str, detected: datetime, received: datetime) -> int:
    """An alert detected at `detected` that reaches slad only at `received`."""
    api.clock.set(received)
    body = event(key, "problem", detected, problem=key)
    result = api.ok(api.post("/v1/events?wait=true", body, role="ingest"))
    return int(result["results"][0]["incident_id"])


def open_fault(api: Api, start: datetime, **extra: Any) -> dict[str, Any]:
    body = {"scope": "source", "source": "generic", "kind": "monitoring_fault"}
    return dict(
        api.ok(api.post("/v1/maintenance-windows", {**body, "start": iso(start), **extra}), 201)
    )


def contact(api: Api, incident_id: int) -> dict[str, Any]:
    return clocks(api.ok(api.get(f"/v1/incidents/{incident_id}")))["contact"]


def test_a_fault_excuses_an_incident_it_hid_until_slad_received_it(api: Api) -> None:
    seed_registry(api)
    api.clock.set(T0)
    fault = open_fault(api, T0)
    hidden = receive(api, "late", detected=minutes(5), received=minutes(20))

    clock = contact(api, hidden)
    assert clock["state"] == "running", "the fault still lasts, but slad sees the incident now"
    assert clock["slo_due"] == iso(minutes(50))  # 15 hidden minutes do not count
    assert clock["sla_due"] == iso(minutes(80))
    assert clock["excused_faults"] == [
        {"window_id": fault["id"], "start": iso(minutes(5)), "end": iso(minutes(20))}
    ]
    listed = api.ok(api.get("/v1/incidents"))["items"][0]
    assert clocks(listed)["contact"]["excused_faults"] == clock["excused_faults"]

    api.clock.set(minutes(30))
    report = api.ok(api.post(f"/v1/incidents/{hidden}/contact", {}))
    assert clocks(report)["contact"]["outcome"] == "met"  # 10 countable minutes
    assert clocks(report)["report"]["excused_faults"] == [], "the report clock hid nothing"


def test_an_incident_slad_already_knew_keeps_counting_through_the_fault(api: Api) -> None:
    seed_registry(api)
    known = receive(api, "known", detected=T0, received=minutes(1))
    open_fault(api, minutes(10))

    api.clock.set(minutes(20))
    clock = contact(api, known)
    assert (clock["state"], clock["slo_due"], clock["sla_due"]) == (
        "running",
        iso(minutes(30)),
        iso(minutes(60)),
    )
    assert clock["excused_faults"] == []
    api.clock.set(minutes(31))
    assert api.services.processor.run_due(api.clock()) == 3  # both warnings and the breach
    assert timeline(api, known, MARKS)[-1] == ("slo_breached", iso(minutes(30)))
    clock = contact(api, known)
    assert (clock["outcome"], clock["passed"]) == (None, ["slo"]), "running, SLO passed"


def test_under_the_literal_rule_an_open_fault_pauses_with_no_due_instant(
    api_factory: ApiFactory,
) -> None:
    api = api_factory(sla=LITERAL_FAULTS)
    seed_registry(api)
    known = receive(api, "known", detected=T0, received=minutes(1))
    fault = open_fault(api, minutes(10))

    api.clock.set(minutes(20))
    clock = contact(api, known)
    assert (clock["state"], clock["slo_due"], clock["sla_due"]) == ("paused", None, None)
    assert [w["at"] for w in clock["warnings"]] == [None, None]  # 10 minutes counted so far
    assert clock["excused_faults"] == [
        {"window_id": fault["id"], "start": iso(minutes(10)), "end": None}
    ]
    assert api.services.processor.next_due() is None, "nothing to wake up for while it lasts"

    api.clock.set(minutes(25))
    closed = {"end": iso(minutes(25)), "reason": "the collector answers again"}
    api.ok(api.patch(f"/v1/maintenance-windows/{fault['id']}", closed))
    clock = contact(api, known)
    assert (clock["state"], clock["slo_due"]) == ("running", iso(minutes(45)))
    assert clock["excused_faults"][0]["end"] == iso(minutes(25))


def test_downtime_excuses_the_alerts_it_delayed_and_not_the_incidents_already_known(
    api_factory: ApiFactory,
) -> None:
    api = api_factory(plans=PER_PROBLEM)
    seed_registry(api)
    known = receive(api, "known", detected=T0, received=T0)
    api.services.downtime.beat(minutes(1))
    # slad is down for two hours; an alert raised meanwhile is redelivered when it is back.
    window = api.services.downtime.record_gap(minutes(120))
    assert window is not None
    late = receive(api, "late", detected=minutes(30), received=minutes(121))

    assert contact(api, known)["slo_due"] == iso(minutes(30))
    assert (
        api.services.processor.run_due(api.clock()) == 4
    )  # every one of them the known incident's
    clock = contact(api, late)
    assert clock["slo_due"] == iso(minutes(150))  # counted from the end of the downtime
    assert clock["excused_faults"] == [
        {"window_id": window.id, "start": iso(minutes(30)), "end": iso(minutes(120))}
    ]
    assert [kind for kind, _ in timeline(api, known, MARKS)] == [
        "warning",
        "warning",
        "slo_breached",
        "sla_breached",
    ]


def test_each_incident_keeps_the_rule_in_force_when_it_was_detected(
    api_factory: ApiFactory,
) -> None:
    hidden_rule = api_factory(plans=PER_PROBLEM)
    seed_registry(hidden_rule)
    known = receive(hidden_rule, "known", detected=T0, received=minutes(1))
    hidden_rule.services.correlator.stop()  # slad restarts with the provider's new reading:
    literal_rule = api_factory(sla=LITERAL_FAULTS, plans=PER_PROBLEM)
    later = receive(literal_rule, "later", detected=minutes(2), received=minutes(3))
    open_fault(literal_rule, minutes(10))

    literal_rule.clock.set(minutes(20))
    assert contact(literal_rule, known)["state"] == "running"
    assert contact(literal_rule, later)["state"] == "paused"


@pytest.mark.parametrize("value", ['"some"', '"ALL"', "1"])
def test_an_unknown_fault_rule_is_refused_naming_the_key(tmp_path: Path, value: str) -> None:
    path = tmp_path / "slad.toml"
    path.write_text(f"[sla]\nfault_exclusion = {value}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[sla\] fault_exclusion must be 'hidden' or 'all'"):
        load_config(path, environ={})
