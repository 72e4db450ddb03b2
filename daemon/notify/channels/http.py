"""One HTTP POST with the error classification shared by the Slack and webhook channels.

A 2xx is acceptance. 408, 429 and 5xx are retryable; any other status (including a
redirect, which for a webhook means a wrong URL) is not. Network faults are retryable,
except a failed certificate check or an unusable URL, which only a config change fixes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx

from daemon.notify.channels.tls import is_certificate_error, tls_context
from daemon.notify.message import DeliveryError

_RETRYABLE_STATUSES = frozenset({408, 429})
_REASON_EXCERPT = 200


def post(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    timeout: float,
    ca_file: Path | None,
    verify: bool,
    clock: Callable[[], datetime],
) -> datetime:
    """POST `body` to `url` and return the instant a 2xx answer arrived."""
    try:
        with httpx.Client(
            verify=tls_context(ca_file, verify), timeout=timeout, follow_redirects=False
        ) as client:
            response = client.post(url, content=body, headers=dict(headers))
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as error:
        raise DeliveryError(retryable=False, reason=f"unusable URL: {error}") from error
    except httpx.TransportError as error:
        if is_certificate_error(error):
            raise DeliveryError(retryable=False, reason=f"TLS: {error}") from error
        reason = f"{type(error).__name__}: {error}"
        raise DeliveryError(retryable=True, reason=reason) from error
    if response.is_success:
        return clock()
    status = response.status_code
    raise DeliveryError(
        retryable=status >= 500 or status in _RETRYABLE_STATUSES,
        reason=f"HTTP {status}: {response.text[:_REASON_EXCERPT]}",
        retry_after=_retry_after(response.headers.get("Retry-After"), clock),
    )


def _retry_after(value: str | None, clock: Callable[[], datetime]) -> timedelta | None:
    """Parse `Retry-After` (seconds or an HTTP date); None when absent or unreadable."""
    if value is None:
        return None
    if value.strip().isdigit():
        return timedelta(seconds=int(value))
    try:
        at = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if at.tzinfo is None:
        return None
    return max(at - clock(), timedelta(0))
