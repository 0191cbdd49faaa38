"""Model-based testing: random operations on a store agree with a plain dict.

:class:`StoreStateMachine` is a Hypothesis rule-based state machine. It applies
random puts, gets, deletes, bulk reads and listings to a tracker and to a dict,
and checks after every step that both agree; Hypothesis shrinks any
disagreement to a short sequence of calls.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from ..api import StoreTracker
from ..errors import InvalidKeyError, InvalidResultError, KeyConflictError
from ..model import Results
from .harness import StoreHarness

__all__ = ["StoreStateMachine", "run_state_machine"]

segments = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")).filter(
        lambda character: character not in "/\\"
    ),
    min_size=1,
    max_size=8,
)
keys = st.lists(segments, min_size=1, max_size=3).map("/".join) | st.integers(-5, 5)
values = (
    st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.booleans()
    | st.text(max_size=20)
)
results = st.dictionaries(st.text(min_size=1, max_size=10), values, min_size=1, max_size=5)


def normalized(results: Results) -> dict[str, Any]:
    """``results`` in a form where NaN equals NaN and ``1 == 1.0 == True`` does not hold."""
    return {
        name: "NaN" if isinstance(value, float) and math.isnan(value) else (type(value), value)
        for name, value in results.items()
    }


def breaks_a_key_rule(key: str) -> bool:
    """Whether ``key`` breaks a documented rule that the strategy does not avoid."""
    return any(
        part in (".", "..") or part.startswith(".rttmp-") or len(part.encode()) > 255
        for part in key.split("/")
    )


class StoreStateMachine(RuleBasedStateMachine):
    """A tracker on the harness's store, checked against a dict after every step.

    Two trackers on the store take turns, as two processes would, so that nothing
    a tracker remembers can stand in for what the store holds. Each run starts
    from the empty store and leaves it empty: its teardown deletes every key
    through the tracker and checks with
    :meth:`~resulttracker.testing.StoreHarness.raw_names` that nothing is left.

    Parameters
    ----------
    harness : StoreHarness
        The store under test, empty.
    trackers : sequence of StoreTracker
        Trackers on that store (by default ``harness.tracker`` and one
        :meth:`~resulttracker.testing.StoreHarness.new_tracker`); opened once for
        all runs, since some stores hold a connection per tracker.
    """

    stored = Bundle("stored")

    def __init__(self, harness: StoreHarness, trackers: Sequence[StoreTracker] = ()) -> None:
        super().__init__()
        assert harness.raw_names() == set(), "the store is not empty at the start of a run"
        self.harness = harness
        self.trackers = list(trackers) or [harness.tracker, harness.new_tracker()]
        self.tracker = self.trackers[0]
        self.model: dict[str, Results] = {}

    @rule(target=stored, key=keys, result=results)
    def put(self, key: int | str, result: Results) -> Any:
        name = str(key)
        try:
            self.tracker[key] = result
        except (InvalidKeyError, InvalidResultError):
            # Only keys that break a documented rule are refused.
            assert breaks_a_key_rule(name), f"valid key {name!r} refused"
            return multiple()
        except KeyConflictError:
            # Only a store that cannot nest keys may refuse "a/b" beside "a".
            assert not self.tracker.store.nested_keys
            assert any(
                other.startswith(name + "/") or name.startswith(other + "/") for other in self.model
            )
            return multiple()
        self.model[name] = dict(result)
        return key

    @rule(key=stored)
    def get(self, key: int | str) -> None:
        assert normalized(self.tracker.get(key)) == normalized(self.model.get(str(key), {}))

    @rule(key=stored)
    def delete(self, key: int | str) -> None:
        existed = self.tracker.delete(key)
        assert existed == (str(key) in self.model)
        self.model.pop(str(key), None)
        assert self.harness.raw_read(str(key)) is None

    @rule(wanted=st.lists(stored, max_size=4))
    def get_many(self, wanted: list[int | str]) -> None:
        got = self.tracker.get_many(wanted)
        assert list(got) == list(dict.fromkeys(str(key) for key in wanted))
        for name, found in got.items():
            assert normalized(found) == normalized(self.model.get(name, {}))

    @rule(key=stored)
    def list_under(self, key: int | str) -> None:
        prefix = str(key)
        expected = [name for name in sorted(self.model) if (name + "/").startswith(prefix + "/")]
        assert list(self.tracker.keys(prefix)) == expected

    @rule()
    def scan(self) -> None:
        scanned = [(record.key, normalized(record.results)) for record in self.tracker.scan()]
        assert scanned == [(name, normalized(self.model[name])) for name in sorted(self.model)]

    @rule()
    def switch_tracker(self) -> None:
        self.trackers.append(self.trackers.pop(0))
        self.tracker = self.trackers[0]

    @invariant()
    def same_keys(self) -> None:
        assert list(self.tracker.keys()) == sorted(self.model)

    def teardown(self) -> None:
        for name in list(self.tracker.keys()):
            self.tracker.delete(name)
        assert self.harness.raw_names() == set(), "deleting every key left something behind"


def run_state_machine(harness: StoreHarness, run_settings: settings | None = None) -> None:
    """Run :class:`StoreStateMachine` on ``harness``'s store (which must be empty).

    Parameters
    ----------
    harness : StoreHarness
        The store under test.
    run_settings : hypothesis.settings, optional
        Examples and steps per example; by default 20 runs of up to 15 steps.
    """
    trackers = [harness.tracker, harness.new_tracker()]
    run_state_machine_as_test(
        # Any callable returning a machine will do (Hypothesis's hint says a class).
        lambda: StoreStateMachine(harness, trackers),  # type: ignore[arg-type]
        settings=run_settings or settings(max_examples=20, stateful_step_count=15, deadline=None),
    )
