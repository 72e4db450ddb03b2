"""SNS message verification: our own key and certificate, served by a local server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from connectors.aws.sns import (
    CertificateCache,
    InvalidEnvelope,
    UntrustedMessage,
    parse_envelope,
    trusted_url,
    verify,
)
from connectors.source import SourceUnreachable
from tests.connectors.aws_sns import FakeSns, fake_sns, fixture


@pytest.fixture
def server() -> Iterator[FakeSns]:
    yield from fake_sns()


def check(server: FakeSns, fields: dict[str, Any], cache: CertificateCache | None = None) -> None:
    verify(
        parse_envelope(json.dumps(fields).encode()),
        cache or CertificateCache(),
        (server.base,),
        5,
    )


ALARM = fixture("cloudwatch-alarm-message.json")


@pytest.mark.parametrize("version", ["1", "2"])
@pytest.mark.parametrize("subject", [None, 'ALARM: "web01-cpu-high" in Asia Pacific (Tokyo)'])
def test_signed_notification_verifies(server: FakeSns, version: str, subject: str | None) -> None:
    check(server, server.notification(ALARM, version=version, subject=subject))


@pytest.mark.parametrize("field", ["Message", "MessageId", "Subject", "Timestamp", "TopicArn"])
def test_a_tampered_field_fails(server: FakeSns, field: str) -> None:
    fields = server.notification(ALARM, subject="ALARM")
    fields[field] = fields[field] + " "
    with pytest.raises(UntrustedMessage, match="does not match"):
        check(server, fields)


def test_subject_added_after_signing_fails(server: FakeSns) -> None:
    fields = {**server.notification(ALARM), "Subject": "injected"}
    with pytest.raises(UntrustedMessage, match="does not match"):
        check(server, fields)


def test_a_signature_of_the_other_version_fails(server: FakeSns) -> None:
    fields = {**server.notification(ALARM, version="1"), "SignatureVersion": "2"}
    with pytest.raises(UntrustedMessage, match="does not match"):
        check(server, fields)


@pytest.mark.parametrize("version", ["3", "0"])
def test_unknown_signature_version_is_refused_unfetched(server: FakeSns, version: str) -> None:
    with pytest.raises(UntrustedMessage, match="SignatureVersion"):
        check(server, {**server.notification(ALARM), "SignatureVersion": version})
    assert server.requests == []


def test_certificate_on_an_untrusted_host_is_never_fetched(server: FakeSns) -> None:
    fields = server.notification(ALARM)  # signed with a key this server would serve
    with pytest.raises(UntrustedMessage, match="SigningCertURL"):
        verify(parse_envelope(json.dumps(fields).encode()), CertificateCache(), (), 5)
    assert server.requests == []


def test_certificate_is_fetched_once_and_cached(server: FakeSns) -> None:
    cache = CertificateCache()
    check(server, server.notification(ALARM), cache)
    check(server, server.notification(ALARM, message_id="another"), cache)
    assert server.requests == ["/SimpleNotificationService-test.pem"]


def test_a_redirect_is_not_followed(server: FakeSns) -> None:
    fields = server.notification(ALARM, cert_url=f"{server.base}redirect.pem")
    with pytest.raises(SourceUnreachable):
        check(server, fields)
    assert server.requests == ["/redirect.pem"]


@pytest.mark.parametrize(
    "url",
    [
        "https://sns.ap-northeast-1.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem",
        "https://sns.us-gov-west-1.amazonaws.com/SimpleNotificationService-abc.pem",
    ],
)
def test_sns_certificate_urls_are_trusted(url: str) -> None:
    assert trusted_url(url, (), ".pem")


@pytest.mark.parametrize(
    "url",
    [
        "http://sns.ap-northeast-1.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns.ap-northeast-1.amazonaws.com/SimpleNotificationService-abc.txt",
        "https://sns.ap-northeast-1.amazonaws.com.evil.example/x.pem",
        "https://sns.ap-northeast-1.amazonaws.com@evil.example/x.pem",
        "https://evil.example/sns.ap-northeast-1.amazonaws.com/x.pem",
        "https://sns.ap-northeast-1.amazonaws.com:8443/x.pem",
        "https://s3.ap-northeast-1.amazonaws.com/x.pem",
        "https://sns.ap.amazonaws.com/x.pem",
        "https://[::1/x.pem",
    ],
)
def test_other_certificate_urls_are_not(url: str) -> None:
    assert not trusted_url(url, (), ".pem")


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b"not json", "not JSON"),
        (b"[]", "JSON object"),
        (json.dumps({"Type": "Other"}).encode(), "Type"),
        (json.dumps({"Type": "Notification", "Message": "x"}).encode(), "MessageId"),
    ],
)
def test_malformed_envelopes(body: bytes, match: str) -> None:
    with pytest.raises(InvalidEnvelope, match=match):
        parse_envelope(body)
