"""A month's charges as `slad charges` prints them: a table, CSV or JSON.

The CSV has one row per line with the contract and customer repeated, so a
spreadsheet or an accounting import needs no joins; the JSON is the REST answer.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any

from daemon.api.charge_schemas import ChargesOut

CSV_COLUMNS = (
    "month",
    "invoice_date",
    "status",
    "customer_id",
    "customer",
    "contract_id",
    "plan",
    "kind",
    "description",
    "quantity",
    "unit_price_yen",
    "days_charged",
    "days_in_month",
    "amount_yen",
    "adjusts_month",
    "reason",
)


def render(statement: Mapping[str, Any], fmt: str) -> str:
    """`statement` (as `daemon.charges.statement` returns it) in `fmt`: json, csv or text."""
    if fmt == "json":
        return ChargesOut.model_validate(statement).model_dump_json(indent=2) + "\n"
    if fmt == "csv":
        return _csv(statement)
    return _table(statement)


def _rows(statement: Mapping[str, Any]) -> list[dict[str, Any]]:
    head = {k: statement[k] for k in ("month", "invoice_date", "status")}
    return [
        {
            **head,
            **{k: contract[k] for k in ("customer_id", "customer", "contract_id", "plan")},
            **{k: line[k] for k in CSV_COLUMNS if k in line},
        }
        for contract in statement["contracts"]
        for line in contract["lines"]
    ]


def _csv(statement: Mapping[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in _rows(statement):
        writer.writerow({k: "" if row[k] is None else row[k] for k in CSV_COLUMNS})
    return out.getvalue()


def _table(statement: Mapping[str, Any]) -> str:
    closed = (
        f"closed {statement['closed_at']} by {statement['closed_by']}"
        if statement["status"] == "closed"
        else "open (draft: follows the registry until the month is closed)"
    )
    out = [
        f"charges {statement['month']}  invoice date {statement['invoice_date']}  {closed}",
    ]
    width = max(
        [len("contract total")]
        + [len(line["description"]) for c in statement["contracts"] for line in c["lines"]]
    )
    for contract in statement["contracts"]:
        out.append("")
        out.append(
            f"customer {contract['customer_id']} {contract['customer']}"
            f"  contract {contract['contract_id']} ({contract['plan']})"
        )
        out.append(f"  {'item':<{width}} {'qty':>6} {'unit ¥':>10} {'days':>7} {'amount ¥':>11}")
        for line in contract["lines"]:
            days = (
                ""
                if line["days_charged"] is None
                else f"{line['days_charged']}/{line['days_in_month']}"
                if line["days_in_month"]
                else f"{line['days_charged']:+}"
            )
            out.append(
                f"  {line['description']:<{width}} {_quantity(line['quantity']):>6}"
                f" {line['unit_price_yen']:>10,} {days:>7} {line['amount_yen']:>11,}"
            )
            if line["reason"]:
                out.append(f"    reason: {line['reason']}")
        out.append(
            f"  {'contract total':<{width}} {'':>6} {'':>10} {'':>7} {contract['total_yen']:>11,}"
        )
    out.append("")
    out.append(f"total ¥{statement['total_yen']:,}")
    return "\n".join(out) + "\n"


def _quantity(value: Any) -> str:
    text = str(value)
    return text[:-2] if text.endswith(".0") else text
