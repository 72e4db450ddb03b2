"""A real Zabbix 6.0 on loopback, and helpers to configure it through its API.

`zabbix` (session) runs setup_zabbix.sh, makes an API token for Admin and yields a
`ZabbixE2E` with the API URL, the token, the trapper port and helpers to create hosts,
trapper triggers, the slad media type, user media and actions; at the end it stops the
server and frontend if it started them (one already running is left running).
`webhook_receiver` is a local HTTP server that records what Zabbix posts, for tests to
wait on. `SladDaemon` runs slad itself as a subprocess (`slad migrate`, `slad run`) on a
loopback port.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from zabbix_utils import ZabbixAPI

from tests.e2e.slad_process import wait_for

REPO = Path(__file__).resolve().parents[3]
SETUP = Path(__file__).with_name("setup_zabbix.sh")
MEDIA_TYPE = REPO / "deploy" / "zabbix" / "slad_mediatype.yaml"
SLAD = str(Path(sys.executable).with_name("slad"))  # the installed entry point

T = TypeVar("T")


@dataclass
class ZabbixE2E:
    """A running Zabbix and the calls tests need to set up a scenario on it."""

    api_url: str
    token: str
    trapper_port: int
    server_conf: str
    server_tz: str
    api: ZabbixAPI

    def call(self, method: str, params: Any) -> Any:
        return self.api.send_api_request(method, params)["result"]

    def reload_config(self) -> None:
        """Make new hosts and items known to the server now instead of at its next sync."""
        subprocess.run(
            ["zabbix_server", "-c", self.server_conf, "-R", "config_cache_reload"],
            check=True,
            capture_output=True,
        )

    def alerts(self, event_ids: list[str]) -> str:
        """What Zabbix did with the notifications of `event_ids`, for a failure message:
        status (0 not sent, 1 sent, 2 failed, 3 new), attempts and the last error."""
        found = self.call(
            "alert.get",
            {
                "eventids": event_ids,
                "output": ["alertid", "actionid", "sendto", "status", "retries", "error", "clock"],
            },
        )
        return (
            "\n".join(
                f"  alert {a['alertid']} action {a['actionid']} status {a['status']} "
                f"retries {a['retries']} to {a['sendto']}: {a['error'] or '-'}"
                for a in found
            )
            or "  no alert recorded"
        )

    def server_log(self, lines: int = 40) -> str:
        """The end of the server's log (alerter and escalator errors land there)."""
        log = Path(self.server_conf).with_name("zabbix_server.log")
        try:
            return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
        except OSError as exc:
            return f"  {log}: {exc}"

    def send_value(self, host: str, key: str, value: str, timeout: float = 60.0) -> None:
        """Push one trapper value, retrying until the server knows the item."""

        def sent() -> bool:
            run = subprocess.run(
                [
                    "zabbix_sender",
                    "-z",
                    "127.0.0.1",
                    "-p",
                    str(self.trapper_port),
                    "-s",
                    host,
                    "-k",
                    key,
                    "-o",
                    value,
                ],
                capture_output=True,
                text=True,
            )
            if "processed: 1" in run.stdout:
                return True
            self.reload_config()
            return False

        wait_for(sent, timeout, f"trapper value {value} for {host}:{key}")

    def import_media_type(self, secret: str, instance: str, path: Path = MEDIA_TYPE) -> str:
        """Import the shipped media type, then set its secret and instance like a user would."""
        self.call(
            "configuration.import",
            {
                "format": "yaml",
                "source": path.read_text(encoding="utf-8"),
                "rules": {"mediaTypes": {"createMissing": True, "updateExisting": True}},
            },
        )
        media = self.call(
            "mediatype.get", {"output": ["mediatypeid", "parameters"], "filter": {"name": "slad"}}
        )[0]
        values = {"slad_secret": secret, "slad_instance": instance}
        parameters = [
            {"name": p["name"], "value": values.get(p["name"], p["value"])}
            for p in media["parameters"]
        ]
        self.call(
            "mediatype.update", {"mediatypeid": media["mediatypeid"], "parameters": parameters}
        )
        return str(media["mediatypeid"])

    def host_group(self, name: str) -> str:
        found = self.call("hostgroup.get", {"output": ["groupid"], "filter": {"name": name}})
        if found:
            return str(found[0]["groupid"])
        return str(self.call("hostgroup.create", {"name": name})["groupids"][0])

    def create_host(self, name: str, group_id: str, tags: dict[str, str] | None = None) -> str:
        result = self.call(
            "host.create",
            {
                "host": name,
                "groups": [{"groupid": group_id}],
                "tags": [{"tag": k, "value": v} for k, v in (tags or {}).items()],
            },
        )
        return str(result["hostids"][0])

    def create_trapper_trigger(
        self,
        host_id: str,
        host: str,
        key: str,
        name: str,
        priority: int = 4,
        tags: dict[str, str] | None = None,
    ) -> str:
        """A trapper item and a trigger firing while its last value is above 5."""
        self.call(
            "item.create",
            {"hostid": host_id, "name": key, "key_": key, "type": 2, "value_type": 3},
        )
        result = self.call(
            "trigger.create",
            {
                "description": name,
                "expression": f"last(/{host}/{key})>5",
                "priority": priority,
                "manual_close": 1,
                "tags": [{"tag": k, "value": v} for k, v in (tags or {}).items()],
            },
        )
        return str(result["triggerids"][0])

    def create_webhook_action(
        self, name: str, media_type_id: str, send_to: str, group_id: str
    ) -> str:
        """Problems of `group_id` notify a new user whose media is `send_to`.

        A dedicated recipient, not Admin: Zabbix never notifies the user who made an
        update of that update, and slad's API token writes its messages as Admin here.
        """
        user = self.call(
            "user.create",
            {
                "username": f"slad-notify-{uuid.uuid4().hex[:8]}",
                "passwd": uuid.uuid4().hex,
                "roleid": "3",
                "usrgrps": [{"usrgrpid": "7"}],
                "medias": [
                    {
                        "mediatypeid": media_type_id,
                        "sendto": send_to,
                        "active": 0,
                        "severity": 63,
                        "period": "1-7,00:00-24:00",
                    }
                ],
            },
        )
        userid = str(user["userids"][0])
        message = {"default_msg": 1, "mediatypeid": media_type_id}
        result = self.call(
            "action.create",
            {
                "name": name,
                "eventsource": 0,
                "status": 0,
                "esc_period": "1h",
                "filter": {
                    "evaltype": 0,
                    "conditions": [{"conditiontype": 0, "operator": 0, "value": group_id}],
                },
                "operations": [
                    {
                        "operationtype": 0,
                        "opmessage": message,
                        "opmessage_usr": [{"userid": userid}],
                    }
                ],
                # "Notify all involved" uses the involved users' media, not a media type.
                "recovery_operations": [{"operationtype": 11, "opmessage": {"default_msg": 1}}],
                "update_operations": [{"operationtype": 12, "opmessage": {"default_msg": 1}}],
            },
        )
        return str(result["actionids"][0])


