"""The shipped media type is a valid 6.0 export with everything the parser reads."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml")

MEDIA_TYPE = Path(__file__).parents[2] / "deploy" / "zabbix" / "slad_mediatype.yaml"


@pytest.fixture(scope="module")
def media() -> dict[str, Any]:
    export = yaml.safe_load(MEDIA_TYPE.read_text(encoding="utf-8"))["zabbix_export"]
    assert export["version"] == "6.0"
    [media_type] = export["media_types"]
    return dict(media_type)


def test_webhook_with_templates_for_every_operation(media: dict[str, Any]) -> None:
    assert media["type"] == "WEBHOOK"
    modes = {(t["event_source"], t["operation_mode"]) for t in media["message_templates"]}
    assert modes == {("TRIGGERS", "PROBLEM"), ("TRIGGERS", "RECOVERY"), ("TRIGGERS", "UPDATE")}


def test_sends_the_macros_the_parser_reads(media: dict[str, Any]) -> None:
    values = {p["name"]: p["value"] for p in media["parameters"]}
    for macro in (
        "{EVENT.ID}",
        "{EVENT.VALUE}",
        "{EVENT.UPDATE.STATUS}",
        "{EVENT.RECOVERY.ID}",
        "{EVENT.NSEVERITY}",
        "{EVENT.DATE}",
        "{EVENT.TIME}",
        "{EVENT.TAGSJSON}",
        "{HOST.HOST}",
        "{HOST.NAME}",
        "{TRIGGER.ID}",
        "{EVENT.NAME}",
        "{USER.FULLNAME}",
        "{EVENT.UPDATE.ACTION}",
        "{EVENT.UPDATE.MESSAGE}",
        "{ALERT.SENDTO}",
    ):
        assert macro in values.values(), macro
    assert {"slad_url", "slad_secret", "slad_instance"} <= set(values)


def test_script_signs_the_body_it_posts(media: dict[str, Any]) -> None:
    script = media["script"]
    assert "hmac('sha256', secret, body)" in script
    assert "request.post(url, body)" in script
    assert re.search(r"X-Slad-Signature: sha256=", script)
    assert "X-Slad-Instance" in script
