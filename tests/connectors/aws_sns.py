"""A stand-in for SNS in tests: our own RSA key and self-signed certificate, messages
signed the way SNS signs them, and a local HTTP server that serves the certificate and
answers `SubscribeURL` visits, recording every request it gets.

Instances reach the server through `trusted_url_prefixes` (the config setting that
admits an emulator's URLs), so no code of slad's is patched.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from connectors.aws.sns import parse_envelope, string_to_sign

FIXTURES = Path(__file__).parent / "data" / "aws"
TOPIC = "arn:aws:sns:ap-northeast-1:123456789012:slad"
CERT_PATH = "/SimpleNotificationService-test.pem"


@cache
def signing_key() -> tuple[rsa.RSAPrivateKey, bytes]:
    """One RSA key and its self-signed certificate (PEM) for the whole run."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
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
    return key, cert.public_bytes(serialization.Encoding.PEM)


def fixture(name: str) -> dict[str, Any]:
    return dict(json.loads((FIXTURES / name).read_text()))


def sign(fields: dict[str, Any]) -> dict[str, Any]:
    """`fields` with `Signature` set over SNS's string to sign (by `SignatureVersion`)."""
    key, _ = signing_key()
    algorithm = hashes.SHA1() if fields["SignatureVersion"] == "1" else hashes.SHA256()
    unsigned = {**fields, "Signature": "x"}
    data = string_to_sign(parse_envelope(json.dumps(unsigned).encode()))
    signature = key.sign(data, padding.PKCS1v15(), algorithm)
    return {**fields, "Signature": base64.b64encode(signature).decode()}


class FakeSns:
    """The local server: the certificate at `CERT_PATH`, 200 for anything else."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake.requests.append(self.path)
                if self.path.startswith("/redirect"):
                    self.send_response(302)
                    self.send_header("Location", CERT_PATH)
                    self.end_headers()
                    return
                confirmed = b"<ConfirmSubscriptionResponse/>"
                body = signing_key()[1] if self.path == CERT_PATH else confirmed
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    @property
    def cert_url(self) -> str:
        return self.base.rstrip("/") + CERT_PATH

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def notification(
        self,
        message: dict[str, Any] | str,
        *,
        subject: str | None = None,
        version: str = "2",
        topic: str = TOPIC,
        message_id: str = "6f1c2d0e-7b1a-5c3e-9f00-1a2b3c4d5e6f",
        cert_url: str | None = None,
    ) -> dict[str, Any]:
        """A signed Notification carrying `message` (a dict is sent as its JSON string)."""
        fields: dict[str, Any] = {
            "Type": "Notification",
            "MessageId": message_id,
            "TopicArn": topic,
            "Message": message if isinstance(message, str) else json.dumps(message),
            "Timestamp": "2026-11-30T01:15:29.456Z",
            "SignatureVersion": version,
            "SigningCertURL": cert_url or self.cert_url,
            "UnsubscribeURL": f"{self.base}?Action=Unsubscribe",
        }
        if subject is not None:
            fields["Subject"] = subject
        return sign(fields)

    def confirmation(
        self, kind: str = "SubscriptionConfirmation", subscribe_url: str | None = None
    ) -> dict[str, Any]:
        """A signed Subscription- or UnsubscribeConfirmation for `TOPIC`."""
        fields = fixture("sns-subscription-confirmation.json")
        fields.update(
            Type=kind,
            SubscribeURL=subscribe_url or f"{self.base}confirm?Token=2336412f37",
            SigningCertURL=self.cert_url,
        )
        return sign(fields)


def fake_sns() -> Iterator[FakeSns]:
    """The body of a pytest fixture: a running `FakeSns`, closed after the test."""
    server = FakeSns()
    try:
        yield server
    finally:
        server.close()
