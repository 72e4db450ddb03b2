"""Local stand-ins for the Azure endpoints slad talks to, over real HTTPS.

No Azure emulator exists, so tests run small HTTPS servers (certificates from a
`trustme` test CA) that answer the documented REST shapes: a tenant's signing key set
(JWKS), and whatever else a test registers. Tokens are issued here with keys made here,
the way Entra ID issues secure webhook tokens to Azure Monitor.
"""

from __future__ import annotations

import json
import ssl
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import trustme
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from connectors.azure.config import AZURE_MONITOR_APP_ID, DEFAULT_APP_ROLE

DATA = Path(__file__).parent / "data" / "azure"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
SUBSCRIPTION = "11111111-2222-3333-4444-555555555555"
APP_ID_URI = "api://slad-webhook"
APP_CLIENT_ID = "6e1a5b0c-1111-4222-8333-944455556666"


def fixture(name: str) -> dict[str, Any]:
    """One of the sample payloads kept with the tests."""
    return dict(json.loads((DATA / name).read_text()))


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[["Seen"], Reply]


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    body: bytes
    headers: dict[str, str]


class HttpsServer:
    """One HTTPS server on 127.0.0.1; `routes` map (method, path) to a handler."""

    def __init__(self, ca: trustme.CA) -> None:
        self.routes: dict[tuple[str, str], Handler] = {}
        self.seen: list[Seen] = []
        server = self

        class Handler_(BaseHTTPRequestHandler):
            def _any(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                query = parse_qs(parts.query)
                seen = Seen(self.command, parts.path, query, body, dict(self.headers.items()))
                server.seen.append(seen)
                handler = server.routes.get((self.command, parts.path))
                reply = Reply(404, {"error": {"code": "NotFound", "message": parts.path}})
                if handler is not None:
                    reply = handler(seen)
                raw = json.dumps(reply.body).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = do_PUT = do_PATCH = _any

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler_)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.base = f"https://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def paths(self, method: str = "GET") -> list[str]:
        return [s.path for s in self.seen if s.method == method]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@dataclass
class SigningKey:
    kid: str
    private: rsa.RSAPrivateKey

    def jwk(self) -> dict[str, Any]:
        public = json.loads(RSAAlgorithm.to_jwk(self.private.public_key()))
        return {**public, "kid": self.kid, "use": "sig", "alg": "RS256"}


def new_key(kid: str | None = None) -> SigningKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return SigningKey(kid or uuid.uuid4().hex, private)


class Tenant:
    """An Entra ID tenant: its published key set and the tokens it issues."""

    def __init__(self, server: HttpsServer, tenant: str = TENANT) -> None:
        self.id = tenant
        self.server = server
        self.published = [new_key("k1")]
        self.keys_path = f"/{tenant}/discovery/v2.0/keys"
        server.routes[("GET", self.keys_path)] = lambda *_: Reply(
            200, {"keys": [k.jwk() for k in self.published]}
        )

    @property
    def keys_url(self) -> str:
        return self.server.base + self.keys_path

    def key_fetches(self) -> int:
        return self.server.paths().count(self.keys_path)

    def token(
        self,
        at: datetime,
        *,
        version: int = 1,
        key: SigningKey | None = None,
        lifetime: timedelta = timedelta(hours=1),
        **claims: Any,
    ) -> str:
        """A secure webhook token as Entra ID issues it to Azure Monitor at `at`."""
        key = key or self.published[0]
        base: dict[str, Any] = {
            "aud": APP_ID_URI if version == 1 else APP_CLIENT_ID,
            "iss": f"https://sts.windows.net/{self.id}/"
            if version == 1
            else f"https://login.microsoftonline.com/{self.id}/v2.0",
            "iat": int(at.timestamp()) - 60,
            "nbf": int(at.timestamp()) - 60,
            "exp": int((at + lifetime).timestamp()),
            "tid": self.id,
            "roles": [DEFAULT_APP_ROLE],
            "ver": "1.0" if version == 1 else "2.0",
            ("appid" if version == 1 else "azp"): AZURE_MONITOR_APP_ID,
        }
        base.update(claims)
        payload = {k: v for k, v in base.items() if v is not None}
        return jwt.encode(payload, key.private, algorithm="RS256", headers={"kid": key.kid})


