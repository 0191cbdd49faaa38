"""An S3 endpoint that stops, restarts, fails with 503 or never answers."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from click.testing import CliRunner

from resulttracker import FsspecResultTracker, StoreError, cli

from ..faulty_s3 import FaultyS3
from .conftest import FAULT_SLACK, FAULT_TIMEOUT, check_a_stopped_endpoint_mid_scan

_buckets = itertools.count()
TIMEOUT, SLACK = FAULT_TIMEOUT, FAULT_SLACK


@pytest.fixture
def endpoint() -> Iterator[FaultyS3]:
    server = FaultyS3()
    server.start()
    yield server
    server.unhang()
    if server._server is not None:
        server.stop()


@pytest.fixture
def tracker(endpoint: FaultyS3) -> FsspecResultTracker:
    bucket = f"faults-{next(_buckets)}"
    boto3.client(
        "s3",
        endpoint_url=endpoint.endpoint,
        aws_access_key_id="k",
        aws_secret_access_key="s",
        region_name="us-east-1",
    ).create_bucket(Bucket=bucket)
    return FsspecResultTracker(
        f"s3://{bucket}/exp",
        operation_timeout=TIMEOUT,
        skip_instance_cache=True,
        key="k",
        secret="s",
        endpoint_url=endpoint.endpoint,
    )


def test_endpoint_stopping_during_a_scan_is_a_prompt_clear_error(
    endpoint: FaultyS3, tracker: FsspecResultTracker, monkeypatch: pytest.MonkeyPatch
) -> None:
    check_a_stopped_endpoint_mid_scan(
        tracker, endpoint.stop, endpoint.start, r"s3://faults-\d+/exp", monkeypatch
    )


def test_a_few_503_answers_are_retried(endpoint: FaultyS3, tracker: FsspecResultTracker) -> None:
    tracker["k"] = {"x": 1}
    endpoint.failures_left = 2
    assert tracker["k"] == {"x": 1}
    assert endpoint.failures_left == 0
    endpoint.failures_left = 2
    tracker["k"] = {"x": 2}
    assert tracker["k"] == {"x": 2}


def test_lasting_503_answers_end_in_a_clear_error(
    endpoint: FaultyS3, tracker: FsspecResultTracker
) -> None:
    tracker["k"] = {"x": 1}
    endpoint.failures_left = 10_000
    started = time.monotonic()
    with pytest.raises(StoreError, match=r"reading key 'k' on 's3://faults-\d+/exp'"):
        tracker.get("k")
    assert time.monotonic() - started < TIMEOUT + SLACK
    endpoint.failures_left = 0
    assert tracker["k"] == {"x": 1}


@pytest.mark.parametrize("operation", ["get", "put", "keys", "get_many"])
def test_an_endpoint_that_never_answers_does_not_hang(
    endpoint: FaultyS3, tracker: FsspecResultTracker, operation: str
) -> None:
    tracker["k"] = {"x": 1}
    calls = {
        "get": lambda: tracker.get("k"),
        "put": lambda: tracker.put("k", x=2),
        "keys": lambda: list(tracker.keys()),
        "get_many": lambda: tracker.get_many(["k", "j"]),
    }
    endpoint.hang()
    started = time.monotonic()
    with pytest.raises(StoreError, match=rf"did not finish within {TIMEOUT:g} s"):
        calls[operation]()
    assert time.monotonic() - started < TIMEOUT + SLACK
    endpoint.unhang()
    assert tracker["k"] in ({"x": 1}, {"x": 2})


@pytest.mark.parametrize("entry", ["library", "command line"])
def test_an_export_to_an_endpoint_that_never_answers_ends_within_the_deadline(
    endpoint: FaultyS3, tracker: FsspecResultTracker, tmp_path: Path, entry: str
) -> None:
    source = FsspecResultTracker(tmp_path / "source")
    source["a"] = {"x": 1}
    bucket = tracker.tracker_base.split("/")[2]
    destination = f"s3://{bucket}/out.csv"
    options = {
        "key": "k",
        "secret": "hunter2-export",  # moto accepts any credentials
        "endpoint_url": endpoint.endpoint,
        "operation_timeout": TIMEOUT,
    }
    endpoint.hang()
    started = time.monotonic()
    if entry == "library":
        with pytest.raises(StoreError, match=rf"did not finish within {TIMEOUT:g} s") as caught:
            source.export(destination, storage_options=options)
        message = str(caught.value)
    else:
        pairs = [f"--dest-option={name}={value}" for name, value in options.items()]
        result = CliRunner().invoke(
            cli.cli, ["--base", str(tmp_path / "source"), "export", destination, *pairs]
        )
        assert result.exit_code == 1, result.output
        message = result.stderr
        assert f"did not finish within {TIMEOUT:g} s" in message
    assert time.monotonic() - started < TIMEOUT + SLACK
    assert repr(destination) in message
    assert "hunter2" not in message
    endpoint.unhang()
    client = boto3.client(
        "s3",
        endpoint_url=endpoint.endpoint,
        aws_access_key_id="k",
        aws_secret_access_key="s",
        region_name="us-east-1",
    )
    expected = (tmp_path / "expected.csv").as_posix()
    assert source.export(expected) == 1
    complete = Path(expected).read_bytes()
    # The request that timed out may still land once the server answers (a
    # timed-out write is not known to have failed), but only whole: one PUT.
    listed = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    if listed:
        assert client.get_object(Bucket=bucket, Key="out.csv")["Body"].read() == complete
    # The endpoint answers again: the same export goes through.
    assert source.export(destination, storage_options=options) == 1
    assert client.get_object(Bucket=bucket, Key="out.csv")["Body"].read() == complete
