import json
from dataclasses import replace
from datetime import timedelta

import pytest

from sla_engine.policy import (
    DEFAULT_PLANS,
    PROFESSIONAL_SUPPORT,
    CalendarKind,
    ClockName,
    ClockPolicy,
    GroupBy,
    apply_overrides,
    clocks_for,
    clocks_from_dicts,
    clocks_to_dicts,
)


@pytest.mark.parametrize(
    ("key", "name", "initial", "monthly", "accepts", "auto_contact"),
    [
        ("basic", "ベーシック", 30_000, 5_000, False, True),
        ("standard", "スタンダード", 100_000, 30_000, True, False),
        ("full_managed", "フルマネージド", 100_000, 50_000, True, False),
    ],
)
def test_default_plans_follow_the_price_list(
    key: str, name: str, initial: int, monthly: int, accepts: bool, auto_contact: bool
) -> None:
    plan = DEFAULT_PLANS[key]
    assert plan.key == key
    assert plan.name == name
    assert plan.initial_fee_yen == initial
    assert plan.monthly_fee_yen == monthly
    assert plan.accepts_customer_incidents is accepts
    assert plan.accepts_operations_requests is accepts
    assert plan.auto_contact is auto_contact


@pytest.mark.parametrize("key", ["basic", "standard", "full_managed"])
def test_default_clocks_on_every_plan(key: str) -> None:
    plan = DEFAULT_PLANS[key]
    contact = plan.clock(ClockName.CONTACT)
    report = plan.clock("report")
    support = plan.clock(ClockName.SUPPORT_REPLY)
    assert (contact.start_event, contact.stop_event) == ("detected", "contacted")
    assert (contact.slo_delta, contact.sla_delta) == (timedelta(minutes=30), timedelta(minutes=60))
    assert (report.start_event, report.stop_event) == ("contacted", "reported")
    assert (report.slo_delta, report.sla_delta) == (timedelta(minutes=60), timedelta(minutes=180))
    assert (support.start_event, support.stop_event) == ("received", "replied")
    assert support.calendar is CalendarKind.BUSINESS_DAYS
    assert (support.slo, support.sla) == (2, 5)
    assert support.requires_option == PROFESSIONAL_SUPPORT
    assert contact.warn_fractions == (0.5, 0.8)


def test_business_day_clock_has_no_elapsed_delta() -> None:
    with pytest.raises(ValueError, match="business days"):
        _ = DEFAULT_PLANS["standard"].clock("support_reply").slo_delta


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ((), ["contact", "report"]),
        ({"advisory"}, ["contact", "report"]),
        ([PROFESSIONAL_SUPPORT], ["contact", "report", "support_reply"]),
    ],
)
def test_clocks_for_options(options: list[str], expected: list[str]) -> None:
    clocks = clocks_for(DEFAULT_PLANS["standard"], options)
    assert [clock.name for clock in clocks] == expected


def test_overrides_from_config() -> None:
    plans = apply_overrides(
        DEFAULT_PLANS,
        {
            "basic": {
                "auto_contact": False,
                "clocks": {
                    "report": {"enabled": False},
                    "contact": {"slo_minutes": 20, "sla_minutes": 45, "warn_fractions": [0.5, 0.9]},
                },
            },
            "standard": {"clocks": {"support_reply": {"slo_business_days": 3}}},
        },
    )
    basic = plans["basic"]
    assert basic.auto_contact is False
    contact = basic.clock("contact")
    assert (contact.slo, contact.sla) == (20 * 60, 45 * 60)
    assert contact.warn_fractions == (0.5, 0.9)
    assert basic.clock("report").enabled is False
    assert [clock.name for clock in clocks_for(basic, ())] == ["contact"]
    assert plans["standard"].clock("support_reply").slo == 3
    assert plans["full_managed"] is DEFAULT_PLANS["full_managed"]
    # The defaults themselves are untouched.
    assert DEFAULT_PLANS["basic"].auto_contact is True
    assert DEFAULT_PLANS["basic"].clock("contact").slo == 30 * 60


