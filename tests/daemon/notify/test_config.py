from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from daemon.notify.channels import EmailChannel, SlackChannel, WebhookChannel, build_channels
from daemon.notify.config import (
    EmailChannelConfig,
    ProviderContact,
    SlackChannelConfig,
    WebhookChannelConfig,
    channels_for,
    parse_notify_config,
)
from daemon.notify.events import NotifyEvent
from tests.daemon.notify.conftest import NOW

EXAMPLE = """
templates_dir = "templates"

[provider]
name = "株式会社デジテラス"
url = "https://ticket.example.jp/"
email = "support@example.jp"
phone = "050-0000-0000"

[channels.ops-mail]
type = "email"
host = "smtp.example.jp"
from = "slad <slad@example.jp>"
username = "slad"
password_file = "secrets/smtp-password"
to = ["noc@example.jp"]

[channels.ops-slack]
type = "slack"
url_file = "secrets/slack-url"

[channels.acme-hook]
type = "webhook"
url = "https://hooks.acme.example/slad"
secret = "whsec"
timeout = 5

[routes.default]
incident_opened = ["ops-slack"]
sla_breached = ["ops-mail", "ops-slack"]
customer_first_notice = ["ops-mail"]

[routes.plans.basic]
incident_opened = []

[routes.contracts."C-0001"]
sla_breached = ["ops-mail", "acme-hook"]
"""


def _table(text: str = EXAMPLE) -> dict[str, Any]:
    return tomllib.loads(text)


@pytest.fixture
def base_dir(tmp_path: Path) -> Path:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "smtp-password").write_text("pw-from-file\n")
    (tmp_path / "secrets" / "slack-url").write_text("https://hooks.slack.com/services/T/B/x\n")
    return tmp_path


def test_parses_the_example(base_dir: Path) -> None:
    config = parse_notify_config(_table(), base_dir=base_dir)

    assert config.templates_dir == base_dir / "templates"
    assert config.provider == ProviderContact(
        "株式会社デジテラス", "https://ticket.example.jp/", "support@example.jp", "050-0000-0000"
    )
    mail = config.channels["ops-mail"]
    assert isinstance(mail, EmailChannelConfig)
    assert (mail.host, mail.port, mail.tls) == ("smtp.example.jp", 587, "starttls")
    assert mail.verify
    assert mail.password == "pw-from-file"
    assert mail.message_id_domain == "example.jp"
    assert mail.to == ("noc@example.jp",)
    assert "pw-from-file" not in repr(mail)
    slack = config.channels["ops-slack"]
    assert isinstance(slack, SlackChannelConfig)
    assert slack.url == "https://hooks.slack.com/services/T/B/x"
    assert "hooks.slack.com" not in repr(slack)
    hook = config.channels["acme-hook"]
    assert isinstance(hook, WebhookChannelConfig)
    assert (hook.secret, hook.timeout) == ("whsec", 5.0)
    assert "whsec" not in repr(hook)


def test_builds_channels(base_dir: Path) -> None:
    channels = build_channels(parse_notify_config(_table(), base_dir=base_dir), lambda: NOW)
    assert isinstance(channels["ops-mail"], EmailChannel)
    assert isinstance(channels["ops-slack"], SlackChannel)
    assert isinstance(channels["acme-hook"], WebhookChannel)
    assert {name: channel.name for name, channel in channels.items()} == {
        name: name for name in channels
    }


def test_routes_most_specific_table_wins(base_dir: Path) -> None:
    routes = parse_notify_config(_table(), base_dir=base_dir).routes
    sla, opened = NotifyEvent.SLA_BREACHED, NotifyEvent.INCIDENT_OPENED

    assert channels_for(routes, sla, "standard", "C-0002") == ("ops-mail", "ops-slack")
    assert channels_for(routes, sla, "basic", "C-0001") == ("ops-mail", "acme-hook")
    assert channels_for(routes, opened, "basic", "C-0001") == (), "plan silences the event"
    assert channels_for(routes, opened, "standard", "C-0001") == ("ops-slack",)
    assert channels_for(routes, opened, None, None) == ("ops-slack",)
    assert channels_for(routes, NotifyEvent.WARNING, "standard", None) == ()


