"""The ``[azure.instances.<name>]`` table: what an operator can get wrong is named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from connectors.azure import parse_instance
from connectors.azure.config import WebhookAuth

TENANT = "72F988BF-86F1-41AF-91AB-2D7CD011DB47"


def parse(**table: Any) -> Any:
    return parse_instance("prod", {"tenant_id": TENANT, **table})


def test_a_secure_webhook_needs_audiences_and_names_the_tenants_issuers() -> None:
    with pytest.raises(ValueError, match=r"azure\.instances\.prod\.audiences: required"):
        parse()
    instance = parse(audiences=["api://slad-webhook"])
    assert instance.webhook_auth is WebhookAuth.SECURE
    tenant = TENANT.lower()
    assert instance.issuers == {
        f"https://sts.windows.net/{tenant}/",
        f"https://login.microsoftonline.com/{tenant}/v2.0",
    }
    assert instance.signing_keys_url.endswith(f"/{tenant}/discovery/v2.0/keys")


def test_a_plain_webhook_reads_its_secret_from_a_file_and_keeps_it_out_of_repr(
    tmp_path: Path,
) -> None:
    path = tmp_path / "secret"
    path.write_text("a-long-enough-webhook-secret\n")
    instance = parse(webhook_auth="secret", webhook_secret_file=str(path))
    assert instance.webhook_secret == "a-long-enough-webhook-secret"
    assert "a-long-enough" not in repr(instance)
    with pytest.raises(ValueError, match=r"webhook_secret: at least 16"):
        parse(webhook_auth="secret", webhook_secret="short")


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"tenant_id": "contoso"}, r"tenant_id: 'contoso' is not a GUID"),
        ({"webhook_auth": "basic"}, r"webhook_auth: must be one of secret, secure"),
        ({"keys_url": "http://127.0.0.1/keys"}, r"keys_url: must be an https URL"),
        ({"ca_file": "/nonexistent/ca.pem"}, r"ca_file: no file"),
        ({"colour": "blue"}, r"unknown key\(s\) colour"),
    ],
)
def test_mistakes_are_named_by_key(table: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse(audiences=["api://slad-webhook"], **table)


def test_polling_needs_a_credential_of_the_chosen_kind(tmp_path: Path) -> None:
    subscriptions = ["11111111-2222-3333-4444-555555555555"]
    with pytest.raises(ValueError, match=r"azure\.instances\.prod\.client_id: required"):
        parse(audiences=["a"], subscriptions=subscriptions)
    with pytest.raises(ValueError, match=r"certificate_file: required"):
        parse(
            audiences=["a"],
            subscriptions=subscriptions,
            credential="certificate",
            client_id="0f2c9e31-1111-4222-8333-944455556666",
        )
    managed = parse(audiences=["a"], subscriptions=subscriptions, credential="managed_identity")
    assert managed.client_id == "" and managed.client_secret == ""
    with pytest.raises(ValueError, match=r"subscriptions: 'prod' is not a GUID"):
        parse(audiences=["a"], subscriptions=["prod"])
