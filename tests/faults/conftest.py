"""Fault tests print what each run counted in a section of the terminal summary, so
the figures appear in CI output whether or not output capture is on."""

from __future__ import annotations

import pytest

SUMMARY: list[str] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if SUMMARY:
        terminalreporter.section("fault runs: what clients sent and what slad kept")
        for line in SUMMARY:
            terminalreporter.write_line(line)
