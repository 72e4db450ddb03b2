"""Real servers for the channel tests: an SMTP server with STARTTLS and AUTH (aiosmtpd)
and an HTTP(S) receiver (http.server), both on 127.0.0.1 and torn down after each test."""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

SMTP_USER = "slad"
SMTP_PASSWORD = "s3cret-pass"
NOW = datetime(2026, 1, 5, 1, 30, 15, tzinfo=UTC)


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path


def _self_signed(folder: Path, name: str) -> Certificate:
    cert, key = folder / f"{name}.pem", folder / f"{name}.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )
    return Certificate(cert=cert, key=key)


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """The servers' certificate; its own file doubles as the CA file clients trust."""
    return _self_signed(tmp_path_factory.mktemp("tls"), "server")


@pytest.fixture(scope="session")
def other_certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A certificate that did not sign the servers' one: trusting it must fail."""
    return _self_signed(tmp_path_factory.mktemp("tls-other"), "other")


def free_port() -> int:
    """A port nothing listens on (bound once by the OS, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


class Clock:
    """A fixed clock that records, at each reading, how many deliveries had arrived."""

    def __init__(self, arrivals: Callable[[], int]):
        self.now = NOW
        self.arrivals_seen: list[int] = []
        self._arrivals = arrivals

    def __call__(self) -> datetime:
        self.arrivals_seen.append(self._arrivals())
        return self.now


@dataclass
class SmtpServer:
    host: str
    port: int
    envelopes: list[Envelope] = field(default_factory=list)
    data_reply: str = "250 OK"
    logins: list[str] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_reply.startswith("250"):
            self.envelopes.append(envelope)
        return self.data_reply


def _authenticate(server: SmtpServer) -> Callable[..., AuthResult]:
    def authenticator(
        smtp: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login == SMTP_USER.encode()
            and data.password == SMTP_PASSWORD.encode()
        )
        if ok:
            server.logins.append(mechanism)
        return AuthResult(success=ok, handled=False)

    return authenticator


def _server_context(certificate: Certificate) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate.cert, certificate.key)
    return context


@pytest.fixture
def smtp_server(certificate: Certificate) -> Iterator[SmtpServer]:
    """SMTP on 127.0.0.1 that requires STARTTLS and then AUTH before accepting mail."""
    server = SmtpServer(host="127.0.0.1", port=free_port())
    controller = Controller(
        server,
        hostname=server.host,
        port=server.port,
        tls_context=_server_context(certificate),
        require_starttls=True,
        auth_required=True,
        authenticator=_authenticate(server),
    )
    controller.start()
    yield server
    controller.stop()


@pytest.fixture
def smtps_server(certificate: Certificate) -> Iterator[SmtpServer]:
    """SMTP over implicit TLS (port-465 style) with AUTH."""
    server = SmtpServer(host="127.0.0.1", port=free_port())
    controller = Controller(
        server,
        hostname=server.host,
        port=server.port,
        ssl_context=_server_context(certificate),
        auth_required=True,
        auth_require_tls=False,  # aiosmtpd only recognises STARTTLS as TLS
        authenticator=_authenticate(server),
    )
    controller.start()
    yield server
    controller.stop()


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class HttpReceiver:
    url: str
    requests: list[Request] = field(default_factory=list)
    status: int = 200
    reply: bytes = b"ok"
    reply_headers: dict[str, str] = field(default_factory=dict)


def _handler(receiver: HttpReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            receiver.requests.append(Request(self.path, dict(self.headers.items()), body))
            self.send_response(receiver.status)
            for name, value in receiver.reply_headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(receiver.reply)))
            self.end_headers()
            self.wfile.write(receiver.reply)

        def log_message(self, format: str, *args: Any) -> None:
            """Keep test output clean."""

    return Handler


@contextmanager
def _receiver(scheme: str, certificate: Certificate) -> Iterator[HttpReceiver]:
    receiver = HttpReceiver(url="")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    if scheme == "https":
        httpd.socket = _server_context(certificate).wrap_socket(httpd.socket, server_side=True)
    receiver.url = f"{scheme}://127.0.0.1:{httpd.server_address[1]}/hook"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield receiver
    finally:
        httpd.shutdown()
        thread.join()
        httpd.server_close()


@pytest.fixture(params=["http", "https"])
def http_receiver(
    request: pytest.FixtureRequest, certificate: Certificate
) -> Iterator[HttpReceiver]:
    """A POST receiver on 127.0.0.1, over plain HTTP and over HTTPS."""
    with _receiver(request.param, certificate) as receiver:
        yield receiver


@pytest.fixture
def https_receiver(certificate: Certificate) -> Iterator[HttpReceiver]:
    """A POST receiver on 127.0.0.1 over HTTPS only."""
    with _receiver("https", certificate) as receiver:
        yield receiver
