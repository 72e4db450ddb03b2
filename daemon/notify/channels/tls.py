"""The TLS context every channel uses, so SMTP and HTTPS trust servers the same way."""

from __future__ import annotations

import ssl
from pathlib import Path


def tls_context(ca_file: Path | None, verify: bool) -> ssl.SSLContext:
    """System trust, or only `ca_file` when given (a private CA must not widen trust).

    `verify=False` exists for lab servers with throw-away certificates; traffic is still
    encrypted but the server is not authenticated.
    """
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def is_certificate_error(error: BaseException) -> bool:
    """Whether `error`, or what it wraps, is a failed certificate check.

    That failure is a configuration fault (wrong CA, wrong host name), not a transient
    one, so channels report it as not retryable.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLCertVerificationError):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False
