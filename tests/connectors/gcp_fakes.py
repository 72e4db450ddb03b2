"""Stand-ins for Google in tests: our own OIDC signing key, and a local HTTP server.

`Oidc` mints tokens shaped like those Pub/Sub push attaches (RS256, ``kid`` in the
header, ``iss``/``aud``/``email``/``email_verified``/``iat``/``exp``), signed with a key
of our own; its certificate is served by `LocalHttp` at the URL an instance reads through
`oidc_certs_url`. `LocalHttp` answers each path from a routing table the test fills, and
records every request (method, path, query, headers), so a test sees what the real
client sent.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from google.auth import jwt
from google.cloud.monitoring_v3 import AlertPolicy, NotificationChannel
from google.cloud.monitoring_v3.types import alert_service, notification_service

FIXTURES = Path(__file__).parent / "data" / "gcp"
KEY_ID = "slad-test-key"
PUSH_ACCOUNT = "pubsub-push@acme-prod.iam.gserviceaccount.com"
CERTS_PATH = "/oauth2/v1/certs"


def fixture(name: str) -> dict[str, Any]:
    return dict(json.loads((FIXTURES / name).read_text()))


@dataclass(frozen=True)
class Seen:
    """One request the local server got."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


Route = Callable[[Seen], tuple[int, Any]]


class LocalHttp:
    """A loopback HTTP server answering JSON by path (longest matching prefix wins)."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.seen: list[Seen] = []
        self.account_keys: list[str] = []  # public keys of the service accounts it knows
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                split = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                seen = Seen(
                    self.command,
                    split.path,
                    parse_qs(split.query),
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length) if length else b"",
                )
                fake.seen.append(seen)
                route = max(
                    (p for p in fake.routes if split.path.startswith(p)), key=len, default=None
                )
                status, payload = (
                    (404, {"error": "no route"}) if route is None else (fake.routes[route](seen))
                )
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PATCH = do_DELETE = _answer

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def paths(self) -> list[str]:
        return [s.path for s in self.seen]

    def authorized(self, seen: Seen) -> bool:
        """Whether the request carries a token Google would take from our service
        account: the one its token endpoint granted, or a JWT the account signed itself
        (google-auth's self-signed JWT, which the generated clients send)."""
        scheme, _, token = seen.headers.get("authorization", "").partition(" ")
        if scheme != "Bearer":
            return False
        if token == "ya29.test":
            return True
        for key in self.account_keys:
            try:
                jwt.decode(token, certs=[key], verify=True)
                return True
            except ValueError:
                continue
        return False


def local_http() -> Iterator[LocalHttp]:
    server = LocalHttp()
    yield server
    server.close()


@cache
def _key() -> tuple[rsa.RSAPrivateKey, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "accounts.google.com")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return key, cert.public_bytes(serialization.Encoding.PEM).decode()


def serve_certs(server: LocalHttp) -> str:
    """Serve the signing certificate as Google does (key id → PEM); its URL."""
    server.routes[CERTS_PATH] = lambda _seen: (200, {KEY_ID: _key()[1]})
    return server.base + CERTS_PATH


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def oidc_token(
    audience: str,
    *,
    issuer: str = "https://accounts.google.com",
    email: str = PUSH_ACCOUNT,
    expires_in: int = 3600,
    key: rsa.RSAPrivateKey | None = None,
    verified: bool = True,
) -> str:
    """A token as Pub/Sub push attaches it, valid now (real time: google-auth reads it)."""
    now = int(time.time())
    header = {"alg": "RS256", "kid": KEY_ID, "typ": "JWT"}
    claims = {
        "iss": issuer,
        "aud": audience,
        "azp": "1234567890",
        "sub": "1234567890",
        "email": email,
        "email_verified": verified,
        "iat": now - 60 if expires_in > 0 else now - 7200,
        "exp": now + expires_in,
    }
    signed = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signer = key or _key()[0]
    signature = signer.sign(signed.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signed}.{_b64(signature)}"


def stranger_key() -> rsa.RSAPrivateKey:
    """A key Google never published: tokens it signs must not verify."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def push_envelope(notification: dict[str, Any], message_id: str = "1001") -> dict[str, Any]:
    """What a push subscription posts for one message carrying `notification`."""
    data = base64.b64encode(json.dumps(notification).encode()).decode()
    return {
        "message": {
            "data": data,
            "messageId": message_id,
            "message_id": message_id,
            "publishTime": "2026-12-01T10:00:00.000Z",
            "attributes": {},
        },
        "subscription": "projects/acme-prod/subscriptions/slad-push",
    }


def service_account_file(directory: Path, server: LocalHttp) -> Path:
    """A service-account key file of our own whose token endpoint is `server`'s
    ``/token``, which grants a token (``ya29.test``) for a valid signed assertion."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    server.routes.setdefault(
        "/token",
        lambda _seen: (
            200,
            {"access_token": "ya29.test", "expires_in": 3600, "token_type": "Bearer"},
        ),
    )
    server.account_keys.append(
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    path = directory / "gcp-sa.json"
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "acme-prod",
                "private_key_id": "slad-test",
                "private_key": pem,
                "client_email": "slad@acme-prod.iam.gserviceaccount.com",
                "client_id": "1234567890",
                "token_uri": server.base + "/token",
            }
        )
    )
    return path


