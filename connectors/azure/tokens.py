"""Secure webhook tokens: Entra ID access tokens Azure Monitor attaches to its calls.

An action group's secure webhook receiver asks Entra ID for a token for the app
registration slad's operator made, as Azure Monitor's own application
(`AZURE_MONITOR_APP_ID`), and sends it as ``Authorization: Bearer``. A token is accepted
only when all of these hold, each checked here:

- signed (RS256) by a key the tenant publishes (its JWKS), found by the header's ``kid``;
- issued by the tenant: ``https://sts.windows.net/<tenant>/`` (v1 tokens) or
  ``https://login.microsoftonline.com/<tenant>/v2.0`` (v2 tokens);
- for this app registration: ``aud`` is one of the instance's `audiences`;
- to Azure Monitor: ``appid`` (v1) or ``azp`` (v2) is its application id;
- carrying the app role the registration grants it (``roles``);
- current at the request's receipt instant (``nbf`` / ``exp``, with a little leeway).

PyJWT does the signature and the audience and issuer comparisons (it refuses ``none``
and any algorithm not asked for, which a hand-written check easily gets wrong); the
instants are compared here against the receipt instant the daemon injects, so tests and
replays judge expiry by the same clock as the rest of slad.

Keys are cached. Entra ID rotates them and publishes a new one before it signs with it,
so an unknown ``kid`` refreshes the set once; a stranger sending made-up key ids cannot
make slad fetch more often than once per `REFRESH_SPACING`.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import httpx
import jwt

from connectors.azure.config import AzureInstance

LEEWAY = timedelta(seconds=60)
REFRESH_SPACING = 60.0  # seconds between refreshes an unknown key id may cause
KEYS_LIFETIME = 24 * 3600.0  # a key set older than this is fetched anew


class InvalidToken(ValueError):
    """The bearer token is missing, forged, expired or not for this instance."""


class KeysUnavailable(InvalidToken):
    """The tenant's signing keys could not be fetched, so no token can be checked."""


class SigningKeys:
    """The signing keys of one key set URL, fetched on demand and cached."""

    def __init__(
        self,
        url: str,
        verify: str | bool,
        timeout: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.verify = verify
        self.timeout = timeout
        self.monotonic = monotonic
        self.fetches = 0
        self._keys: dict[str, jwt.PyJWK] = {}
        self._loaded_at: float | None = None
        self._refreshed_for_unknown_at: float | None = None
        self._lock = threading.Lock()

    def key(self, kid: str) -> jwt.PyJWK:
        """The key named `kid`; raises `InvalidToken` when the tenant has none such."""
        with self._lock:
            now = self.monotonic()
            if self._loaded_at is None or now - self._loaded_at > KEYS_LIFETIME:
                self._load(now)
            elif kid not in self._keys and (
                self._refreshed_for_unknown_at is None
                or now - self._refreshed_for_unknown_at >= REFRESH_SPACING
            ):
                self._refreshed_for_unknown_at = now
                self._load(now)
            found = self._keys.get(kid)
        if found is None:
            raise InvalidToken(f"the token's signing key {kid[:64]!r} is not one of the tenant's")
        return found

    def refresh(self) -> int:
        """Fetch the key set now; the number of keys it holds (``slad source check``)."""
        with self._lock:
            self._load(self.monotonic())
            return len(self._keys)

    def _load(self, now: float) -> None:
        self.fetches += 1
        try:
            verify = (
                ssl.create_default_context(cafile=self.verify)
                if isinstance(self.verify, str)
                else self.verify
            )
            response = httpx.get(self.url, timeout=self.timeout, verify=verify)
            response.raise_for_status()
            document = response.json()
            keys = jwt.PyJWKSet.from_dict(document).keys
        except (httpx.HTTPError, OSError, ValueError, jwt.PyJWTError) as exc:
            raise KeysUnavailable(f"the tenant's signing keys could not be read: {exc}") from exc
        self._keys = {str(key.key_id): key for key in keys if key.key_id}
        self._loaded_at = now


class TokenVerifier:
    """Checks secure webhook tokens for one instance (module docstring)."""

    def __init__(self, instance: AzureInstance, keys: SigningKeys) -> None:
        self.instance = instance
        self.keys = keys

    def verify(self, authorization: str | None, at: datetime) -> Mapping[str, Any]:
        """The token's claims, once every check passed; raises `InvalidToken`."""
        token = _bearer(authorization)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"the bearer token is not a JWT: {exc}") from exc
        if header.get("alg") != "RS256":
            raise InvalidToken(
                f"the token's algorithm {str(header.get('alg'))[:16]!r} is not RS256"
            )
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("the token names no signing key (kid)")
        key = self.keys.key(kid)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                audience=list(self.instance.audiences),
                issuer=sorted(self.instance.issuers),
                options={
                    "require": ["exp", "iss", "aud"],
                    "verify_exp": False,  # judged below at the receipt instant
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.InvalidAudienceError as exc:
            raise InvalidToken("the token is not for this app registration (aud)") from exc
        except jwt.InvalidIssuerError as exc:
            raise InvalidToken("the token was not issued by this instance's tenant (iss)") from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"the token is refused: {exc}") from exc
        self._check_times(claims, at)
        app = claims.get("appid", claims.get("azp"))
        if app != self.instance.webhook_app_id:
            raise InvalidToken("the token was not issued to Azure Monitor (appid/azp)")
        roles = claims.get("roles")
        if not isinstance(roles, list) or self.instance.app_role not in roles:
            raise InvalidToken(f"the token lacks the app role {self.instance.app_role!r}")
        return claims

    def _check_times(self, claims: Mapping[str, Any], at: datetime) -> None:
        now = at.timestamp()
        leeway = LEEWAY.total_seconds()
        expires, not_before = claims.get("exp"), claims.get("nbf")
        if not isinstance(expires, int | float) or isinstance(expires, bool):
            raise InvalidToken("the token's exp is not a number")
        if now > expires + leeway:
            raise InvalidToken("the token has expired")
        if not_before is not None:
            if not isinstance(not_before, int | float) or isinstance(not_before, bool):
                raise InvalidToken("the token's nbf is not a number")
            if now < not_before - leeway:
                raise InvalidToken("the token is not valid yet (nbf)")


def _bearer(authorization: str | None) -> str:
    if not authorization:
        raise InvalidToken("no Authorization header: a secure webhook sends a bearer token")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("the Authorization header is not a bearer token")
    return token.strip()