@dataclass
class AzureFakes:
    ca_file: str
    server: HttpsServer
    tenant: Tenant


def azure_fakes(directory: Path) -> Iterator[AzureFakes]:
    """A test CA (written to `directory`), one HTTPS server and a tenant on it."""
    ca = trustme.CA()
    ca_file = directory / "azure-test-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    server = HttpsServer(ca)
    try:
        yield AzureFakes(str(ca_file), server, Tenant(server))
    finally:
        server.close()


class Arm:
    """Azure Resource Manager and the tenant's token authority, as the SDK clients reach
    them: OpenID discovery and the client-credentials grant (azure-identity / MSAL),
    ``Microsoft.AlertsManagement/alerts`` and ``Microsoft.ResourceHealth/events``.

    `alerts` and `events` are the items the lists answer, per subscription; `failure`
    makes every ARM call answer that status and Azure error code instead.
    """

    def __init__(self, server: HttpsServer, tenant: str = TENANT) -> None:
        self.server = server
        self.tenant = tenant
        self.client_secret = "client-secret-value"
        self.issued: list[str] = []
        self.alerts: dict[str, list[dict[str, Any]]] = {}
        self.events: dict[str, list[dict[str, Any]]] = {}
        self.failure: tuple[int, str] | None = None
        authority = f"{server.base}/{tenant}"
        server.routes[("GET", f"/{tenant}/v2.0/.well-known/openid-configuration")] = lambda *_: (
            Reply(
                200,
                {
                    "token_endpoint": f"{authority}/oauth2/v2.0/token",
                    "authorization_endpoint": f"{authority}/oauth2/v2.0/authorize",
                    "issuer": f"https://login.microsoftonline.com/{tenant}/v2.0",
                    "jwks_uri": f"{authority}/discovery/v2.0/keys",
                },
            )
        )
        server.routes[("POST", f"/{tenant}/oauth2/v2.0/token")] = self._token

    def _token(self, seen: Seen) -> Reply:
        form = parse_qs(seen.body.decode())
        if form.get("client_secret") != [self.client_secret]:
            return Reply(
                401,
                {
                    "error": "invalid_client",
                    "error_description": "AADSTS7000215: Invalid client secret provided.",
                },
            )
        token = f"arm-{uuid.uuid4().hex}"
        self.issued.append(token)
        return Reply(200, {"token_type": "Bearer", "expires_in": 3600, "access_token": token})

    def serve(self, subscription: str) -> None:
        base = f"/subscriptions/{subscription}/providers"
        self.alerts.setdefault(subscription, [])
        self.events.setdefault(subscription, [])
        self.server.routes[("GET", f"{base}/Microsoft.AlertsManagement/alerts")] = lambda seen: (
            self._list(seen, self.alerts[subscription])
        )
        self.server.routes[("GET", f"{base}/Microsoft.ResourceHealth/events")] = lambda seen: (
            self._list(seen, self.events[subscription])
        )

    def serve_monitor(self, subscription: str, group_id: str) -> None:
        """``Microsoft.Insights``: one action group (GET, PUT) and the alert rule lists."""
        self.action_group: dict[str, Any] | None = None
        self.rules: dict[str, list[dict[str, Any]]] = {
            "metricAlerts": [],
            "scheduledQueryRules": [],
            "activityLogAlerts": [],
        }

        def get(seen: Seen) -> Reply:
            refused = self._refused(seen)
            if refused is not None:
                return refused
            if self.action_group is None:
                return Reply(404, {"error": {"code": "ResourceNotFound", "message": "none"}})
            return Reply(200, self.action_group)

        def put(seen: Seen) -> Reply:
            refused = self._refused(seen)
            if refused is not None:
                return refused
            self.action_group = {
                **json.loads(seen.body),
                "id": group_id,
                "name": group_id.rsplit("/", 1)[-1],
                "type": "Microsoft.Insights/ActionGroups",
            }
            return Reply(200, self.action_group)

        self.server.routes[("GET", group_id)] = get
        self.server.routes[("PUT", group_id)] = put
        for kind, items in self.rules.items():
            path = f"/subscriptions/{subscription}/providers/Microsoft.Insights/{kind}"
            self.server.routes[("GET", path)] = partial(self._list, items=items)

    def _refused(self, seen: Seen) -> Reply | None:
        authorization = seen.headers.get("Authorization", "")
        if not self.issued or authorization != f"Bearer {self.issued[-1]}":
            error = {"code": "InvalidAuthenticationToken", "message": "The token is invalid."}
            return Reply(401, {"error": error})
        if self.failure is not None:
            status, code = self.failure
            error = {"code": code, "message": f"{code} (test)"}
            return Reply(status, {"error": error}, {"Retry-After": "0"})
        return None

    def _list(self, seen: Seen, items: list[dict[str, Any]]) -> Reply:
        return self._refused(seen) or Reply(200, {"value": items})

    def calls(self, kind: str) -> list[Seen]:
        return [s for s in self.server.seen if s.path.endswith(kind)]


