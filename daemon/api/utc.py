"""The one type of every instant the API takes or answers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime
from pydantic_core import PydanticCustomError

from daemon.api.types import instant_out_of_range


def _utc(value: datetime) -> datetime:
    """`value` in UTC; refused (422) outside what the store and the engine handle, e.g.
    0001-01-01T00:00:00+14:00, which no datetime can hold in UTC."""
    reason = instant_out_of_range(value)
    if reason is not None:
        raise PydanticCustomError("instant_out_of_range", reason)
    return value.astimezone(UTC)


Instant = Annotated[AwareDatetime, AfterValidator(_utc)]
"""An instant with its offset, held in UTC from the edge inward: whatever offset a client
writes, what is stored, audited and answered is UTC, written with `Z` (RFC 3339);
between 1970 and 2199 (`daemon.api.types`)."""