def test_empty_section_is_valid() -> None:
    config = parse_notify_config({})
    assert config.channels == {} and config.provider is None and config.templates_dir is None
    assert channels_for(config.routes, NotifyEvent.SLA_BREACHED, "basic", "C-1") == ()


def _broken(base_dir: Path, old: str, new: str) -> None:
    assert old in EXAMPLE
    parse_notify_config(_table(EXAMPLE.replace(old, new)), base_dir=base_dir)


MAIL = r"notify\.channels\.ops-mail\."
HOOK = r"notify\.channels\.acme-hook\."
ROUTES = r"notify\.routes\."
HOST = 'host = "smtp.example.jp"'
PASSWORD = 'password_file = "secrets/smtp-password"'
CONTRACT = '[routes.contracts."C-0001"]\nsla_breached = ['


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('type = "slack"', 'type = "teams"', r"notify\.channels\.ops-slack\.type: expected one"),
        ('type = "slack"\n', "", r"notify\.channels\.ops-slack\.type: missing"),
        ('["ops-slack"]', '["ops-slak"]', ROUTES + r"default\.incident_opened: unknown channel"),
        (
            "basic]\nincident_opened",
            "basic]\nincident_open",
            ROUTES + r"plans\.basic\.incident_open",
        ),
        (CONTRACT, CONTRACT + "1, ", ROUTES + r"contracts\.C-0001\.sla_breached: expected non-"),
        ("[routes.default]", "[routes.defaults]", ROUTES + "defaults: unknown key"),
        ("timeout = 5", 'timeout = "5"', HOOK + "timeout: expected a number"),
        ("timeout = 5", "timeout = 0", HOOK + "timeout: must be positive"),
        ('secret = "whsec"', "", HOOK + "secret: missing"),
        ('url = "https://hooks.acme.example/slad"', 'url = "ftp://x"', HOOK + "url: expected an"),
        ("[channels.acme-hook]", "[channels.acme-hook.x]", HOOK + "type: missing"),
        (HOST, HOST + '\nport = "587"', MAIL + "port: expected an integer"),
        (HOST, HOST + "\nport = 70000", MAIL + "port: must be within"),
        (HOST, HOST + '\nverify = "no"', MAIL + "verify: expected true or false"),
        (HOST, HOST + "\nstarttls = true", MAIL + "starttls: unknown key"),
        (HOST, HOST + '\ntls = "none"', MAIL + "tls: refusing to send credentials"),
        (PASSWORD, 'password_file = "secrets/missing"', MAIL + "password_file: cannot read"),
        (PASSWORD, PASSWORD + '\npassword = "x"', MAIL + "password: give either"),
        (PASSWORD, 'password = "パス"', MAIL + "password: must be ASCII"),
        ('username = "slad"\n', "", MAIL + "username: missing"),
        ('from = "slad <slad@example.jp>"', 'from = "slad"', MAIL + "from: expected an e-mail"),
        ('templates_dir = "templates"', 'template_dir = "x"', r"notify\.template_dir: unknown key"),
        ('phone = "050-0000-0000"', "", r"notify\.provider\.phone: missing"),
    ],
)
def test_errors_name_the_key(base_dir: Path, old: str, new: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _broken(base_dir, old, new)


def test_provider_is_required_for_the_customer_notice(base_dir: Path) -> None:
    without = EXAMPLE.replace(EXAMPLE[EXAMPLE.index("[provider]") : EXAMPLE.index("[channels")], "")
    with pytest.raises(ValueError, match=r"notify\.provider: required"):
        parse_notify_config(_table(without), base_dir=base_dir)


def test_channels_must_be_tables() -> None:
    with pytest.raises(ValueError, match=r"notify\.channels\.x: expected a table"):
        parse_notify_config({"channels": {"x": "email"}})
