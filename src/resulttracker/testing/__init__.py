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

import pytest

# Failures in the shipped tests show the compared values, as in the user's own
# tests: pytest rewrites the asserts of modules registered before their import.
pytest.register_assert_rewrite("resulttracker.testing.store", "resulttracker.testing.stateful")

from .harness import StoreHarness  # noqa: E402
from .stateful import StoreStateMachine, run_state_machine  # noqa: E402
from .store import StoreTests  # noqa: E402

__all__ = ["StoreHarness", "StoreStateMachine", "StoreTests", "run_state_machine"]
