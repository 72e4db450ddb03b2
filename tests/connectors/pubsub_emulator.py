"""The Pub/Sub emulator of the Google Cloud SDK, run on a free loopback port for tests.

It is found as ``$SLAD_PUBSUB_EMULATOR``, or under the SDK that ``gcloud`` belongs to
(``<sdk>/platform/pubsub-emulator/bin/cloud-pubsub-emulator``), and needs Java. Tests
that need it skip, saying why, where it is absent. Clients reach it through
``PUBSUB_EMULATOR_HOST``, as every Google client library does.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

EMULATOR = Path("platform/pubsub-emulator/bin/cloud-pubsub-emulator")
SDK_ROOTS = (Path("/usr/lib/google-cloud-sdk"), Path("/usr/share/google-cloud-sdk"))
START_TIMEOUT_SECONDS = 60.0


def emulator_path() -> Path | None:
    """The emulator's start script, or None when this machine has none."""
    given = os.environ.get("SLAD_PUBSUB_EMULATOR")
    if given:
        return Path(given) if Path(given).is_file() else None
    roots = list(SDK_ROOTS)
    gcloud = shutil.which("gcloud")
    if gcloud:
        roots.insert(0, Path(os.path.realpath(gcloud)).parent.parent)
    for root in roots:
        if (root / EMULATOR).is_file():
            return root / EMULATOR
    return None


def missing_reason() -> str | None:
    """Why the emulator cannot run here, or None when it can."""
    if emulator_path() is None:
        return (
            "the Pub/Sub emulator is not installed (google-cloud-cli-pubsub-emulator, or "
            "set SLAD_PUBSUB_EMULATOR to its cloud-pubsub-emulator script)"
        )
    if shutil.which("java") is None:
        return "the Pub/Sub emulator needs Java, and no java is on PATH"
    return None


@dataclass
class PubSubEmulator:
    """A running emulator; `host` is what ``PUBSUB_EMULATOR_HOST`` must say."""

    host: str
    process: subprocess.Popen[bytes]
    log: Path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def run_emulator(directory: Path) -> Iterator[PubSubEmulator]:
    """Start the emulator (skipping the test where it cannot run), yield it, stop it."""
    reason = missing_reason()
    if reason is not None:
        pytest.skip(reason)
    path = emulator_path()
    assert path is not None
    port = _free_port()
    log = directory / "pubsub-emulator.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(path), "--host=127.0.0.1", f"--port={port}"],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its java child goes with the script's group
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not _listening(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the Pub/Sub emulator did not start: {log.read_text()}")
            time.sleep(0.2)
        yield PubSubEmulator(f"127.0.0.1:{port}", process, log)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