def listed_alert(
    alert_guid: str,
    target: str,
    started: str,
    *,
    subscription: str = SUBSCRIPTION,
    resolved: str | None = None,
    rule: str = "vm-cpu-high",
    service: str = "Platform",
) -> dict[str, Any]:
    """One alert as ``GET .../Microsoft.AlertsManagement/alerts`` lists it."""
    essentials: dict[str, Any] = {
        "severity": "Sev1",
        "signalType": "Metric",
        "alertState": "New",
        "monitorCondition": "Resolved" if resolved else "Fired",
        "targetResource": target,
        "targetResourceName": target.rsplit("/", 1)[-1],
        "targetResourceGroup": target.split("/")[4] if target.count("/") > 4 else "",
        "targetResourceType": "virtualmachines",
        "monitorService": service,
        "alertRule": f"/subscriptions/{subscription}/resourceGroups/prod-rg/providers/"
        f"microsoft.insights/metricAlerts/{rule}",
        "sourceCreatedId": uuid.uuid4().hex,
        "startDateTime": started,
        "lastModifiedDateTime": resolved or started,
        "lastModifiedUserName": "System",
    }
    if resolved:
        essentials["monitorConditionResolvedDateTime"] = resolved
    return {
        "id": f"/subscriptions/{subscription}/providers/Microsoft.AlertsManagement/alerts/"
        f"{alert_guid}",
        "type": "Microsoft.AlertsManagement/alerts",
        "name": rule,
        "properties": {"essentials": essentials},
    }


def health_event(
    tracking_id: str,
    start: str,
    end: str | None,
    *,
    event_type: str = "PlannedMaintenance",
    status: str = "Active",
    updated: str = "2026-11-30T00:00:00Z",
    service: str = "Virtual Machines",
    region: str = "Japan East",
) -> dict[str, Any]:
    """One Service Health event as ``GET .../Microsoft.ResourceHealth/events`` lists it."""
    properties: dict[str, Any] = {
        "eventType": event_type,
        "eventSource": "ServiceHealth",
        "status": status,
        "title": f"Planned maintenance: {service} - {region}",
        "summary": "Hosts are updated.",
        "level": "Informational",
        "impactStartTime": start,
        "lastUpdateTime": updated,
        "impact": [
            {
                "impactedService": service,
                "impactedRegions": [{"impactedRegion": region, "status": status}],
            }
        ],
    }
    if end:
        properties["impactMitigationTime"] = end
    return {
        "id": f"/providers/Microsoft.ResourceHealth/events/{tracking_id}",
        "name": tracking_id,
        "type": "Microsoft.ResourceHealth/events",
        "properties": properties,
    }
