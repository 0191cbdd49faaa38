"""The conformance suite of :mod:`resulttracker.testing`, run on every built-in backend.

The harnesses come from the ``store`` fixture of ``conftest.py`` (one per backend);
each backend runs the shipped suite unchanged. Tests about one backend alone live
in that backend's own test file.
"""

from __future__ import annotations

import pytest

from resulttracker import Record
from resulttracker.testing import StoreTests

# The suite's data and helpers, still importable from here by other test modules.
from resulttracker.testing.store import ALL_TYPES, BAD_KEYS, BAD_RESULTS, CORRUPT, same_results

from .conftest import StoreHarness

__all__ = ["ALL_TYPES", "BAD_KEYS", "BAD_RESULTS", "CORRUPT", "TestBuiltinStores", "same_results"]


class TestBuiltinStores(StoreTests):
    @pytest.fixture
    def harness(self, store: StoreHarness) -> StoreHarness:
        return store


def test_record_is_constructible() -> None:
    record = Record(key="k", results={"a": 1}, modified=None)
    assert (record.key, record.results, record.modified) == ("k", {"a": 1}, None)
