"""Property-based fuzzing: every put either round-trips exactly or is refused cleanly."""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resulttracker import FsspecResultTracker, InvalidKeyError, InvalidResultError, ResultTracker
from resulttracker.backends.sql import SQLResultTracker

from .conftest import scale

EXAMPLES = scale(2000, 200)

any_key = (
    st.text(max_size=40)
    | st.text(alphabet="./\\~*?[]%.\x00\n", max_size=12)
    | st.lists(st.text(max_size=6), max_size=5).map("/".join)
    | st.integers()
    | st.integers(min_value=10**250, max_value=10**260).map(lambda n: n * (-1) ** (n % 2))
    | st.just(7**10_000)  # beyond Python's digit limit
    | st.integers(min_value=-(2**63), max_value=2**63 - 1).map(np.int64)
    | st.booleans().map(np.bool_)
    | st.booleans()
    | st.floats()
    | st.none()
    | st.binary(max_size=5)
)
any_value = (
    st.integers()
    | st.floats()
    | st.booleans()
    | st.text(max_size=300)
    | st.text(alphabet="é✓", min_size=300, max_size=600)
    | st.none()
    | st.lists(st.integers(), max_size=2)
    | st.dictionaries(st.text(max_size=2), st.integers(), max_size=2)
    | st.binary(max_size=3)
    | st.complex_numbers()
)
any_results = st.dictionaries(st.text(max_size=12), any_value, max_size=6)


def same(got: dict[str, Any], expected: dict[str, Any]) -> bool:
    if list(got) != list(expected):
        return False
    for name, value in expected.items():
        if type(got[name]) is not type(value):
            return False
        if isinstance(value, float) and math.isnan(value):
            if not math.isnan(got[name]):
                return False
        elif got[name] != value:
            return False
    return True


@pytest.fixture(params=["local", "memory", "sqlite"], scope="module")
def fuzz_tracker(request: pytest.FixtureRequest) -> Iterator[tuple[ResultTracker, Any]]:
    if request.param == "local":
        folder = tempfile.mkdtemp()

        def names() -> set[str]:
            return {str(p.relative_to(folder)) for p in Path(folder).rglob("*") if p.is_file()}

        yield FsspecResultTracker(folder), names
        shutil.rmtree(folder)
    elif request.param == "sqlite":
        folder = tempfile.mkdtemp()
        database = f"{folder}/results.db"

        def names() -> set[str]:  # ground truth: the table itself, read with sqlite3
            if not Path(database).exists():
                return set()
            with contextlib.closing(sqlite3.connect(database)) as connection:
                tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
                if "results" not in tables:
                    return set()
                return {row[0] for row in connection.execute("SELECT key FROM results")}

        tracker = SQLResultTracker(f"sqlite:///{database}")
        yield tracker, names
        tracker.close()
        shutil.rmtree(folder)
    else:
        root = f"/fuzz-{uuid.uuid4().hex}"
        memory = fsspec.filesystem("memory")

        def names() -> set[str]:
            return set(memory.find(root)) if memory.exists(root) else set()

        yield FsspecResultTracker(f"memory://{root}"), names


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(key=any_key, results=any_results)
def test_put_round_trips_or_is_refused_with_nothing_written(
    fuzz_tracker: tuple[ResultTracker, Any], key: Any, results: dict[str, Any]
) -> None:
    tracker, names = fuzz_tracker
    before = names()
    try:
        tracker[key] = results
    except (InvalidKeyError, InvalidResultError):
        assert names() == before
        return
    got = tracker[key]
    assert same(got, results)
    assert isinstance(key, (int, str, np.integer))
    assert not isinstance(key, (bool, np.bool_))
    assert len(str(key).encode()) <= 1024
    tracker.delete(key)


@settings(max_examples=EXAMPLES, deadline=None)
@given(data=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_any_stored_bytes_decode_or_raise_corrupt(data: bytes) -> None:
    from resulttracker import CorruptResultError
    from resulttracker.codec import decode

    try:
        results = decode(data, key="k", location="somewhere")
    except CorruptResultError as error:
        assert error.key == "k"
        return
    assert isinstance(results, dict)
    # Read tolerant: any JSON value may come back; it must be safe to write back.
    from resulttracker.codec import encode_stored

    again = decode(encode_stored(results, key="k"), key="k", location="somewhere")
    assert json.dumps(again) == json.dumps(results)
