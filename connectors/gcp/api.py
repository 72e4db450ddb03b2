"""Google's APIs as the poller reads them: alerts (REST) and snoozes (gRPC).

- ``projects.alerts.list`` (Cloud Monitoring REST v3, through google-api-python-client:
  the monitoring client library has no alerts client): per project, the open alerts and
  those closed since the watermark. Each becomes its opening and, once closed, its
  closing, with the same event keys a webhook or Pub/Sub message gets, so an incident
  whose notification never arrived is still found, and one that did is a duplicate.
- ``SnoozeService.ListSnoozes`` (google-cloud-monitoring): Google's maintenance windows.
  See `connectors.gcp.snoozes` for what a snooze covers.

``monitoring_endpoint`` (REST) and ``monitoring_grpc_endpoint`` (gRPC) point the clients
elsewhere; an ``http://`` gRPC endpoint is spoken to over a plain-text channel (a local
server).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

import google_auth_httplib2
import grpc
import httplib2
from google.api_core import exceptions as api_exceptions
from google.auth import exceptions as auth_exceptions
from google.cloud.monitoring_v3.services.snooze_service import SnoozeServiceClient
from google.cloud.monitoring_v3.services.snooze_service.transports import (
    SnoozeServiceGrpcTransport,
)
from googleapiclient import discovery
from googleapiclient import errors as api_errors

from connectors.gcp.config import GcpInstance
from connectors.gcp.credentials import credentials_for
from connectors.source import SourceUnreachable

PAGE_SIZE = 1000
T = TypeVar("T")


def rfc3339(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class GoogleApis:
    """The REST and gRPC clients of each instance, made on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._monitoring: dict[str, Any] = {}
        self._snoozes: dict[str, SnoozeServiceClient] = {}

    def monitoring(self, instance: GcpInstance) -> Any:
        """The Cloud Monitoring v3 REST client (discovery document shipped in the package)."""
        with self._lock:
            if instance.name not in self._monitoring:
                http = google_auth_httplib2.AuthorizedHttp(
                    credentials_for(instance),
                    http=httplib2.Http(timeout=instance.http_timeout_seconds),
                )
                options = (
                    {"api_endpoint": instance.monitoring_endpoint + "/"}
                    if instance.monitoring_endpoint
                    else None
                )
                self._monitoring[instance.name] = discovery.build(
                    "monitoring",
                    "v3",
                    http=http,
                    static_discovery=True,
                    cache_discovery=False,
                    client_options=options,
                )
            return self._monitoring[instance.name]

    def snoozes(self, instance: GcpInstance) -> SnoozeServiceClient:
        with self._lock:
            if instance.name not in self._snoozes:
                self._snoozes[instance.name] = _snooze_client(instance)
            return self._snoozes[instance.name]


def grpc_client(instance: GcpInstance, client: type[T], transport: type[Any]) -> T:
    """A Cloud Monitoring gRPC client (snoozes, channels, policies) of the instance: over
    a plain-text channel to an ``http://`` `monitoring_grpc_endpoint`, else with its
    credentials to Google (or the given host)."""
    endpoint = instance.monitoring_grpc_endpoint
    if endpoint.startswith("http://"):
        channel = grpc.insecure_channel(endpoint.removeprefix("http://"))
        return client(transport=transport(channel=channel))  # type: ignore[call-arg]
    options = {"api_endpoint": endpoint.removeprefix("https://")} if endpoint else None
    return client(credentials=credentials_for(instance), client_options=options)  # type: ignore[call-arg]


def _snooze_client(instance: GcpInstance) -> SnoozeServiceClient:
    return grpc_client(instance, SnoozeServiceClient, SnoozeServiceGrpcTransport)


def list_alerts(
    apis: GoogleApis, instance: GcpInstance, project: str, query: str
) -> Iterator[Mapping[str, Any]]:
    """Every alert of `project` matching the filter `query`, page by page."""
    alerts = apis.monitoring(instance).projects().alerts()
    request = alerts.list(parent=f"projects/{project}", filter=query, pageSize=PAGE_SIZE)
    while request is not None:
        try:
            page = request.execute(num_retries=1)
        except api_errors.HttpError as exc:
            raise SourceUnreachable(
                f"projects.alerts.list of {project}: HTTP {exc.resp.status} {_reason(exc)}"
            ) from exc
        except (OSError, httplib2.HttpLib2Error, auth_exceptions.GoogleAuthError) as exc:
            raise SourceUnreachable(f"projects.alerts.list of {project}: {exc}") from exc
        yield from (a for a in page.get("alerts", []) if isinstance(a, Mapping))
        request = alerts.list_next(request, page)


def list_snoozes(apis: GoogleApis, instance: GcpInstance, project: str) -> list[Any]:
    """Every snooze of `project` (past, present and future)."""
    try:
        pager = apis.snoozes(instance).list_snoozes(
            request={"parent": f"projects/{project}"}, timeout=instance.http_timeout_seconds
        )
        return list(pager)
    except (api_exceptions.GoogleAPIError, auth_exceptions.GoogleAuthError) as exc:
        raise SourceUnreachable(f"ListSnoozes of {project}: {exc}") from exc


def _reason(exc: api_errors.HttpError) -> str:
    try:
        return str(exc._get_reason())[:300]
    except Exception:
        return ""
