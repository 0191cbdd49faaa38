"""The conformance suite of :mod:`resulttracker.testing`, run on every built-in backend.

The harnesses come from the ``store`` fixture of ``conftest.py`` (one per backend);
each backend runs the shipped suite unchanged. Tests about one backend alone live
in that backend's own test file.
"""

from __future__ import annotations

import pytest

from resulttracker import InvalidKeyError, Record
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


# NumPy is not a dependency of the shipped suite: these run on the built-in stores here.


def test_numpy_integers_are_keys_like_int(store: StoreHarness) -> None:
    np = pytest.importorskip("numpy")
    store.tracker[np.int64(7)] = {"x": 1}
    store.tracker.put(np.uint8(8), x=2)
    store.tracker[-(10**253)] = {"x": 3}  # 255 characters: the longest int key
    assert store.tracker[7] == {"x": 1}
    assert store.tracker.get(np.int32(8)) == {"x": 2}
    assert np.int16(7) in store.tracker
    assert list(store.tracker.keys(np.int64(7))) == ["7"]
    assert store.tracker.get_many([np.int64(7), 8]) == {"7": {"x": 1}, "8": {"x": 2}}
    assert sorted(store.tracker.keys()) == sorted(["7", "8", str(-(10**253))])
    assert store.tracker.delete(np.int64(8)) is True


def test_numpy_bools_and_floats_are_not_keys(store: StoreHarness) -> None:
    np = pytest.importorskip("numpy")
    for key, reason in ((np.bool_(True), "type bool"), (np.float64(1.0), "type float64")):
        with pytest.raises(InvalidKeyError, match=reason):
            store.tracker.put(key, a=1)
        with pytest.raises(InvalidKeyError, match=reason):
            store.tracker.get(key)
    assert store.raw_names() == set()
