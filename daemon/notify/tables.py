"""Typed, strict reading of one TOML table, with errors that name the offending key.

Strictness matters for configuration that decides who hears about an SLA breach: an
unknown key is almost always a misspelt one, and silently ignoring it would drop a
setting the operator believes is active.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any


class TableReader:
    """Reads keys of `table` (found at dotted `path`) and rejects whatever is left over."""

    def __init__(self, table: object, path: str, base_dir: Path | None):
        if not isinstance(table, Mapping):
            raise ValueError(f"{path}: expected a table, got {type(table).__name__}")
        self._table: Mapping[str, Any] = table
        self._path = path
        self._base_dir = base_dir
        self._read: set[str] = set()

    def key(self, name: str) -> str:
        """The dotted name of `name` in this table, for error messages."""
        return f"{self._path}.{name}"

    def has(self, name: str) -> bool:
        """Whether `name` is present (and mark it read)."""
        self._read.add(name)
        return name in self._table

    def _value(self, name: str, kinds: tuple[type, ...], what: str) -> Any:
        self._read.add(name)
        if name not in self._table:
            raise ValueError(f"{self.key(name)}: missing")
        value = self._table[name]
        # bool is an int in Python but never a valid number in this configuration
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            raise ValueError(f"{self.key(name)}: expected {what}, got {value!r}")
        return value

    def text(self, name: str, default: str | None = None) -> str:
        """A non-empty string; `default` when absent and a default is given."""
        if default is not None and name not in self._table:
            self._read.add(name)
            return default
        value: str = self._value(name, (str,), "a string")
        if not value.strip():
            raise ValueError(f"{self.key(name)}: must not be empty")
        return value

    def optional_text(self, name: str) -> str | None:
        """A non-empty string, or None when absent."""
        return self.text(name) if self.has(name) else None

    def choice(self, name: str, choices: tuple[str, ...], default: str | None = None) -> str:
        """One of `choices`; required unless a default is given."""
        value = self.text(name, default)
        if value not in choices:
            raise ValueError(f"{self.key(name)}: expected one of {choices}, got {value!r}")
        return value

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        """An integer within [low, high]."""
        if not self.has(name):
            return default
        value: int = self._value(name, (int,), "an integer")
        if not low <= value <= high:
            raise ValueError(f"{self.key(name)}: must be within {low}..{high}, got {value}")
        return value

    def seconds(self, name: str, default: float) -> float:
        """A positive number of seconds."""
        if not self.has(name):
            return default
        value = float(self._value(name, (int, float), "a number of seconds"))
        if value <= 0:
            raise ValueError(f"{self.key(name)}: must be positive, got {value}")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        """true or false."""
        if not self.has(name):
            return default
        value: bool = self._value(name, (bool,), "true or false")
        return value

    def strings(self, name: str) -> tuple[str, ...]:
        """A list of non-empty strings; empty when absent."""
        if not self.has(name):
            return ()
        values: list[Any] = self._value(name, (list,), "a list of strings")
        for value in values:
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{self.key(name)}: expected non-empty strings, got {value!r}")
        return tuple(values)

    def path(self, name: str) -> Path | None:
        """A file or folder path, relative ones taken from the configuration's folder."""
        value = self.optional_text(name)
        if value is None:
            return None
        path = Path(value).expanduser()
        return path if path.is_absolute() or self._base_dir is None else self._base_dir / path

    def secret(self, name: str, *, required: bool) -> str | None:
        """`name` given inline or read from the file named by `<name>_file`, not both.

        Reading the file here makes a missing or unreadable secret fail at start-up. One
        trailing line break is dropped, as editors and `echo` add it.
        """
        file_key = f"{name}_file"
        inline, from_file = self.has(name), self.has(file_key)
        if inline and from_file:
            raise ValueError(f"{self.key(name)}: give either {name} or {file_key}, not both")
        if inline:
            return self.text(name)
        if from_file:
            path = self.path(file_key)
            assert path is not None
            try:
                value = path.read_text(encoding="utf-8").removesuffix("\n").removesuffix("\r")
            except OSError as error:
                raise ValueError(f"{self.key(file_key)}: cannot read {path}: {error}") from None
            if not value:
                raise ValueError(f"{self.key(file_key)}: {path} is empty")
            return value
        if required:
            raise ValueError(f"{self.key(name)}: missing (or give {file_key})")
        return None

    def table(self, name: str) -> TableReader:
        """A nested table; an empty one when absent."""
        present = self.has(name)
        return TableReader(self._table[name] if present else {}, self.key(name), self._base_dir)

    def tables(self, name: str) -> dict[str, TableReader]:
        """A table of tables, e.g. `[notify.channels.<name>]`, keyed by their names."""
        outer = self.table(name)
        return {key: outer.table(key) for key in outer.names()}

    def names(self) -> list[str]:
        """All keys of this table, marked read (the caller handles each one)."""
        self._read.update(self._table)
        return list(self._table)

    def finish(self) -> None:
        """Reject keys no reader asked for."""
        unknown = sorted(set(self._table) - self._read)
        if unknown:
            raise ValueError(f"{self.key(unknown[0])}: unknown key")
