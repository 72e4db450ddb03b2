"""Every daemon start and every CLI call imports the source registry, configured or not.

The clouds' management and RPC SDKs cost most of a second each to import, so a source
imports them when an instance first polls, pulls or is set up; webhooks need only the
light modules. Checked in a fresh interpreter, where nothing else has loaded them.
"""

from __future__ import annotations

import subprocess
import sys

HEAVY = (
    "azure.mgmt.alertsmanagement",
    "azure.mgmt.resourcehealth",
    "azure.mgmt.monitor",
    "azure.identity",
    "google.cloud.pubsub_v1",
    "google.cloud.monitoring_v3",
    "google.cloud.servicehealth_v1",
    "googleapiclient",
    "boto3",
)


def loaded_after(statement: str) -> list[str]:
    probe = f"import sys\n{statement}\nprint(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    run = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    return [name for name in run.stdout.strip().split(",") if name]


def test_the_registry_loads_no_cloud_sdk() -> None:
    assert loaded_after("import daemon.sources.registry") == []


def test_a_google_poll_client_loads_its_sdk_on_first_use() -> None:
    loaded = loaded_after("from connectors.gcp import GcpSource\nGcpSource().apis")
    assert "google.cloud.monitoring_v3" in loaded
    assert "azure.identity" not in loaded
