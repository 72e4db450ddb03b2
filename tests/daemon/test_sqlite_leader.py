"""One slad per SQLite file: a second one on the same file may not lead beside the first."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon.leader import AlreadyRunning, SingleNode, leadership_for
from daemon.store.db import make_engine


def test_a_second_process_on_the_same_sqlite_file_is_refused_naming_the_file(
    tmp_path: Path,
) -> None:
    database = tmp_path / "slad.db"
    engine = make_engine(f"sqlite:///{database}")
    first, second = leadership_for(engine, "x"), leadership_for(engine, "x")
    first.claim()
    assert first.try_acquire()
    with pytest.raises(AlreadyRunning, match=str(database)):
        second.claim()
    assert not second.try_acquire(), "it must not lead beside the first"

    first.release()  # as when the first process exits, by any means
    second.claim()
    assert second.try_acquire()
    second.release()
    engine.dispose()


def test_databases_in_different_files_do_not_exclude_each_other(tmp_path: Path) -> None:
    one = SingleNode(tmp_path / "a.db")
    other = SingleNode(tmp_path / "b.db")
    one.claim()
    other.claim()
    one.release()
    other.release()


def test_an_in_memory_database_always_leads() -> None:
    engine = make_engine("sqlite://")
    leadership = leadership_for(engine, "x")
    leadership.claim()
    assert leadership.try_acquire()
    engine.dispose()
