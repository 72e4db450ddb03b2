from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from connectors.zabbix import parse_instance, parse_instances

TABLE = {
    "api_url": "https://zabbix.example/api_jsonrpc.php",
    "api_token": "tok",
    "timezone": "Asia/Tokyo",
    "webhook_secret": "s3cret",
}


def test_defaults() -> None:
    instance = parse_instance("main", TABLE)
    assert instance.name == "main"
    assert instance.timezone == ZoneInfo("Asia/Tokyo")
    assert instance.poll_interval_seconds == 60
    assert instance.verify_tls is True
    assert instance.acknowledge is False
    assert instance.failure_threshold == 3


def test_secrets_stay_out_of_repr() -> None:
    text = repr(parse_instance("main", TABLE))
    assert "tok" not in text and "s3cret" not in text


def test_all_keys() -> None:
    instance = parse_instance(
        "tokyo-1",
        TABLE
        | {
            "poll_interval_seconds": 30,
            "api_timeout_seconds": 5,
            "verify_tls": False,
            "acknowledge": True,
            "failure_threshold": 5,
        },
    )
    assert (instance.poll_interval_seconds, instance.api_timeout_seconds) == (30, 5)
    assert (instance.verify_tls, instance.acknowledge, instance.failure_threshold) == (
        False,
        True,
        5,
    )


def test_secrets_from_files(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("from-file\n")
    (tmp_path / "secret").write_text("hook-secret\n")
    table = {k: v for k, v in TABLE.items() if k not in ("api_token", "webhook_secret")}
    instance = parse_instance(
        "main",
        table
        | {
            "api_token_file": str(tmp_path / "token"),
            "webhook_secret_file": str(tmp_path / "secret"),
        },
    )
    assert (instance.api_token, instance.webhook_secret) == ("from-file", "hook-secret")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"api_url": "zabbix.example"}, "api_url"),
        ({"api_token": ""}, "api_token"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"poll_interval_seconds": 0}, "poll_interval_seconds"),
        ({"poll_interval_seconds": True}, "poll_interval_seconds"),
        ({"verify_tls": "yes"}, "verify_tls"),
        ({"api_token_file": "/x"}, "not both"),
        ({"webhook_secrt": "typo"}, "unknown key"),
    ],
)
def test_invalid(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_instance("main", TABLE | change)


def test_missing_key_and_bad_name_and_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"zabbix\.instances\.main\.webhook_secret"):
        parse_instance("main", {k: v for k, v in TABLE.items() if k != "webhook_secret"})
    with pytest.raises(ValueError, match="instance name"):
        parse_instance("bad name", TABLE)
    table = {k: v for k, v in TABLE.items() if k != "api_token"}
    with pytest.raises(ValueError, match="cannot read"):
        parse_instance("main", table | {"api_token_file": str(tmp_path / "missing")})


def test_parse_instances() -> None:
    instances = parse_instances({"main": TABLE, "dr": TABLE | {"timezone": "UTC"}})
    assert set(instances) == {"main", "dr"}
    with pytest.raises(ValueError, match="must be a table"):
        parse_instances({"main": "oops"})