@pytest.fixture(scope="session")
def zabbix() -> Iterator[ZabbixE2E]:
    if os.geteuid() != 0:
        pytest.skip("the Zabbix e2e setup needs root")
    run = subprocess.run(["bash", str(SETUP)], capture_output=True, text=True, timeout=900)
    if run.returncode != 0:
        raise RuntimeError(f"setup_zabbix.sh failed:\n{run.stderr}")
    env = dict(line.split("=", 1) for line in run.stdout.splitlines() if "=" in line)
    try:
        yield from _with_token(env)
    finally:
        if env.get("ZBX_STARTED") == "1":
            subprocess.run(["bash", str(SETUP), "stop"], check=True, timeout=120)


def _with_token(env: dict[str, str]) -> Iterator[ZabbixE2E]:
    """A `ZabbixE2E` on an API token made for this session and deleted after it."""
    login = ZabbixAPI(url=env["ZBX_API_URL"], user=env["ZBX_USER"], password=env["ZBX_PASSWORD"])
    created = login.send_api_request(
        "token.create", {"name": f"slad-e2e-{uuid.uuid4().hex[:8]}", "userid": "1"}
    )["result"]["tokenids"]
    token = login.send_api_request("token.generate", created)["result"][0]["token"]
    api = ZabbixAPI(url=env["ZBX_API_URL"], token=token)
    yield ZabbixE2E(
        api_url=env["ZBX_API_URL"],
        token=token,
        trapper_port=int(env["ZBX_TRAPPER_PORT"]),
        server_conf=env["ZBX_SERVER_CONF"],
        server_tz=env["ZBX_SERVER_TZ"],
        api=api,
    )
    login.send_api_request("token.delete", created)
    login.logout()


@dataclass
class Delivery:
    """One request Zabbix made to the receiver."""

    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class WebhookReceiver:
    """Records every POST; `status` lets a test make it refuse deliveries."""

    url: str
    deliveries: list[Delivery] = field(default_factory=list)
    status: int = 200
    lock: threading.Lock = field(default_factory=threading.Lock)

    def find(self, match: Callable[[Delivery], bool]) -> Delivery | None:
        with self.lock:
            return next((d for d in self.deliveries if match(d)), None)


@pytest.fixture(scope="session")
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with receiver.lock:
                receiver.deliveries.append(Delivery(self.path, dict(self.headers), body))
            self.send_response(receiver.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/v1/webhooks/zabbix/e2e"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    server.shutdown()
    server.server_close()


@dataclass
class SladDaemon:
    """slad as an operator runs it: a config file, `slad migrate`, then `slad run`.

    `start`/`stop` may be called repeatedly (the database file survives), so a test can
    take the daemon down and bring it back. `token` is an admin token made with
    `slad token create`.
    """

    workdir: Path
    config_text: str
    port: int
    token: str = ""
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def config(self) -> Path:
        return self.workdir / "slad.toml"

    def cli(self, *args: str) -> str:
        run = subprocess.run(
            [SLAD, "--config", str(self.config), *args],
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=120,
        )
        if run.returncode != 0:
            raise RuntimeError(f"slad {' '.join(args)} failed:\n{run.stderr}")
        return run.stdout

    def prepare(self) -> None:
        self.config.write_text(self.config_text, encoding="utf-8")
        self.cli("migrate")
        self.token = self.cli("token", "create", "--name", "e2e-admin", "--role", "admin").strip()

    def start(self) -> None:
        log = (self.workdir / "slad.log").open("ab")
        self.process = subprocess.Popen(
            [SLAD, "--config", str(self.config), "run"],
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_for(self._ready, 60, "slad to answer /readyz")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.process = None

    def _ready(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"slad exited:\n{(self.workdir / 'slad.log').read_text()}")
        try:
            return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = (self.workdir / "slad.log").read_text(errors="replace")
        except OSError as exc:
            return f"  slad.log: {exc}"
        return "\n".join(text.splitlines()[-lines:])

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        return httpx.request(method, f"{self.url}{path}", headers=headers, timeout=30, **kwargs)

    def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        assert response.is_success, f"{method} {path}: {response.status_code} {response.text}"
        return response.json()
