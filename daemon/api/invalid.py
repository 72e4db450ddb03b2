"""Validation errors a person can read: one line per problem, naming the field as the
client wrote it and the form it expects, the real cause first.

Pydantic reports what its validators saw (`Input should be a valid datetime`, locations
through internal union members); a provider's engineer fixing a failing integration
wants `detected_at: needs a time zone offset, e.g. 2026-11-24T09:00:00+09:00`.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any

from daemon.api.types import MAX_ID, UNSTORABLE_JSON

MAX_LINES = 20  # in `detail`; `errors` holds up to MAX_ERRORS
MAX_ERRORS = 100
INSTANT_FORM = "an RFC 3339 instant with a time zone offset, e.g. 2026-11-24T09:00:00+09:00"
LOCATIONS = {"query": "query parameter", "path": "path parameter", "header": "header"}

_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "is not a field of this request",
    "timezone_aware": f"needs a time zone offset: {INSTANT_FORM} or ...T00:00:00Z",
    "datetime_parsing": f"must be {INSTANT_FORM}",
    "datetime_from_date_parsing": f"must be {INSTANT_FORM}",
    "datetime_type": f"must be {INSTANT_FORM}",
    "date_parsing": "must be a date, YYYY-MM-DD",
    "date_from_datetime_parsing": "must be a date, YYYY-MM-DD",
    "date_from_datetime_inexact": "must be a date, YYYY-MM-DD",
    "date_type": "must be a date, YYYY-MM-DD",
    "model_attributes_type": "must be a JSON object",
    "model_type": "must be a JSON object",
    "dict_type": "must be a JSON object",
    "list_type": "must be a JSON array",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "int_parsing": "must be an integer",
    "int_type": "must be an integer",
    "int_from_float": "must be an integer",
    "string_type": "must be a string",
}
_ORDER = {"missing": 2, "extra_forbidden": 1}  # a value's own problem first, then typos


def readable(errors: Sequence[Mapping[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """The `detail` (one line per problem) and `errors` of a validation problem."""
    items = [_item(error) for error in errors]
    _suggest(items)
    items.sort(key=lambda item: _ORDER.get(item["type"], 0))
    lines = [f"{item['field']}: {item['message']}" for item in items[:MAX_LINES]]
    if len(items) > MAX_LINES:
        lines.append(f"... and {len(items) - MAX_LINES} more problems")
    return "\n".join(lines), items[:MAX_ERRORS]


def _item(error: Mapping[str, Any]) -> dict[str, Any]:
    loc = list(error.get("loc", ()))
    kind = str(error.get("type", ""))
    ctx = error.get("ctx") or {}
    if kind == UNSTORABLE_JSON and ctx.get("path"):
        loc += list(ctx["path"])
    where = loc[0] if loc and loc[0] in (*LOCATIONS, "body") else None
    path = loc[1:] if where else loc
    message = _message(kind, str(error.get("msg", "")), ctx)
    if kind == "json_invalid":  # FastAPI locates it by the character it stopped at
        if path and isinstance(path[0], int):
            message += f" (at character {path[0]})"
        path = []
    name = field_name(path) or "body"
    field = f"{LOCATIONS[where]} {name}" if where in LOCATIONS else name
    return {
        "field": field,
        "message": message,
        "type": kind,
        "loc": loc,
    }


def field_name(path: Sequence[Any]) -> str:
    """`["events", 1, "detected_at"]` as ``events[1].detected_at``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part == "[key]":
            text += " (a key)"
        elif str(part).isprintable():
            text += f".{part}" if text else str(part)
        else:
            text += f"[{str(part)!r}]"
    return text


def _message(kind: str, msg: str, ctx: Mapping[str, Any]) -> str:
    if kind == "json_invalid":
        return f"is not valid JSON: {ctx.get('error', msg)}"
    if kind in ("greater_than_equal", "less_than_equal") and (
        ctx.get("ge") == 1 or ctx.get("le") == MAX_ID
    ):
        return f"must be an id from 1 to {MAX_ID}"
    if kind in _MESSAGES:
        return _MESSAGES[kind]
    for prefix in ("Value error, ", "Assertion failed, "):
        msg = msg.removeprefix(prefix)
    for subject in ("Input", "String", "List", "Dictionary", "Tuple", "Set", "Decimal"):
        if msg.startswith(f"{subject} should "):
            return "must " + msg.removeprefix(f"{subject} should ")
    return msg


def _suggest(items: list[dict[str, Any]]) -> None:
    """Point an unknown field at the required one it probably misspells."""
    missing = [i["loc"][-1] for i in items if i["type"] == "missing" and i["loc"]]
    for item in items:
        if item["type"] != "extra_forbidden" or not item["loc"]:
            continue
        close = difflib.get_close_matches(str(item["loc"][-1]), map(str, missing), n=1)
        if close:
            item["message"] += f"; did you mean {close[0]!r}?"
