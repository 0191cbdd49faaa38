"""``resulttracker.testing``: the conformance suite, shipped for backend authors.

A new store proves itself by passing the tests every built-in store passes.
Subclass :class:`StoreTests` and give it one fixture, ``harness``, returning a
:class:`StoreHarness` on a new, empty store; the harness opens trackers on that
store and reads and writes it without resulttracker (ground truth)::

    import pytest
    from resulttracker.testing import StoreHarness, StoreTests

    class TestMyStore(StoreTests):
        @pytest.fixture
        def harness(self, tmp_path):
            return MyStoreHarness(tmp_path)

The suite includes a model-based test (:class:`StoreStateMachine`, a Hypothesis
state machine checked against a dict). This package imports pytest and
Hypothesis (``pip install 'resulttracker[testing]'``); nothing else in
resulttracker imports it.
"""

from __future__ import annotations

from .harness import StoreHarness
from .stateful import StoreStateMachine, run_state_machine
from .store import StoreTests

__all__ = ["StoreHarness", "StoreStateMachine", "StoreTests", "run_state_machine"]
