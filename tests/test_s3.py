"""S3 specifics, against a moto server on loopback: request counts, concurrency, errors."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from resulttracker import FsspecResultTracker, InvalidKeyError, StoreError

from .conftest import s3_options


class RequestLog:
    """Records the S3 operations a file system's client sends, and how many overlap."""

    def __init__(self, tracker: FsspecResultTracker) -> None:
        self.operations: list[str] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self._lock = threading.Lock()
        tracker.get("warm-up")  # creates the client
        events = tracker.store.fs.s3.meta.events  # type: ignore[attr-defined]
        events.register("before-call.s3", self._before)
        events.register("after-call.s3", self._after)

    def _before(self, model: Any, **_: Any) -> None:
        with self._lock:
            self.operations.append(model.name)
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)

    def _after(self, **_: Any) -> None:
        with self._lock:
            self.in_flight -= 1

    def take(self) -> list[str]:
        operations, self.operations = self.operations, []
        return operations


@pytest.fixture
def tracker(s3_endpoint: str, s3_bucket: tuple[str, Any]) -> FsspecResultTracker:
    bucket, _ = s3_bucket
    # A private file-system instance, so that the request log sees only this test.
    return FsspecResultTracker(
        f"s3://{bucket}/exp", skip_instance_cache=True, **s3_options(s3_endpoint)
    )


def test_one_put_is_one_request(tracker: FsspecResultTracker) -> None:
    log = RequestLog(tracker)
    log.take()
    tracker["a/b/c"] = {"x": 1}
    assert log.take() == ["PutObject"]
    tracker["a/b/c"] = {"x": 2}
    assert log.take() == ["PutObject"]


def test_one_get_is_one_request(tracker: FsspecResultTracker) -> None:
    tracker["k"] = {"x": 1}
    log = RequestLog(tracker)
    log.take()
    assert tracker.get("k") == {"x": 1}
    assert log.take() == ["GetObject"]
    assert tracker.get("missing") == {}
    assert log.take() == ["GetObject"]


def test_bulk_reads_are_concurrent_and_list_once(tracker: FsspecResultTracker) -> None:
    for number in range(120):
        tracker[f"t/{number:03d}"] = {"n": number}
    log = RequestLog(tracker)
    log.take()
    records = list(tracker.scan())
    assert [record.results["n"] for record in records] == list(range(120))
    operations = log.take()
    assert operations.count("ListObjectsV2") == 1
    assert operations.count("GetObject") == 120
    assert set(operations) == {"ListObjectsV2", "GetObject"}
    assert log.most_in_flight > 1
    got = tracker.get_many(f"t/{n:03d}" for n in range(0, 120, 2))
    assert len(got) == 60
    assert log.take() == ["GetObject"] * 60


def test_a_key_s3fs_would_read_as_an_object_version_is_refused(
    tracker: FsspecResultTracker, s3_bucket: tuple[str, Any]
) -> None:
    # s3fs reads "?versionId=" as an object version: such a key must never be
    # written under another name (elsewhere it is an ordinary key).
    bucket, client = s3_bucket
    with pytest.raises(InvalidKeyError, match=r"'q\?versionId=1' cannot be stored literally"):
        tracker["q?versionId=1"] = {"x": 1}
    assert client.list_objects_v2(Bucket=bucket).get("Contents", []) == []
    assert list(tracker.keys()) == []


@pytest.fixture
def closed_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]  # bound but not listening: connections are refused


def test_an_unreachable_endpoint_fails_promptly_and_clearly(closed_port: int) -> None:
    options = {
        "key": "AKIA",
        "secret": "hunter2",
        "endpoint_url": f"http://127.0.0.1:{closed_port}",
    }
    tracker = FsspecResultTracker("s3://bucket/exp", skip_instance_cache=True, **options)
    for attempt in (
        lambda: tracker.get("k"),
        lambda: tracker.put("k", x=1),
        lambda: tracker.get_many(["a", "b"]),
    ):
        started = time.monotonic()
        with pytest.raises(StoreError, match=r"on 's3://bucket/exp' failed") as caught:
            attempt()
        assert time.monotonic() - started < 30
        assert isinstance(caught.value, OSError)
        assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    "text",
    [
        "2026-12-01T11:35:40.000Z",
        "2026-12-01T11:35:40Z",
        "2026-12-01T11:35:40.123456+02:00",
        "Tue, 01 Dec 2026 11:35:40 GMT",  # HTTP dates (Last-Modified headers)
        "2026-12-01T11:35:40",  # no zone: botocore's rule (UTC), not the local zone
        "1764588940",
        1764588940,
        1764588940.5,
    ],
)
def test_listing_timestamps_read_as_botocore_reads_them(text: str | float) -> None:
    from botocore.utils import parse_timestamp as botocore_parse_timestamp

    from resulttracker.backends._object_stores import parse_timestamp

    ours, theirs = parse_timestamp(text), botocore_parse_timestamp(text)
    assert ours == theirs
    assert ours.utcoffset() == theirs.utcoffset()


def test_listing_modification_times_are_the_stores(s3_endpoint: str, s3_bucket: Any) -> None:
    bucket, client = s3_bucket
    tracker = FsspecResultTracker(f"s3://{bucket}/base", **s3_options(s3_endpoint))
    for index in range(3):
        tracker[f"k{index}"] = {"x": index}
    modified = {record.key: record.modified for record in tracker.scan()}
    listed = client.list_objects_v2(Bucket=bucket, Prefix="base/")["Contents"]
    assert modified == {item["Key"][len("base/") :]: item["LastModified"] for item in listed}


def test_a_session_of_the_callers_own_is_kept(s3_endpoint: str, s3_bucket: Any) -> None:
    import aiobotocore.session

    bucket, _ = s3_bucket
    session = aiobotocore.session.AioSession()
    tracker = FsspecResultTracker(f"s3://{bucket}/base", session=session, **s3_options(s3_endpoint))
    tracker["k"] = {"x": 1}
    assert tracker.store.fs.session is session  # type: ignore[attr-defined]
    assert tracker["k"] == {"x": 1}
