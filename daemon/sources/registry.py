"""The sources this slad runs: adding one is one line here, and nothing else in `daemon/`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connectors.aws.source import AwsSource
from connectors.source import SourceConnector
from connectors.zabbix.source import ZabbixSource

CONNECTORS: tuple[Callable[[], SourceConnector[Any]], ...] = (ZabbixSource, AwsSource)
