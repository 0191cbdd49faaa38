"""The example backend of the "Writing a backend" guide passes the shipped suite.

``examples/sqlite3_store.py`` is the backend the guide walks through; here it runs every
test of :mod:`resulttracker.testing`, the state machine included, with ground
truth read and written by plain :mod:`sqlite3` on the database file.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlite3_store import SQLite3Store  # examples/ is on pytest's pythonpath

from resulttracker import StoreError, StoreTracker, open_tracker, registry
from resulttracker.testing import StoreHarness, StoreTests

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "sqlite3_store.py"


# --8<-- [start:harness]
class SQLite3Harness(StoreHarness):
    """A database file of its own; ``raw_*`` run plain SQL on its ``results`` table."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "results.db"
        self.other_path = folder / "other.db"
        self.shown_base = str(self.path)
        self.stores: list[SQLite3Store] = []
        self.connection: sqlite3.Connection | None = None

    def _open(self, path: Path) -> StoreTracker:
        store = SQLite3Store(str(path))
        self.stores.append(store)
        return StoreTracker(store)

    def new_tracker(self) -> StoreTracker:
        return self._open(self.path)

    def isolated_tracker(self) -> StoreTracker:
        return self._open(self.other_path)

    def _sql(self, sql: str, *parameters: str | bytes) -> list[Any]:
        if self.connection is None:
            self.connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self.connection.execute(
                "CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, document BLOB NOT NULL)"
            )
        return self.connection.execute(sql, parameters).fetchall()

    def raw_write(self, key: str, document: bytes) -> None:
        self._sql("INSERT OR REPLACE INTO results (key, document) VALUES (?, ?)", key, document)

    def raw_read(self, key: str) -> bytes | None:
        if not self.path.exists():
            return None
        rows = self._sql("SELECT document FROM results WHERE key = ?", key)
        return bytes(rows[0][0]) if rows else None

    def raw_names(self) -> set[str]:
        if not self.path.exists():
            return set()
        return {key for (key,) in self._sql("SELECT key FROM results")}

    def close(self) -> None:
        for store in self.stores:
            store.close()
        if self.connection is not None:
            self.connection.close()


class TestSQLite3Store(StoreTests):
    @pytest.fixture
    def harness(self, tmp_path: Path) -> Iterator[SQLite3Harness]:
        harness = SQLite3Harness(tmp_path)
        yield harness
        harness.close()


# --8<-- [end:harness]


def test_an_unreachable_database_raises_store_error(tmp_path: Path) -> None:
    path = tmp_path / "missing-folder" / "results.db"
    store = SQLite3Store(str(path))
    tracker = StoreTracker(store)
    attempts = [
        lambda: tracker.get("k"),
        lambda: tracker.put("k", x=1),
        lambda: tracker.delete("k"),
        lambda: list(tracker.keys()),
        lambda: list(tracker.scan()),
    ]
    for attempt in attempts:
        with pytest.raises(StoreError, match=r"unable to open database file") as caught:
            attempt()
        assert str(path) in str(caught.value)
        assert isinstance(caught.value, OSError)
    assert not path.parent.exists()
    store.close()


def test_open_tracker_opens_the_example_once_its_scheme_is_registered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(registry.BACKENDS, "sqlite3", ("sqlite3_store:open_url", ""))
    path = tmp_path / "results.db"
    tracker = open_tracker(f"sqlite3://{path}")
    assert isinstance(tracker, StoreTracker)
    tracker["exp/1"] = {"loss": 0.5}
    with contextlib.closing(sqlite3.connect(path)) as connection:
        rows = connection.execute("SELECT key, document FROM results").fetchall()
    assert rows == [("exp/1", b'{\n  "loss": 0.5\n}')]
    tracker.store.close()  # type: ignore[attr-defined]


def test_the_example_is_under_100_lines_and_the_guide_includes_it_whole() -> None:
    assert len(EXAMPLE.read_text().splitlines()) < 100
    guide = (ROOT / "docs" / "guides" / "writing-a-backend.md").read_text()
    assert '--8<-- "examples/sqlite3_store.py"' in guide
