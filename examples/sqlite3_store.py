"""A resulttracker backend on the standard library's sqlite3: one row per key.

The example of the "Writing a backend" guide. Use it as::

    tracker = StoreTracker(SQLite3Store("results.db"))
    tracker["exp1/trial7"] = {"loss": 0.12}

``tests/test_example_backend.py`` runs the conformance suite on it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from resulttracker import StoreError, StoreTracker
from resulttracker.store import Store

SCHEMA = "CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, document BLOB NOT NULL)"
# The key itself and the keys below it: "a/..." sort between "a/" and "a0" ("0" follows "/").
UNDER = "key = ? OR (key >= ? || '/' AND key < ? || '0')"


class SQLite3Store(Store):
    """Documents in the table ``results`` of a SQLite database file."""

    sorted_listing = True  # every listing says ORDER BY key
    # Inherited: atomic_overwrite = True (an upsert is one transaction),
    # modification_times = False (no time column), nested_keys = True ("a", "a/b").

    def __init__(self, path: str) -> None:
        self.path = path
        self._connection: sqlite3.Connection | None = None
        self._lock = threading.Lock()  # one connection, shared by every thread

    def __repr__(self) -> str:
        return f"SQLite3Store({self.path!r})"

    def _query(self, sql: str, *parameters: str | bytes) -> list[Any]:
        """Run one statement; every sqlite3 error becomes a StoreError."""
        with self._lock:
            try:
                if self._connection is None:
                    self._connection = sqlite3.connect(
                        self.path, timeout=30, isolation_level=None, check_same_thread=False
                    )
                    self._connection.execute(SCHEMA)
                return self._connection.execute(sql, parameters).fetchall()
            except sqlite3.Error as error:
                raise StoreError(f"{self!r}: {type(error).__name__}: {error}") from error

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    # -- the four primitives ----------------------------------------------------------

    def read(self, key: str) -> bytes | None:
        rows = self._query("SELECT document FROM results WHERE key = ?", key)
        return bytes(rows[0][0]) if rows else None

    def write(self, key: str, document: bytes) -> None:
        self._query(
            "INSERT INTO results VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET document = excluded.document",
            key,
            document,
        )

    def delete(self, key: str) -> bool:
        return bool(self._query("DELETE FROM results WHERE key = ? RETURNING key", key))

    def list_keys(self, prefix: str) -> list[str]:
        if not prefix:
            return [key for (key,) in self._query("SELECT key FROM results ORDER BY key")]
        sql = f"SELECT key FROM results WHERE {UNDER} ORDER BY key"
        return [key for (key,) in self._query(sql, prefix, prefix, prefix)]

    # -- optional: one query where the defaults would list, then read key by key ------

    def scan(self, prefix: str) -> Iterator[tuple[str, bytes | None, datetime | None]]:
        where, parameters = (UNDER, (prefix,) * 3) if prefix else ("1", ())
        sql = f"SELECT key, document FROM results WHERE {where} ORDER BY key"
        for key, document in self._query(sql, *parameters):
            yield key, document, None

    def count(self, prefix: str) -> int:
        where, parameters = (UNDER, (prefix,) * 3) if prefix else ("1", ())
        return int(self._query(f"SELECT count(*) FROM results WHERE {where}", *parameters)[0][0])


def open_url(url: str) -> StoreTracker:
    """The tracker of a ``sqlite3:///path/to/results.db`` URL, for ``open_tracker``."""
    return StoreTracker(SQLite3Store(url.removeprefix("sqlite3://")))
