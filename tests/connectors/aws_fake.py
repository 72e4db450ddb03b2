"""A local AWS endpoint for tests: moto behind it, plus what moto lacks.

moto serves SNS, STS and CloudWatch's ``DescribeAlarms`` but has no alarm history and
no AWS Health. This server answers those itself in the wire formats botocore speaks to
them (AWS JSON 1.0 for CloudWatch, ``X-Amz-Target: GraniteServiceVersion20100801.<Op>``;
AWS JSON 1.1 for Health, ``AWSHealth_20160804.<Op>``), and forwards every other request
to a moto server unchanged, so slad's real boto3 clients reach both through one
`endpoint_url`. A test can also make any operation answer an AWS error.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from moto.server import ThreadedMotoServer

CLOUDWATCH = "GraniteServiceVersion20100801"
HEALTH = "AWSHealth_20160804"
PAGE = 2  # small pages, so every test also crosses page boundaries


def epoch(value: datetime) -> float:
    return value.timestamp()


@dataclass
class HealthEvent:
    """One AWS Health event as the API describes it."""

    arn: str
    category: str
    type_code: str
    service: str
    region: str
    status: str
    start: datetime
    last_updated: datetime
    end: datetime | None = None
    description: str = ""
    entities: list[str] = field(default_factory=list)

    def wire(self) -> dict[str, Any]:
        event = {
            "arn": self.arn,
            "service": self.service,
            "eventTypeCode": self.type_code,
            "eventTypeCategory": self.category,
            "region": self.region,
            "startTime": epoch(self.start),
            "lastUpdatedTime": epoch(self.last_updated),
            "statusCode": self.status,
            "eventScopeCode": "ACCOUNT_SPECIFIC",
        }
        if self.end is not None:
            event["endTime"] = epoch(self.end)
        return event


@dataclass
class AwsState:
    """What the fake answers: history items, Health events, and injected errors."""

    history: list[dict[str, Any]] = field(default_factory=list)
    health: list[HealthEvent] = field(default_factory=list)
    errors: dict[str, tuple[int, str, str]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    composites: list[dict[str, Any]] = field(default_factory=list)

    def add_composite(self, name: str, state: str, at: datetime, actions: list[str]) -> str:
        """A composite alarm (moto has none), answered beside moto's metric alarms; its ARN."""
        arn = f"arn:aws:cloudwatch:ap-northeast-1:123456789012:alarm:{name}"
        self.composites.append(
            {
                "AlarmName": name,
                "AlarmArn": arn,
                "AlarmRule": 'ALARM("web01-cpu-high")',
                "ActionsEnabled": True,
                "AlarmActions": actions,
                "OKActions": [],
                "StateValue": state,
                "StateReason": "composite",
                "StateUpdatedTimestamp": epoch(at) + 60,  # moved later, without a transition
                "StateTransitionedTimestamp": epoch(at),
            }
        )
        return arn

    def add_history(
        self, name: str, at: datetime, old: str, new: str, kind: str = "MetricAlarm"
    ) -> None:
        self.history.append(
            {
                "AlarmName": name,
                "AlarmType": kind,
                "Timestamp": at,
                "HistoryItemType": "StateUpdate",
                "HistorySummary": f"Alarm updated from {old} to {new}",
                "HistoryData": json.dumps(
                    {
                        "version": "1.0",
                        "oldState": {"stateValue": old, "stateReason": "before"},
                        "newState": {"stateValue": new, "stateReason": f"now {new}"},
                    }
                ),
            }
        )

    def fail(self, operation: str, code: str, message: str, status: int = 400) -> None:
        """Make `operation` (``DescribeAlarms``, ``DescribeEvents``) answer this error."""
        self.errors[operation] = (status, code, message)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *_args: Any) -> None:
        return None

    def do_GET(self) -> None:
        """SNS signing certificates: moto hands them out only to a request scoped to SNS."""
        upstream = urlsplit(self.server.upstream)
        connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=30)
        scope = "AWS4-HMAC-SHA256 Credential=testing/20261201/us-east-1/sns/aws4_request"
        connection.request(
            "GET", self.path, headers={"Authorization": f"{scope}, SignedHeaders=host, Signature=0"}
        )
        answer = connection.getresponse()
        data = answer.read()
        self.send_response(answer.status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        connection.close()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        target = self.headers.get("X-Amz-Target", "")
        prefix, _, operation = target.partition(".")
        state = self.server.state
        if not operation:  # the query protocol (SNS, STS) names it in the form body
            form = parse_qs(body.decode("utf-8", "replace"))
            operation = form.get("Action", ["query"])[0]
        state.calls.append(operation)
        if operation in state.errors:
            status, code, message = state.errors[operation]
            self._json(status, {"__type": code, "message": message}, prefix)
            return
        if prefix == CLOUDWATCH and operation == "DescribeAlarmHistory":
            self._json(200, self._history(json.loads(body or b"{}")), prefix)
        elif prefix == HEALTH:
            self._json(200, self._health(operation, json.loads(body or b"{}")), prefix)
        elif prefix == CLOUDWATCH and operation == "DescribeAlarms" and state.composites:
            self._forward(body, {"CompositeAlarms": state.composites})
        else:
            self._forward(body)

    def _json(self, status: int, payload: dict[str, Any], prefix: str) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        version = "1.1" if prefix == HEALTH else "1.0"
        self.send_header("Content-Type", f"application/x-amz-json-{version}")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _history(self, request: dict[str, Any]) -> dict[str, Any]:
        start = request.get("StartDate", float("-inf"))
        end = request.get("EndDate", float("inf"))
        items = [
            item
            for item in self.server.state.history
            if start <= epoch(item["Timestamp"]) <= end
            and request.get("AlarmName") in (None, item["AlarmName"])
            and request.get("HistoryItemType") in (None, item["HistoryItemType"])
        ]
        items.sort(
            key=lambda item: item["Timestamp"],
            reverse=request.get("ScanBy") == "TimestampDescending",
        )
        offset = int(str(request.get("NextToken") or "page0").removeprefix("page"))
        size = min(int(request.get("MaxRecords") or PAGE), PAGE)
        page = [{**i, "Timestamp": epoch(i["Timestamp"])} for i in items[offset : offset + size]]
        answer: dict[str, Any] = {"AlarmHistoryItems": page}
        if offset + size < len(items) and "MaxRecords" not in request:
            answer["NextToken"] = f"page{offset + size}"
        return answer

    def _health(self, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        events = self.server.state.health
        offset = int(str(request.get("nextToken") or "page0").removeprefix("page"))
        if operation == "DescribeEvents":
            wanted = request.get("filter", {})
            found = [
                e
                for e in events
                if e.category in wanted.get("eventTypeCategories", [e.category])
                and all(
                    r.get("from", float("-inf"))
                    <= epoch(e.last_updated)
                    <= r.get("to", float("inf"))
                    for r in wanted.get("lastUpdatedTimes", [])
                )
            ]
            return _paged("events", [e.wire() for e in found], offset)
        arns = request.get("eventArns") or request.get("filter", {}).get("eventArns", [])
        chosen = [e for e in events if e.arn in arns]
        if operation == "DescribeEventDetails":
            return {
                "successfulSet": [
                    {"event": e.wire(), "eventDescription": {"latestDescription": e.description}}
                    for e in chosen
                ],
                "failedSet": [],
            }
        if operation == "DescribeAffectedEntities":
            entities = [
                {
                    "entityArn": f"{e.arn}/{value}",
                    "eventArn": e.arn,
                    "entityValue": value,
                    "awsAccountId": "123456789012",
                    "statusCode": "PENDING",
                }
                for e in chosen
                for value in e.entities
            ]
            return _paged("entities", entities, offset)
        raise AssertionError(f"Health operation {operation} is not served here")

    def _forward(self, body: bytes, add: dict[str, Any] | None = None) -> None:
        """`body` to moto, its answer back (with `add` merged into a JSON answer)."""
        upstream = urlsplit(self.server.upstream)
        connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
        connection.request("POST", self.path, body=body, headers=headers)
        answer = connection.getresponse()
        data = answer.read()
        if add is not None and answer.status == 200:
            data = json.dumps({**json.loads(data), **add}).encode()
        self.send_response(answer.status)
        for key, value in answer.getheaders():
            if key.lower() not in (
                "content-length",
                "connection",
                "transfer-encoding",
                "server",
                "date",
            ):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        connection.close()


def _paged(key: str, items: list[dict[str, Any]], offset: int) -> dict[str, Any]:
    answer: dict[str, Any] = {key: items[offset : offset + PAGE]}
    if offset + PAGE < len(items):
        answer["nextToken"] = f"page{offset + PAGE}"
    return answer


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream: str, state: AwsState) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.upstream = upstream
        self.state = state


@dataclass
class FakeAws:
    """The running endpoint: `url` for slad's `endpoint_url`, `moto` for moto itself."""

    url: str
    moto: str
    state: AwsState


def start_moto() -> tuple[ThreadedMotoServer, str]:
    """A moto server with nothing in it, and its URL.

    moto keeps its accounts in the process, not in the server: without the reset, a
    server started by a later test still holds an earlier test's topics and their
    subscriptions, and publishing then posts to a slad that has stopped."""
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    url = f"http://{host}:{port}"
    httpx.post(f"{url}/moto-api/reset", timeout=10).raise_for_status()
    return moto, url


@contextmanager
def fake_aws() -> Iterator[FakeAws]:
    """moto on one port, this front on another; both stopped on exit."""
    moto, moto_url = start_moto()
    state = AwsState()
    server = _Server(moto_url, state)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield FakeAws(f"http://127.0.0.1:{server.server_address[1]}", moto_url, state)
    finally:
        server.shutdown()
        server.server_close()
        moto.stop()


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)
