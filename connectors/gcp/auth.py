"""Who may post to a Google Cloud instance's webhooks.

Cloud Monitoring's webhook channels carry no signature: ``webhook_basicauth`` sends
HTTP basic credentials, ``webhook_tokenauth`` only what the URL holds (slad reads
``?token=``). Both are compared in constant time, the user name and the password each,
so an answer's timing tells nothing of either.

Pub/Sub push attaches an OIDC token (``Authorization: Bearer <JWT>``) minted by Google
for the subscription's service account. It is accepted only when Google's key signed it
(the keys published at `GcpInstance.oidc_certs_url`, cached and re-read when a token
names a key not yet seen), it has not expired, its issuer is Google's, its audience is
the instance's `push_audience`, and its ``email`` is the instance's
`push_service_account`, verified by Google.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, cast

import httpx
from google.auth import exceptions as google_exceptions
from google.auth import jwt

from connectors.gcp.config import GcpInstance

GOOGLE_ISSUERS = frozenset({"accounts.google.com", "https://accounts.google.com"})
CERTS_MAX_AGE_SECONDS = 3600.0
CLOCK_SKEW_SECONDS = 10

# google-auth's JWT helpers carry no annotations; these are their documented shapes.
_decode_header = cast(Callable[[str], Any], jwt.decode_header)
_decode = cast(Callable[..., Mapping[str, Any]], jwt.decode)


class Unauthenticated(Exception):
    """The request did not prove it comes from the configured sender (answered 401)."""


def check_notification(
    instance: GcpInstance, headers: Mapping[str, str], query: Mapping[str, str]
) -> None:
    """Raise `Unauthenticated` unless the request carries the instance's credentials."""
    if instance.webhook_auth == "basic":
        user, password = _basic(headers.get("authorization", ""))
        same_user = hmac.compare_digest(user.encode(), instance.username.encode())
        same_password = hmac.compare_digest(password.encode(), instance.password.encode())
        if not (same_user and same_password):
            raise Unauthenticated("wrong user name or password")
    elif instance.webhook_auth == "token":
        given = query.get("token", "")
        if not given:
            raise Unauthenticated("the URL carries no ?token=")
        if not hmac.compare_digest(given.encode(), instance.token.encode()):
            raise Unauthenticated("wrong token")
    else:
        raise Unauthenticated(
            "this instance takes no Cloud Monitoring webhook (webhook_auth is not set)"
        )


def _basic(header: str) -> tuple[str, str]:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise Unauthenticated("HTTP basic authentication is required")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise Unauthenticated("the basic credentials are not base64 of user:password") from exc
    user, sep, password = decoded.partition(":")
    if not sep:
        raise Unauthenticated("the basic credentials are not user:password")
    return user, password


class GoogleKeys:
    """Google's token-signing certificates by key id, fetched from a URL and cached."""

    def __init__(self, timeout: float = 10.0) -> None:
        self._timeout = timeout
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, dict[str, str]]] = {}

    def certificates(self, url: str, key_id: str | None) -> dict[str, str]:
        """The certificates at `url`, re-read when stale or when `key_id` is not among them."""
        with self._lock:
            fetched = self._cache.get(url)
            fresh = fetched is not None and time.monotonic() - fetched[0] < CERTS_MAX_AGE_SECONDS
            if fetched is not None and fresh and (key_id is None or key_id in fetched[1]):
                return fetched[1]
            certs = self._fetch(url)
            self._cache[url] = (time.monotonic(), certs)
            return certs

    def _fetch(self, url: str) -> dict[str, str]:
        try:
            answer = httpx.get(url, timeout=self._timeout)
            answer.raise_for_status()
            certs = answer.json()
        except (httpx.HTTPError, json.JSONDecodeError) as exc:
            raise KeysUnavailable(f"cannot read Google's signing keys from {url}: {exc}") from exc
        if not isinstance(certs, dict) or not all(isinstance(v, str) for v in certs.values()):
            raise KeysUnavailable(f"{url} does not answer a map of key id to certificate")
        return {str(k): v for k, v in certs.items()}


class KeysUnavailable(Exception):
    """Google's signing keys could not be read: the push cannot be verified now (retried)."""


def verify_push_token(
    instance: GcpInstance, keys: GoogleKeys, headers: Mapping[str, str]
) -> dict[str, Any]:
    """The claims of the push's OIDC token; `Unauthenticated` unless every check holds."""
    if not instance.pushes:
        raise Unauthenticated("this instance takes no Pub/Sub push (push_audience is not set)")
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("a Bearer OIDC token is required")
    token = token.strip()
    try:
        header = _decode_header(token)
    except (ValueError, google_exceptions.GoogleAuthError) as exc:
        raise Unauthenticated("the bearer token is not a JWT") from exc
    key_id = header.get("kid") if isinstance(header, Mapping) else None
    certs = keys.certificates(instance.oidc_certs_url, key_id if isinstance(key_id, str) else None)
    try:
        claims = _decode(
            token,
            certs=certs,
            audience=instance.push_audience,
            clock_skew_in_seconds=CLOCK_SKEW_SECONDS,
        )
    except (ValueError, google_exceptions.GoogleAuthError) as exc:
        raise Unauthenticated(f"the OIDC token does not verify: {_reason(exc)}") from exc
    if claims.get("iss") not in GOOGLE_ISSUERS:
        raise Unauthenticated("the OIDC token was not issued by Google")
    email = claims.get("email")
    if not isinstance(email, str) or not hmac.compare_digest(
        email.encode(), instance.push_service_account.encode()
    ):
        raise Unauthenticated("the OIDC token is not for the configured service account")
    if claims.get("email_verified") is not True:
        raise Unauthenticated("the OIDC token's e-mail is not verified")
    return dict(claims)


def _reason(exc: Exception) -> str:
    """google-auth's message (it names claims, never the token itself)."""
    return str(exc)[:200] or exc.__class__.__name__
