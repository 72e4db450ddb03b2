"""The sources this slad runs: adding one is one line here, and nothing else in `daemon/`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connectors.aws.source import AwsSource
from connectors.azure.source import AzureSource
from connectors.gcp.source import GcpSource
from connectors.source import SourceConnector
from connectors.zabbix.source import ZabbixSource

CONNECTORS: tuple[Callable[[], SourceConnector[Any]], ...] = (
    ZabbixSource,
    AwsSource,
    GcpSource,
    AzureSource,
)


def config_sections() -> frozenset[str]:
    """The configuration tables of the registered sources (``[zabbix]``, ``[aws]``): the
    one place `daemon.config` asks, so any other top-level table is refused as unknown."""
    return frozenset(factory().name for factory in CONNECTORS)
