"""Run slad as real processes for end-to-end tests: config file, migrate, run, kill."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

SLAD = [sys.executable, "-m", "daemon.cli"]
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(probe: Callable[[], T | None], timeout: float = 60.0, what: str = "") -> T:
    """Poll `probe` until it returns something truthy; waits on real servers only."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what or probe}")
        time.sleep(0.2)


def slad(config: Path, *args: str) -> str:
    """Run a one-shot `slad` command and return its standard output."""
    done = subprocess.run(
        [*SLAD, "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@dataclass
class SladProcess:
    """One `slad run` on a loopback port, with its log kept in a file."""

    config: Path
    port: int
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> SladProcess:
        env = {**os.environ, "SLAD_SERVER__PORT": str(self.port), **self.env}
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [*SLAD, "--config", str(self.config), "run"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        wait_for(self._ready, 90, f"slad on port {self.port} to be ready")
        return self

    def _ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(
                f"slad exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}"
            )
        try:
            return httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def kill(self) -> None:
        """Die without any shutdown (like a crash or an OOM kill)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def request(self, method: str, path: str, token: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(
            method,
            f"{self.url}{path}",
            timeout=10,
            headers={"Authorization": f"Bearer {token}"},
            **kwargs,
        )
