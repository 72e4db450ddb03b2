"""The Google credentials an instance's API clients use.

A service-account key file (`credentials_file`) when one is configured, else Google's
application default credentials: on Google Cloud (GCE, GKE, Cloud Run) the metadata
server's, elsewhere ``GOOGLE_APPLICATION_CREDENTIALS``. Read once per instance and
refreshed by google-auth itself.
"""

from __future__ import annotations

import threading
from typing import Any

import google.auth
from google.auth import exceptions as google_exceptions
from google.oauth2 import service_account

from connectors.gcp.config import GcpInstance
from connectors.source import SourceUnreachable

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)

_lock = threading.Lock()
_cache: dict[tuple[str, str], Any] = {}


def credentials_for(instance: GcpInstance) -> Any:
    """The instance's credentials; `SourceUnreachable` when none can be had."""
    key = (instance.name, instance.credentials_file)
    with _lock:
        if key not in _cache:
            _cache[key] = _load(instance)
        return _cache[key]


def _load(instance: GcpInstance) -> Any:
    try:
        if instance.credentials_file:
            return service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call]
                instance.credentials_file, scopes=SCOPES
            )
        credentials, _project = google.auth.default(scopes=SCOPES)
        return credentials
    except (OSError, ValueError, google_exceptions.GoogleAuthError) as exc:
        raise SourceUnreachable(f"no Google credentials for gcp:{instance.name}: {exc}") from exc
