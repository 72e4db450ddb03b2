"""Verify what SNS posts to an HTTP(S) subscription: the envelope, its URLs, its signature.

SNS signs the message with the key of a certificate it names by URL (`SigningCertURL`);
the certificate is trusted because it is fetched over HTTPS from an SNS host, so the URL
is checked before anything is fetched, and a URL that fails the check is never visited.
The same check guards the `SubscribeURL` a confirmation asks slad to visit (it would
otherwise let anyone make slad fetch any URL). The string to sign and the host pattern
are those of AWS's own validators (aws-php-sns-message-validator, aws-js-sns-message-
validator); SignatureVersion 1 is SHA1withRSA, 2 is SHA256withRSA.
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
import urllib.error
import urllib.request
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from connectors.json_body import NotJsonObject, json_object
from connectors.source import SourceUnreachable

NOTIFICATION = "Notification"
SUBSCRIPTION_CONFIRMATION = "SubscriptionConfirmation"
UNSUBSCRIBE_CONFIRMATION = "UnsubscribeConfirmation"

_SNS_HOST = re.compile(r"^sns\.[a-z0-9-]{3,}\.amazonaws\.com(\.cn)?$")
_SIGNED_KEYS = {
    NOTIFICATION: ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    SUBSCRIPTION_CONFIRMATION: (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
}
_SIGNED_KEYS[UNSUBSCRIBE_CONFIRMATION] = _SIGNED_KEYS[SUBSCRIPTION_CONFIRMATION]
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}
_MAX_CERTIFICATE_BYTES = 64 * 1024


class InvalidEnvelope(ValueError):
    """The body is not an SNS message (answered 422)."""


class UntrustedMessage(ValueError):
    """The message is SNS-shaped but cannot be trusted (answered 401)."""


@dataclass(frozen=True)
class Envelope:
    """One SNS message as posted, with the fields slad reads."""

    type: str
    message_id: str
    topic_arn: str
    message: str
    timestamp: str
    fields: Mapping[str, str]

    @property
    def subscribe_url(self) -> str:
        return self.fields.get("SubscribeURL", "")


def parse_envelope(body: bytes) -> Envelope:
    """The JSON envelope, whatever the request's content type (SNS sends text/plain)."""
    try:
        decoded = json_object(body)
    except NotJsonObject as exc:
        raise InvalidEnvelope(str(exc)) from exc
    fields = {k: v for k, v in decoded.items() if isinstance(v, str)}
    kind = fields.get("Type", "")
    if kind not in _SIGNED_KEYS:
        raise InvalidEnvelope(f"field 'Type' must be one of {', '.join(_SIGNED_KEYS)}")
    required = [k for k in _SIGNED_KEYS[kind] if k != "Subject"]
    required += ["Signature", "SignatureVersion", "SigningCertURL"]
    missing = [key for key in required if not fields.get(key)]
    if missing:
        raise InvalidEnvelope(f"{kind} lacks field(s) {', '.join(missing)}")
    return Envelope(
        type=kind,
        message_id=fields["MessageId"],
        topic_arn=fields["TopicArn"],
        message=fields["Message"],
        timestamp=fields["Timestamp"],
        fields=fields,
    )


def string_to_sign(envelope: Envelope) -> bytes:
    """``Key\\nValue\\n`` for each signed key present, in AWS's fixed order."""
    parts = []
    for key in _SIGNED_KEYS[envelope.type]:
        if key in envelope.fields:
            parts.append(f"{key}\n{envelope.fields[key]}\n")
    return "".join(parts).encode("utf-8")


def trusted_url(url: str, trusted_prefixes: Sequence[str], path_suffix: str = "") -> bool:
    """True for an https URL on an SNS host (``sns.<region>.amazonaws.com[.cn]``).

    No user info and no port other than 443 are allowed, so the host read here is the
    host connected to. `trusted_prefixes` (configured, for an emulator) are compared
    literally. `path_suffix` is what the path must end with (``.pem`` for a certificate).
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    if not parts.path.endswith(path_suffix):
        return False
    if any(url.startswith(prefix) for prefix in trusted_prefixes):
        return True
    return (
        parts.scheme == "https"
        and parts.username is None
        and port in (None, 443)
        and parts.hostname is not None
        and _SNS_HOST.match(parts.hostname) is not None
    )


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect would lead away from the host that was checked: refuse it."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def http_get(url: str, timeout: float) -> bytes:
    """GET `url` (already checked) without following redirects; `SourceUnreachable` on failure."""
    try:
        with _OPENER.open(url, timeout=timeout) as answer:
            body: bytes = answer.read(_MAX_CERTIFICATE_BYTES + 1)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise SourceUnreachable(f"GET {urlsplit(url).netloc}{urlsplit(url).path}: {exc}") from exc
    return body


class CertificateCache:
    """SNS signing certificates by URL, fetched once each (bounded, least recently used)."""

    def __init__(self, size: int = 32) -> None:
        self._size = size
        self._keys: OrderedDict[str, rsa.RSAPublicKey] = OrderedDict()
        self._lock = threading.Lock()
        self.fetches = 0

    def public_key(self, url: str, timeout: float, base_url: str = "") -> rsa.RSAPublicKey:
        """The RSA key of the certificate at `url` (checked by the caller); with
        `base_url`, fetched from the same path there (an emulator's own host)."""
        with self._lock:
            if url in self._keys:
                self._keys.move_to_end(url)
                return self._keys[url]
        pem = http_get(base_url + urlsplit(url).path if base_url else url, timeout)
        self.fetches += 1
        if len(pem) > _MAX_CERTIFICATE_BYTES:
            raise UntrustedMessage("the signing certificate is larger than any SNS certificate")
        try:
            key = x509.load_pem_x509_certificate(pem).public_key()
        except ValueError as exc:
            raise UntrustedMessage(f"SigningCertURL serves no PEM certificate: {exc}") from exc
        if not isinstance(key, rsa.RSAPublicKey):
            raise UntrustedMessage("the signing certificate does not hold an RSA key")
        with self._lock:
            self._keys[url] = key
            while len(self._keys) > self._size:
                self._keys.popitem(last=False)
        return key


def verify(
    envelope: Envelope,
    certificates: CertificateCache,
    trusted_prefixes: Sequence[str],
    timeout: float,
    certificate_base_url: str = "",
) -> None:
    """Raise `UntrustedMessage` unless SNS signed `envelope`.

    The certificate URL is checked before it is fetched; a fetch that fails raises
    `SourceUnreachable` (the sender should retry: nothing was judged).
    `certificate_base_url` fetches it from an emulator instead of the URL's own host.
    """
    algorithm = _HASHES.get(envelope.fields["SignatureVersion"])
    if algorithm is None:
        raise UntrustedMessage(
            f"SignatureVersion {envelope.fields['SignatureVersion']!r} is not 1 or 2"
        )
    url = envelope.fields["SigningCertURL"]
    if not trusted_url(url, trusted_prefixes, ".pem"):
        raise UntrustedMessage(
            "SigningCertURL is not an https .pem URL on an sns.<region>.amazonaws.com host"
        )
    try:
        signature = base64.b64decode(envelope.fields["Signature"], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise UntrustedMessage("Signature is not base64") from exc
    key = certificates.public_key(url, timeout, certificate_base_url)
    try:
        key.verify(signature, string_to_sign(envelope), padding.PKCS1v15(), algorithm())
    except InvalidSignature as exc:
        raise UntrustedMessage("the signature does not match the message") from exc
