"""GCS and Azure endpoints that stop, restart or never answer (the emulators behind
a TCP proxy on loopback); S3's own cases are in test_store_faults.py."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from resulttracker import FsspecResultTracker, StoreError

from ..conftest import StoreHarness, _harness, azure_options, gcs_options
from ..faulty_proxy import FaultyProxy
from .conftest import FAULT_SLACK, FAULT_TIMEOUT, check_a_stopped_endpoint_mid_scan

TIMEOUT, SLACK = FAULT_TIMEOUT, FAULT_SLACK


@pytest.fixture(params=["gcs", "azure"])
def faulty(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[StoreHarness, FaultyProxy, FsspecResultTracker]]:
    """A store with a bucket, a proxy in front of its emulator, and a tracker
    that goes through the proxy."""
    harness = next(_harness(request, tmp_path, request.param))
    if request.param == "gcs":
        endpoint = request.getfixturevalue("gcs_endpoint")
        port = int(endpoint.rsplit(":", 1)[1])
        proxy = FaultyProxy(port)
        options = gcs_options(f"http://127.0.0.1:{proxy.port}")
    else:
        endpoint = request.getfixturevalue("azure_endpoint")
        port = int(endpoint.split(":")[2].split("/")[0])
        proxy = FaultyProxy(port)
        options = azure_options(endpoint.replace(f":{port}/", f":{proxy.port}/"))
    proxy.start()
    tracker = FsspecResultTracker(
        harness.base, operation_timeout=TIMEOUT, skip_instance_cache=True, **options
    )
    yield harness, proxy, tracker
    proxy.unhang()
    if proxy._listener is not None:
        proxy.stop()


def test_endpoint_stopping_during_a_scan_is_a_prompt_clear_error(
    faulty: tuple[StoreHarness, FaultyProxy, FsspecResultTracker],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    harness, proxy, tracker = faulty
    check_a_stopped_endpoint_mid_scan(
        tracker, proxy.stop, proxy.start, re.escape(harness.base), monkeypatch
    )


CALLS: dict[str, Callable[[FsspecResultTracker], Any]] = {
    "get": lambda tracker: tracker.get("k"),
    "put": lambda tracker: tracker.put("k", x=2),
    "keys": lambda tracker: list(tracker.keys()),
    "get_many": lambda tracker: tracker.get_many(["k", "j"]),
    "delete": lambda tracker: tracker.delete("j"),
    "exists": lambda tracker: tracker.exists(),
}


@pytest.mark.parametrize("operation", sorted(CALLS))
def test_an_endpoint_that_never_answers_does_not_hang(
    faulty: tuple[StoreHarness, FaultyProxy, FsspecResultTracker], operation: str
) -> None:
    harness, proxy, tracker = faulty
    tracker["k"] = {"x": 1}
    proxy.hang()
    started = time.monotonic()
    with pytest.raises(StoreError, match=rf"did not finish within {TIMEOUT:g} s") as caught:
        CALLS[operation](tracker)
    assert time.monotonic() - started < TIMEOUT + SLACK
    assert harness.base in str(caught.value)
    assert "AccountKey" not in str(caught.value)
    proxy.unhang()
    assert tracker["k"] in ({"x": 1}, {"x": 2})


def test_an_endpoint_that_refuses_connections_fails_within_the_deadline(
    faulty: tuple[StoreHarness, FaultyProxy, FsspecResultTracker],
) -> None:
    # gcsfs and the Azure SDK retry a refused connection until the deadline
    # (S3's client gives up after 3 attempts: test_s3.py).
    harness, proxy, tracker = faulty
    proxy.stop()
    for operation in ("get", "put", "keys"):
        started = time.monotonic()
        with pytest.raises(StoreError, match=f"on '{harness.base}'") as caught:
            CALLS[operation](tracker)
        assert time.monotonic() - started < TIMEOUT + SLACK
        assert "AccountKey" not in str(caught.value)
    proxy.start()
    tracker["k"] = {"x": 3}
    assert tracker["k"] == {"x": 3}
