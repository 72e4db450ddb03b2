"""The polling keys of an AWS instance: each wrong value refused, naming its key."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.aws.config import parse_instance

TOPIC = "arn:aws:sns:ap-northeast-1:123456789012:slad"
POLLED = {"topic_arns": [TOPIC], "account_id": "123456789012", "regions": ["ap-northeast-1"]}


def test_an_instance_without_regions_is_push_only() -> None:
    assert parse_instance("prod", {"topic_arns": [TOPIC]}).polled is False


def test_regions_with_the_account_turn_the_poll_on() -> None:
    instance = parse_instance(
        "prod",
        {
            **POLLED,
            "role_arn": "arn:aws:iam::123456789012:role/slad-read",
            "external_id": "x1",
            "endpoint_url": "http://127.0.0.1:5000/",
        },
    )
    assert instance.polled is True
    assert instance.regions == ("ap-northeast-1",)
    assert (instance.role_arn, instance.external_id) == (
        "arn:aws:iam::123456789012:role/slad-read",
        "x1",
    )
    assert instance.endpoint_url == "http://127.0.0.1:5000"


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"regions": ["Tokyo"]}, "regions"),
        ({"account_id": "1234"}, "account_id"),
        ({"regions": []}, "account_id"),
        ({"role_arn": "arn:aws:iam::123456789012:user/bob"}, "role_arn"),
        ({"external_id": "x1"}, "external_id"),
        ({"endpoint_url": "file:///etc/passwd"}, "endpoint_url"),
        ({"api_max_attempts": 0}, "api_max_attempts"),
    ],
)
def test_a_wrong_polling_value_names_its_key(changes: dict[str, Any], key: str) -> None:
    with pytest.raises(ValueError, match=rf"aws\.instances\.prod\.{key}"):
        parse_instance("prod", {**POLLED, **changes})