def test_fees_and_flags_can_be_overridden() -> None:
    plans = apply_overrides(
        DEFAULT_PLANS,
        {"full_managed": {"monthly_fee_yen": 60_000, "name": "フルマネージド+"}},
    )
    assert plans["full_managed"].monthly_fee_yen == 60_000
    assert plans["full_managed"].name == "フルマネージド+"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"premium": {}}, "unknown plan plans.premium"),
        ({"basic": {"colour": "red"}}, "unknown setting plans.basic.colour"),
        ({"basic": {"auto_contact": 1}}, "plans.basic.auto_contact must be true or false"),
        ({"basic": {"monthly_fee_yen": -1}}, "plans.basic.monthly_fee_yen"),
        ({"basic": {"clocks": {"resolve": {}}}}, "unknown clock plans.basic.clocks.resolve"),
        ({"basic": {"clocks": []}}, "plans.basic.clocks must be a table"),
        (
            {"basic": {"clocks": {"contact": {"slo_business_days": 1}}}},
            "unknown setting plans.basic.clocks.contact.slo_business_days",
        ),
        (
            {"basic": {"clocks": {"support_reply": {"slo_minutes": 1}}}},
            "unknown setting plans.basic.clocks.support_reply.slo_minutes",
        ),
        ({"basic": {"clocks": {"contact": {"slo_minutes": 0}}}}, "slo_minutes must be a positive"),
        (
            {"basic": {"clocks": {"contact": {"slo_minutes": 12.5}}}},
            "slo_minutes must be a positive",
        ),
        (
            {"basic": {"clocks": {"contact": {"slo_minutes": 90}}}},
            "plans.basic.clocks.contact: .*sla",
        ),
        ({"basic": {"clocks": {"contact": {"enabled": "no"}}}}, "contact.enabled must be true"),
        ({"basic": {"clocks": {"contact": {"warn_fractions": [0.9, 0.5]}}}}, "strictly increasing"),
        ({"basic": {"clocks": {"contact": {"warn_fractions": [0.5, 1.0]}}}}, "strictly between"),
        ({"basic": {"clocks": {"contact": {"warn_fractions": "0.5"}}}}, "list of fractions"),
        ({"basic": {"group_by": "host"}}, "unknown plans.basic.group_by 'host'"),
        ({"basic": {"reopen_minutes": -1}}, "plans.basic.reopen_minutes must be a whole number"),
        ({"basic": {"reopen_minutes": True}}, "plans.basic.reopen_minutes must be a whole number"),
    ],
)
def test_bad_overrides_name_the_offending_setting(
    overrides: dict[str, dict[str, object]], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        apply_overrides(DEFAULT_PLANS, overrides)


def test_plans_group_by_resource_and_reopen_within_30_minutes_unless_told() -> None:
    assert {(p.group_by, p.reopen_minutes) for p in DEFAULT_PLANS.values()} == {
        (GroupBy.RESOURCE, 30)
    }
    plans = apply_overrides(
        DEFAULT_PLANS, {"standard": {"group_by": "problem"}, "basic": {"reopen_minutes": 0}}
    )
    assert plans["standard"].group_by is GroupBy.PROBLEM
    assert (plans["basic"].group_by, plans["basic"].reopen_minutes) == (GroupBy.RESOURCE, 0)


def test_snapshot_round_trips_through_json() -> None:
    clocks = DEFAULT_PLANS["standard"].clocks
    stored = json.dumps(clocks_to_dicts(clocks))
    assert clocks_from_dicts(json.loads(stored)) == clocks
    for clock in clocks:
        assert ClockPolicy.from_dict(json.loads(json.dumps(clock.to_dict()))) == clock


def test_snapshot_shape() -> None:
    assert DEFAULT_PLANS["basic"].clock("contact").to_dict() == {
        "name": "contact",
        "calendar": "elapsed",
        "start_event": "detected",
        "stop_event": "contacted",
        "unit": "seconds",
        "slo": 1800,
        "sla": 3600,
        "warn_fractions": [0.5, 0.8],
        "enabled": True,
        "requires_option": None,
    }


def test_snapshot_survives_a_later_policy_change() -> None:
    snapshot = clocks_to_dicts(clocks_for(DEFAULT_PLANS["basic"], ()))
    changed = apply_overrides(
        DEFAULT_PLANS, {"basic": {"clocks": {"contact": {"slo_minutes": 10}}}}
    )
    assert changed["basic"].clock("contact").slo == 600
    assert clocks_from_dicts(snapshot)[0].slo == 1800


def _snapshot_with(**changes: object) -> dict[str, object]:
    data = DEFAULT_PLANS["basic"].clock("contact").to_dict()
    data.update(changes)
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "contact"}, "lacks"),
        ({**_snapshot_with(), "colour": "red"}, "unknown colour"),
        (_snapshot_with(unit="minutes"), "unit"),
        (_snapshot_with(name="resolve"), "unknown clock name"),
        (_snapshot_with(calendar="business_days", unit="business_days"), "counts in elapsed"),
        (_snapshot_with(slo="1800"), "slo must be a positive"),
        (_snapshot_with(sla=60), "must not be shorter"),
        (_snapshot_with(enabled=None), "enabled must be true or false"),
        (_snapshot_with(requires_option=""), "requires_option"),
    ],
)
def test_bad_snapshots_are_refused(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ClockPolicy.from_dict(data)


def test_snapshot_naming_a_clock_twice_is_refused() -> None:
    contact = DEFAULT_PLANS["basic"].clock("contact").to_dict()
    with pytest.raises(ValueError, match="twice"):
        clocks_from_dicts([contact, contact])


def test_clock_policy_validates_directly() -> None:
    with pytest.raises(ValueError, match="different events"):
        ClockPolicy(ClockName.CONTACT, CalendarKind.ELAPSED, "detected", "detected", 1, 2)
    policy = ClockPolicy(ClockName.REPORT, CalendarKind.ELAPSED, "contacted", "reported", 60, 60)
    assert policy.slo_delta == policy.sla_delta == timedelta(minutes=1)
    assert ClockPolicy("contact", "elapsed", "a", "b", 1, 2).name is ClockName.CONTACT  # type: ignore[arg-type]


def test_asking_a_plan_for_a_clock_it_lacks() -> None:
    assert apply_overrides(DEFAULT_PLANS, {}) == dict(DEFAULT_PLANS)
    with pytest.raises(ValueError, match="unknown clock name"):
        DEFAULT_PLANS["basic"].clock("resolve")
    contact_only = replace(
        DEFAULT_PLANS["basic"], clocks=(DEFAULT_PLANS["basic"].clock("contact"),)
    )
    with pytest.raises(ValueError, match="has no clock report"):
        contact_only.clock("report")
    with pytest.raises(ValueError, match=r"has no clock plans\.x\.clocks\.report"):
        apply_overrides({"x": contact_only}, {"x": {"clocks": {"report": {"enabled": False}}}})


def test_plan_refuses_a_clock_named_twice() -> None:
    contact = DEFAULT_PLANS["basic"].clock("contact")
    with pytest.raises(ValueError, match="twice"):
        replace(DEFAULT_PLANS["basic"], clocks=(contact, contact))
