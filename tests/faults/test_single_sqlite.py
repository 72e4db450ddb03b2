"""A second `slad run` on a SQLite database another one serves refuses to start."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.e2e.slad_process import SLAD, SladProcess, free_port, slad

pytestmark = pytest.mark.e2e


def test_a_second_slad_run_on_the_same_sqlite_file_refuses_naming_it(tmp_path: Path) -> None:
    database = tmp_path / "slad.db"
    config = tmp_path / "slad.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{database}"\n[log]\nformat = "text"\n')
    slad(config, "migrate")
    first = SladProcess(config, free_port(), tmp_path / "first.log").start()
    try:
        second = subprocess.run(
            [*SLAD, "--config", str(config), "run"],
            env={**os.environ, "SLAD_SERVER__PORT": str(free_port())},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert second.returncode == 5, second.stderr
        assert str(database) in second.stderr
        assert "already running" in second.stderr

        first.kill()  # however the first one ends, the file is free again
        SladProcess(config, free_port(), tmp_path / "third.log").start().stop()
    finally:
        first.kill()
