"""Where a benchmark keeps its data: a SQLite file, or a fresh PostgreSQL schema."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text


@contextmanager
def fresh_database(url: str | None, folder: Path, name: str) -> Iterator[str]:
    """The SQLAlchemy URL of an empty database: `name`.db in `folder` when `url` is
    None, else a new schema of the PostgreSQL database at `url`, dropped afterwards."""
    if url is None:
        yield f"sqlite:///{folder / name}.db"
        return
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    schema = f"bench_{name}_{os.getpid()}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    joiner = "&" if "?" in url else "?"
    try:
        yield f"{url}{joiner}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