class SnoozeServer:
    """A local gRPC server speaking ``google.monitoring.v3.SnoozeService`` (ListSnoozes),
    answering the snoozes a test sets, recording each request's parent."""

    def __init__(self) -> None:
        from concurrent import futures

        import grpc
        from google.cloud.monitoring_v3.types import snooze_service

        self.snoozes: list[Any] = []
        self.parents: list[str] = []

        def list_snoozes(request: Any, _context: Any) -> Any:
            self.parents.append(request.parent)
            return snooze_service.ListSnoozesResponse(snoozes=list(self.snoozes))

        handler = grpc.method_handlers_generic_handler(
            "google.monitoring.v3.SnoozeService",
            {
                "ListSnoozes": grpc.unary_unary_rpc_method_handler(
                    list_snoozes,
                    request_deserializer=snooze_service.ListSnoozesRequest.deserialize,
                    response_serializer=snooze_service.ListSnoozesResponse.serialize,
                )
            },
        )
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        self.server.add_generic_rpc_handlers((handler,))
        port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()
        self.endpoint = f"http://127.0.0.1:{port}"

    def close(self) -> None:
        self.server.stop(0)


def snooze(
    name: str, policies: list[str], start: datetime, end: datetime, filter_: str = ""
) -> Any:
    from google.cloud.monitoring_v3 import Snooze, TimeInterval

    return Snooze(
        name=name,
        display_name=f"maintenance {name.rsplit('/', 1)[-1]}",
        criteria=Snooze.Criteria(policies=policies, filter=filter_),
        interval=TimeInterval(start_time=start, end_time=end),
    )


class Monitoring:
    """Channels and policies of one project, served over gRPC."""

    def __init__(self) -> None:
        self.channels: list[NotificationChannel] = []
        self.policies: list[AlertPolicy] = []
        self.calls: list[str] = []

        def list_channels(request: Any, _context: Any) -> Any:
            self.calls.append("ListNotificationChannels")
            return notification_service.ListNotificationChannelsResponse(
                notification_channels=list(self.channels)
            )

        def create_channel(request: Any, _context: Any) -> Any:
            self.calls.append("CreateNotificationChannel")
            channel = NotificationChannel(request.notification_channel)
            channel.name = f"{request.name}/notificationChannels/{len(self.channels) + 1}"
            self.channels.append(channel)
            return channel

        def update_channel(request: Any, _context: Any) -> Any:
            self.calls.append("UpdateNotificationChannel")
            changed = NotificationChannel(request.notification_channel)
            self.channels = [changed if c.name == changed.name else c for c in self.channels]
            return changed

        def list_policies(request: Any, _context: Any) -> Any:
            self.calls.append("ListAlertPolicies")
            return alert_service.ListAlertPoliciesResponse(alert_policies=list(self.policies))

        def unary(fn: Any, request: Any, response: Any) -> Any:
            return grpc.unary_unary_rpc_method_handler(
                fn, request_deserializer=request.deserialize, response_serializer=response.serialize
            )

        channels = grpc.method_handlers_generic_handler(
            "google.monitoring.v3.NotificationChannelService",
            {
                "ListNotificationChannels": unary(
                    list_channels,
                    notification_service.ListNotificationChannelsRequest,
                    notification_service.ListNotificationChannelsResponse,
                ),
                "CreateNotificationChannel": unary(
                    create_channel,
                    notification_service.CreateNotificationChannelRequest,
                    NotificationChannel,
                ),
                "UpdateNotificationChannel": unary(
                    update_channel,
                    notification_service.UpdateNotificationChannelRequest,
                    NotificationChannel,
                ),
            },
        )
        policies = grpc.method_handlers_generic_handler(
            "google.monitoring.v3.AlertPolicyService",
            {
                "ListAlertPolicies": unary(
                    list_policies,
                    alert_service.ListAlertPoliciesRequest,
                    alert_service.ListAlertPoliciesResponse,
                )
            },
        )
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        self.server.add_generic_rpc_handlers((channels, policies))
        self.endpoint = f"http://127.0.0.1:{self.server.add_insecure_port('127.0.0.1:0')}"
        self.server.start()

    def close(self) -> None:
        self.server.stop(0)
