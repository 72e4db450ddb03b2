"""SNS as moto runs it (server mode) delivering to a real `slad run`.

`slad source setup aws` subscribes slad through moto's API, `slad source check aws`
publishes its test message and waits for slad to show it, and an alarm message published
to the topic becomes an incident at CloudWatch's state-change instant. moto signs its
notifications for real (SHA256withRSA, its own certificate) but omits ``Subject`` from
what it signs, so the alarm is published without one; a message with one is refused,
which shows the signature is checked. moto's server hands its certificate out only to a
request scoped to SNS, so a small host in front of it serves the certificates to slad,
reached through `certificate_base_url`.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.connectors.aws_fake import start_moto
from tests.connectors.aws_sns import fixture
from tests.e2e.slad_process import SladProcess, free_port, slad, wait_for

pytestmark = pytest.mark.e2e

REGION = "ap-northeast-1"
TOPIC = f"arn:aws:sns:{REGION}:123456789012:slad"
INSTANCE_ID = "i-0abc1234def567890"
SNS_SCOPE = f"AWS4-HMAC-SHA256 Credential=testing/20261201/{REGION}/sns/aws4_request, " + (
    "SignedHeaders=host, Signature=0"
)


@pytest.fixture
def moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    server, url = start_moto()
    yield url
    server.stop()


@pytest.fixture
def certificates(moto: str) -> Iterator[str]:
    """Serves moto's signing certificates at the paths its messages name."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            request = urllib.request.Request(moto + self.path, headers={"Authorization": SNS_SCOPE})
            with urllib.request.urlopen(request, timeout=10) as answer:
                body = answer.read()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def seed_registry(process: SladProcess, token: str) -> None:
    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = process.request("POST", path, token, json=body)
        assert answer.status_code == 201, answer.text
        return dict(answer.json())

    customer = post("/v1/customers", {"name": "acme"})
    contract = post(
        "/v1/contracts",
        {"customer_id": customer["id"], "plan": "standard", "billing_start": "2026-04-01"},
    )
    post(
        "/v1/resources",
        {
            "contract_id": contract["id"],
            "name": "web01",
            "kind": "vm",
            "selectors": [{"aws.dimension.InstanceId": INSTANCE_ID}],
        },
    )


def test_moto_delivers_an_alarm_that_becomes_an_incident(
    tmp_path: Path, moto: str, certificates: str
) -> None:
    port = free_port()
    config = tmp_path / "slad.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "slad.db"}"\n'
        '[log]\nformat = "text"\n'
        "[aws.instances.prod]\n"
        f'topic_arns = ["{TOPIC}"]\n'
        f'endpoint_url = "{moto}"\n'
        f'public_url = "http://127.0.0.1:{port}"\n'
        f'certificate_base_url = "{certificates}"\n'
    )
    slad(config, "migrate")
    token = slad(config, "token", "create", "--role", "admin", "--name", "e2e").strip()
    process = SladProcess(config, port, tmp_path / "slad.log").start()
    try:
        setup = slad(config, "source", "setup", "aws", "prod")
        assert f"subscribed http://127.0.0.1:{port}/v1/webhooks/aws/prod to {TOPIC}" in setup
        seed_registry(process, token)

        check = slad(config, "source", "check", "aws", "prod")
        assert "FAIL" not in check
        assert f"ok   test message published to {TOPIC} reached slad" in check

        changed = (datetime.now(UTC) - timedelta(minutes=1)).replace(microsecond=123000)
        alarm = {
            **fixture("cloudwatch-alarm-message.json"),
            "StateChangeTime": changed.strftime("%Y-%m-%dT%H:%M:%S.123+0000"),
        }
        sns = boto3.client("sns", region_name=REGION, endpoint_url=moto)
        sns.publish(TopicArn=TOPIC, Message=json.dumps(alarm))

        def incident() -> dict[str, Any] | None:
            items = process.request("GET", "/v1/incidents", token).json()["items"]
            return items[0] if items else None

        found = wait_for(incident, 30, "the alarm's incident")
        assert found["source"] == "aws"
        detected = datetime.fromisoformat(found["detected_at"].replace("Z", "+00:00"))
        assert detected == changed

        sns.publish(TopicArn=TOPIC, Message=json.dumps(alarm), Subject="ALARM: web01-cpu-high")
        sources = process.request("GET", "/v1/sources", token).json()
        (entry,) = [e for e in sources if (e["source"], e["instance"]) == ("aws", "prod")]
        assert entry["last_rejected"]["reason"] == "bad_signature"
        assert entry["open_fault"] is None
    finally:
        process.stop()
