"""The constrained values the REST API accepts: ids, text, instants and dates a store
can hold and the engine can compute with.

Each is refused at the edge with a 422 naming the field, instead of failing later in
the database (an id beyond 64 bits, a NUL character PostgreSQL text cannot hold, a lone
surrogate UTF-8 cannot encode) or in the engine (an instant that overflows once
converted to UTC). Bodies, query and path parameters all use these types, so their
OpenAPI schema states the same bounds.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from typing import Annotated, Any

from annotated_types import Ge, Le
from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

MAX_ID = 2**63 - 1  # the largest BIGINT, SQLite's INTEGER and PostgreSQL's bigint alike
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2199, 12, 31, 23, 59, 59, tzinfo=UTC)
MAX_NESTING = 32  # levels of objects and arrays in free-form JSON (`raw`)
UNSTORABLE_JSON = "unstorable_json"  # its error's `path` locates the value in the field

Id = Annotated[int, Ge(1), Le(MAX_ID)]
"""A row id: a positive 64-bit integer."""

_UNSTORABLE_CHARACTER = re.compile("[\x00\ud800-\udfff]")


def unstorable_character(text: str) -> str | None:
    """Why `text` cannot be stored (a NUL character or a lone surrogate), or None."""
    found = _UNSTORABLE_CHARACTER.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return "must not contain NUL characters (U+0000)"
    return f"must not contain a lone UTF-16 surrogate (U+{ord(found.group()):04X})"


def _storable_text(text: str) -> str:
    reason = unstorable_character(text)
    if reason is not None:
        raise PydanticCustomError("unstorable_text", reason)
    return text


Text = Annotated[str, AfterValidator(_storable_text)]
"""A string without NUL characters or lone surrogates."""


def instant_out_of_range(at: datetime) -> str | None:
    """Why the aware instant `at` is refused (outside `EARLIEST`..`LATEST`), or None."""
    try:
        utc = at.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST <= utc <= LATEST:
        return (
            f"must lie between {EARLIEST:%Y-%m-%dT%H:%M:%SZ} and {LATEST:%Y-%m-%dT%H:%M:%SZ}"
            f" once in UTC; {at.isoformat()} does not"
        )
    return None


Day = Annotated[date, Ge(EARLIEST.date()), Le(LATEST.date())]
"""A calendar date between 1970-01-01 and 2199-12-31."""


def _storable_json(value: dict[str, Any]) -> dict[str, Any]:
    found = unstorable_json(value)
    if found is not None:
        path, reason = found
        raise PydanticCustomError(UNSTORABLE_JSON, reason, {"path": list(path)})
    return value


JsonObject = Annotated[dict[str, Any], AfterValidator(_storable_json)]
"""Free-form JSON a store can hold: no NUL characters, lone surrogates, NaN or
infinities, and at most `MAX_NESTING` levels deep."""


def unstorable_json(
    value: object, path: tuple[str | int, ...] = (), depth: int = 0
) -> tuple[tuple[str | int, ...], str] | None:
    """The path (keys and indexes) of the first value in `value` a store cannot hold,
    and why; or None."""
    if isinstance(value, str):
        reason = unstorable_character(value)
        return None if reason is None else (path, reason)
    if isinstance(value, float):
        return None if math.isfinite(value) else (path, "must be a finite number")
    if isinstance(value, dict):
        items: list[tuple[str | int, object]] = [(str(k), v) for k, v in value.items()]
    elif isinstance(value, list | tuple):
        items = list(enumerate(value))
    else:
        return None
    if depth >= MAX_NESTING:
        return path, f"nests more than {MAX_NESTING} levels deep"
    for key, item in items:
        at = (*path, key)
        if isinstance(key, str) and (reason := unstorable_character(key)) is not None:
            return at, f"has a name that {reason}"
        found = unstorable_json(item, at, depth + 1)
        if found is not None:
            return found
    return None
