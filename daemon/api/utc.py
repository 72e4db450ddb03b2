"""The one type of every instant the API takes or answers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


Instant = Annotated[AwareDatetime, AfterValidator(_utc)]
"""An instant with its offset, held in UTC from the edge inward: whatever offset a client
writes, what is stored, audited and answered is UTC, written with `Z` (RFC 3339)."""
