"""Maintenance periods to windows; RRULEs are checked by expanding them with dateutil."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr

from connectors.zabbix import (
    Maintenance,
    OneTimePeriod,
    RecurringPeriod,
    map_host_maintenance,
    map_maintenances,
)

DATA = Path(__file__).parent / "data" / "zabbix"
SHARED = json.loads((DATA / "api-6.0.14-responses.json").read_text())
CAPTURED = json.loads((DATA / "api-6.0.14-captured.json").read_text())
TOKYO = ZoneInfo("Asia/Tokyo")


def occurrences(period: RecurringPeriod, count: int) -> list[datetime]:
    rule = rrulestr(period.rrule, dtstart=period.dtstart)
    return [occurrence for occurrence, _ in zip(rule, range(count), strict=False)]


def one(results: list[dict[str, Any]], tz: ZoneInfo = TOKYO) -> Maintenance:
    [maintenance] = map_maintenances("main", results, tz)
    return maintenance


def test_weekly_sunday_from_the_shared_sample() -> None:
    maintenance = one(SHARED["maintenance.get"])
    assert maintenance.maintenance_id == "1" and maintenance.name == "weekly patch"
    assert maintenance.hosts == ("web01",) and maintenance.host_groups == ()
    assert maintenance.collects_data
    assert maintenance.active_since == datetime.fromtimestamp(1795999980, UTC)
    [weekly] = maintenance.periods
    assert isinstance(weekly, RecurringPeriod)
    assert weekly.rrule == "FREQ=WEEKLY;INTERVAL=1;BYDAY=SU;WKST=MO;UNTIL=20271228T132000Z"
    assert weekly.duration == timedelta(hours=2)
    # active_since is Mon 2026-11-30 09:53 Tokyo: the first Sunday of that week at 02:00.
    assert weekly.dtstart == datetime(2026, 12, 6, 2, 0, tzinfo=TOKYO)
    assert occurrences(weekly, 2)[1] == datetime(2026, 12, 13, 2, 0, tzinfo=TOKYO)


def test_daily_every_two_days_monthly_last_monday_and_day_15_from_6_0_14() -> None:
    maintenance = one(CAPTURED["maintenance.get"])
    assert maintenance.hosts == ("slad-e2e-88d63b94",)
    assert maintenance.host_groups == ("slad e2e 88d63b94",)
    daily, last_monday, fifteenth = maintenance.periods
    assert isinstance(daily, RecurringPeriod)
    assert isinstance(last_monday, RecurringPeriod)
    assert isinstance(fifteenth, RecurringPeriod)
    # active_since 1893456000 = 2030-01-01 09:00 Tokyo.
    assert daily.dtstart == datetime(2030, 1, 1, 1, 0, tzinfo=TOKYO)
    assert occurrences(daily, 3)[1:] == [
        datetime(2030, 1, 3, 1, 0, tzinfo=TOKYO),
        datetime(2030, 1, 5, 1, 0, tzinfo=TOKYO),
    ]
    assert daily.duration == timedelta(minutes=30)
    assert "BYDAY=-1MO" in last_monday.rrule
    assert occurrences(last_monday, 2) == [
        datetime(2030, 1, 28, 0, 0, tzinfo=TOKYO),
        datetime(2030, 2, 25, 0, 0, tzinfo=TOKYO),
    ]
    assert "BYMONTH=1,3;BYMONTHDAY=15" in fifteenth.rrule
    # UNTIL = active_till (2031-01-01 09:00 Tokyo) ends the rule before January 2031.
    assert occurrences(fifteenth, 3) == [
        datetime(2030, 1, 15, 22, 0, tzinfo=TOKYO),
        datetime(2030, 3, 15, 22, 0, tzinfo=TOKYO),
    ]


def test_second_tuesday_and_friday_monthly() -> None:
    raw = dict(CAPTURED["maintenance.get"][0])
    raw["timeperiods"] = [
        {
            "timeperiod_type": "4",
            "every": "2",
            "month": "4095",
            "dayofweek": str(2 | 16),
            "day": "0",
            "start_time": "0",
            "period": "3600",
            "start_date": "0",
        }
    ]
    [period] = one([raw]).periods
    assert isinstance(period, RecurringPeriod)
    assert "BYDAY=2TU,2FR" in period.rrule
    assert period.dtstart == datetime(2030, 1, 8, 0, 0, tzinfo=TOKYO)
    assert occurrences(period, 3) == [
        datetime(2030, 1, 8, tzinfo=TOKYO),
        datetime(2030, 1, 11, tzinfo=TOKYO),
        datetime(2030, 2, 8, tzinfo=TOKYO),
    ]


def test_one_time_is_cut_to_active_bounds_and_dropped_outside() -> None:
    since, till = 1_900_000_000, 1_900_100_000
    raw = {
        "maintenanceid": "7",
        "name": "one-off",
        "maintenance_type": "1",
        "active_since": str(since),
        "active_till": str(till),
        "hostgroups": [{"groupid": "2", "name": "Linux servers"}],
        "timeperiods": [
            {"timeperiod_type": "0", "start_date": str(since - 600), "period": "3600"},
            {"timeperiod_type": "0", "start_date": str(till + 10), "period": "3600"},
        ],
        "tags": [{"tag": "service", "operator": "0", "value": "web"}],
    }
    maintenance = one([raw])
    assert not maintenance.collects_data
    assert maintenance.host_groups == ("Linux servers",)  # 7.0 key
    assert maintenance.periods == (
        OneTimePeriod(
            datetime.fromtimestamp(since, UTC), datetime.fromtimestamp(since + 3000, UTC)
        ),
    )
    assert maintenance.tags[0].operator == "equals"


def test_unknown_period_type_is_an_error() -> None:
    raw = dict(CAPTURED["maintenance.get"][0])
    raw["timeperiods"] = [{"timeperiod_type": "1", "period": "60"}]
    with pytest.raises(ValueError, match="timeperiod_type"):
        one([raw])


def test_host_maintenance_state() -> None:
    hosts = [
        *SHARED["host.get"],
        {
            "host": "db01",
            "maintenance_status": "1",
            "maintenanceid": "3",
            "maintenance_type": "1",
            "maintenance_from": "1795999980",
        },
    ]
    idle, busy = map_host_maintenance(hosts)
    assert (idle.in_maintenance, idle.maintenance_id, idle.since) == (False, None, None)
    assert busy.in_maintenance and busy.maintenance_id == "3"
    assert busy.since == datetime.fromtimestamp(1795999980, UTC)
    assert not busy.collects_data
