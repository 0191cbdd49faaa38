"""Model-based testing: random puts, gets, deletes and listings agree with a dict."""

from __future__ import annotations

import math
import shutil
import tempfile
import uuid
from typing import Any

import fsspec
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, multiple, rule

from resulttracker import (
    FsspecResultTracker,
    InvalidKeyError,
    InvalidResultError,
    KeyConflictError,
)

segment = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")).filter(
        lambda ch: ch not in "/\\"
    ),
    min_size=1,
    max_size=8,
)
keys = st.lists(segment, min_size=1, max_size=3).map("/".join) | st.integers(-5, 5)
values = (
    st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.booleans()
    | st.text(max_size=20)
)
results = st.dictionaries(st.text(min_size=1, max_size=10), values, min_size=1, max_size=5)


def normalized(value: Any) -> Any:
    """A stand-in that compares NaN equal to NaN."""
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    return (type(value), value)


class TrackerMatchesDict(RuleBasedStateMachine):
    """Subclasses choose the store; the model is a plain dict."""

    stored = Bundle("stored")

    def make_tracker(self) -> FsspecResultTracker:
        raise NotImplementedError

    def __init__(self) -> None:
        super().__init__()
        self.tracker = self.make_tracker()
        self.model: dict[str, dict[str, Any]] = {}

    @rule(target=stored, key=keys, result=results)
    def put(self, key: int | str, result: dict[str, Any]) -> Any:
        try:
            self.tracker[key] = result
        except (InvalidKeyError, InvalidResultError):
            # Only keys that break a documented rule are refused (the strategy
            # makes no empty segments, backslashes or control characters).
            assert any(
                part in (".", "..") or part.startswith(".rttmp-") or len(part.encode()) > 255
                for part in str(key).split("/")
            )
            return multiple()
        except KeyConflictError:
            # File systems with folders cannot hold both "a" and "a/b".
            text = str(key)
            assert any(
                other.startswith(text + "/") or text.startswith(other + "/") for other in self.model
            )
            return multiple()
        self.model[str(key)] = dict(result)
        return key

    @rule(key=stored)
    def get(self, key: int | str) -> None:
        got = self.tracker.get(key)
        expected = self.model.get(str(key), {})
        assert {k: normalized(v) for k, v in got.items()} == {
            k: normalized(v) for k, v in expected.items()
        }

    @rule(key=stored)
    def delete(self, key: int | str) -> None:
        existed = self.tracker.delete(key)
        assert existed == (str(key) in self.model)
        self.model.pop(str(key), None)

    @invariant()
    def same_keys(self) -> None:
        assert list(self.tracker.keys()) == sorted(self.model)


class MemoryMachine(TrackerMatchesDict):
    def make_tracker(self) -> FsspecResultTracker:
        return FsspecResultTracker(f"memory://model-{uuid.uuid4().hex}")


class LocalMachine(TrackerMatchesDict):
    def make_tracker(self) -> FsspecResultTracker:
        self.folder = tempfile.mkdtemp()
        return FsspecResultTracker(self.folder)

    def teardown(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


TestMemoryStore = MemoryMachine.TestCase
TestMemoryStore.settings = settings(max_examples=60, stateful_step_count=25, deadline=None)
TestLocalStore = LocalMachine.TestCase
TestLocalStore.settings = settings(max_examples=60, stateful_step_count=25, deadline=None)
_ = fsspec  # the memory store is process-wide; each machine uses its own root
