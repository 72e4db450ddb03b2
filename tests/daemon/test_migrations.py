"""Migrations keep the data a provider already has, on both backends."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, Engine, text

from daemon.store.db import upgrade

_WINDOW = (
    "INSERT INTO maintenance_windows (id, scope, scope_ref, reason, description, start_at,"
    " end_at, timezone, status, author, created_at, updated_at) VALUES (:id, :scope, :ref,"
    " :reason, '', '2026-11-01 00:00:00', NULL, 'Asia/Tokyo', 'active', 'op',"
    " '2026-11-01 00:00:00', '2026-11-01 00:00:00')"
)


def _rows(engine: Engine, sql: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(text(sql))]


def _registry_with_incidents(conn: Connection, problems: list[str]) -> None:
    """A customer, contract and resource, and one open incident per problem key."""
    conn.execute(
        text(
            "INSERT INTO customers (id, name, locale, created_at)"
            " VALUES (1, 'acme', 'ja', '2026-11-01 00:00:00')"
        )
    )
    conn.execute(
        text(
            "INSERT INTO contracts (id, customer_id, plan, professional_support, advisory,"
            " billing_start, created_at) VALUES (1, 1, 'standard', false, false,"
            " '2026-04-01', '2026-11-01 00:00:00')"
        )
    )
    conn.execute(
        text(
            "INSERT INTO resources (id, contract_id, name, kind, created_at)"
            " VALUES (1, 1, 'web01', 'vm', '2026-11-01 00:00:00')"
        )
    )
    for n, problem in enumerate(problems, start=1):
        conn.execute(
            text(
                "INSERT INTO incidents (id, resource_id, contract_id, customer_id, plan, source,"
                " instance, problem_key, title, severity, status, detected_at, received_at,"
                " detected_at_estimated, policy, created_at) VALUES (:id, 1, 1, 1, 'standard',"
                " 'zabbix', '', :problem, 't', 'high', 'open', '2026-11-01 00:00:00',"
                " '2026-11-01 00:00:00', false, '[]', '2026-11-01 00:00:00')"
            ),
            {"id": n, "problem": problem},
        )


def test_window_vocabulary_migration_keeps_every_window(
    empty_database: tuple[str, Engine],
) -> None:
    _, engine = empty_database
    upgrade(engine, "0003")
    with engine.begin() as conn:
        for row in (
            {"id": 1, "scope": "resource", "ref": "12", "reason": "maintenance"},
            {"id": 2, "scope": "source", "ref": "zabbix:main", "reason": "monitoring_fault"},
            {"id": 3, "scope": "all", "ref": None, "reason": "monitoring_fault"},
            {"id": 4, "scope": "customer", "ref": "7", "reason": "provider_maintenance"},
        ):
            conn.execute(text(_WINDOW), row)
    upgrade(engine)
    assert _rows(
        engine, "SELECT id, scope, scope_ref, source, kind FROM maintenance_windows ORDER BY id"
    ) == [
        (1, "resource", 12, None, "maintenance"),
        (2, "source", None, "zabbix:main", "monitoring_fault"),
        (3, "all", None, None, "monitoring_fault"),
        (4, "customer", 7, None, "provider_maintenance"),
    ]


def test_window_vocabulary_migration_renames_the_timeline_reason(
    empty_database: tuple[str, Engine],
) -> None:
    """Timeline entries of recomputed clocks say `reason`, old ones included."""
    _, engine = empty_database
    upgrade(engine, "0003")
    with engine.begin() as conn:
        _registry_with_incidents(conn, ["p"])
        for entry_id, kind in ((1, "clocks_recomputed"), (2, "note")):
            conn.execute(
                text(
                    "INSERT INTO timeline (id, incident_id, at, recorded_at, kind, actor, detail)"
                    " VALUES (:id, 1, '2026-11-01 00:00:00', '2026-11-01 00:00:00', :kind, 'op',"
                    """ '{"justification": "ticket 42", "window_id": 3}')"""
                ),
                {"id": entry_id, "kind": kind},
            )
    upgrade(engine)
    details = dict(_rows(engine, "SELECT id, detail FROM timeline ORDER BY id"))
    recomputed, note = (d if isinstance(d, dict) else json.loads(d) for d in details.values())
    assert recomputed == {"reason": "ticket 42", "window_id": 3}
    assert note == {"justification": "ticket 42", "window_id": 3}


def test_charges_migration_dates_existing_resources_from_their_billing_start(
    empty_database: tuple[str, Engine],
) -> None:
    """Resources registered before they had dates are charged from their contract's
    billing start, and contracts keep their list prices."""
    _, engine = empty_database
    upgrade(engine, "0007")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO customers (id, name, locale, created_at)"
                " VALUES (1, 'acme', 'ja', '2026-11-01 00:00:00')"
            )
        )
        for contract_id, start in ((1, "2026-04-01"), (2, "2025-10-16")):
            conn.execute(
                text(
                    "INSERT INTO contracts (id, customer_id, plan, professional_support,"
                    " advisory, billing_start, created_at) VALUES (:id, 1, 'standard', false,"
                    " false, :start, '2026-11-01 00:00:00')"
                ),
                {"id": contract_id, "start": start},
            )
        for resource_id, contract_id in ((1, 1), (2, 2), (3, 1)):
            conn.execute(
                text(
                    "INSERT INTO resources (id, contract_id, name, kind, created_at)"
                    " VALUES (:id, :contract, :name, 'vm', '2026-11-01 00:00:00')"
                ),
                {"id": resource_id, "contract": contract_id, "name": f"vm{resource_id}"},
            )
    upgrade(engine)
    rows = _rows(engine, "SELECT id, added_on, retired_on FROM resources ORDER BY id")
    assert [(i, str(added), retired) for i, added, retired in rows] == [
        (1, "2026-04-01", None),
        (2, "2025-10-16", None),
        (3, "2026-04-01", None),
    ]
    prices = [p for (p,) in _rows(engine, "SELECT prices FROM contracts ORDER BY id")]
    assert [p if isinstance(p, dict) else json.loads(p) for p in prices] == [{}, {}]


def test_incidents_opened_before_grouping_by_resource_keep_their_problems(
    empty_database: tuple[str, Engine],
) -> None:
    """Two open incidents of one resource stay open side by side, grouped per problem."""
    _, engine = empty_database
    upgrade(engine, "0007")
    with engine.begin() as conn:
        _registry_with_incidents(conn, ["cpu", "disk"])
    upgrade(engine)
    assert _rows(engine, "SELECT id, status, group_key, merged_into_id FROM incidents") == [
        (1, "open", "cpu", None),
        (2, "open", "disk", None),
    ]
