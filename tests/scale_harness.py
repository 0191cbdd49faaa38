"""Shared set-up for the snapshot and change-feed tests: stores with ground-truth
writers that bypass resulttracker, and a request-counting S3 endpoint."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import botocore.config
import pytest

from resulttracker import FsspecResultTracker, Record, StoreTracker

from .counting_s3 import CountingS3

Model = dict[str, dict[str, Any]]


@dataclass
class Scene:
    """A store, a tracker on it, and writers that go around the library."""

    name: str
    base: str
    options: dict[str, Any]
    #: Write a document without resulttracker (plain files, boto3).
    raw_write: Callable[[str, bytes], None]
    raw_delete: Callable[[str], None]
    counting: CountingS3 | None = None

    def tracker(self) -> StoreTracker:
        """A fresh tracker, as another process would open (no shared caches)."""
        extra = {"skip_instance_cache": True} if self.name in ("s3", "gcs", "azure") else {}
        return FsspecResultTracker(self.base, **self.options, **extra)

    def put_raw(self, model: Model, key: str, results: dict[str, Any]) -> None:
        self.raw_write(key, json.dumps(results, indent=2).encode())
        model[key] = results

    def counts(self) -> dict[str, int]:
        assert self.counting is not None
        return self.counting.snapshot()


@pytest.fixture(scope="session", name="counting_s3")
def counting_s3_fixture() -> Iterator[CountingS3]:
    server = CountingS3()
    server.start()
    yield server
    server.stop()


_buckets = iter(range(10**9))


def s3_scene(server: CountingS3) -> Scene:
    client = boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
        config=botocore.config.Config(max_pool_connections=32),
    )
    bucket = f"scale-{os.getpid()}-{next(_buckets)}"
    client.create_bucket(Bucket=bucket)

    def raw_write(key: str, data: bytes) -> None:
        client.put_object(Bucket=bucket, Key=f"base/{key}", Body=data)

    def raw_delete(key: str) -> None:
        client.delete_object(Bucket=bucket, Key=f"base/{key}")

    options = {"key": "testing", "secret": "testing", "endpoint_url": server.endpoint}
    return Scene("s3", f"s3://{bucket}/base", options, raw_write, raw_delete, server)


def local_scene(folder: Path) -> Scene:
    root = folder / "base"

    def raw_write(key: str, data: bytes) -> None:
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)  # in place, not atomic: as torchx and most tools write

    def raw_delete(key: str) -> None:
        (root / key).unlink()

    return Scene("local", str(root), {}, raw_write, raw_delete)


def emulator_scene(request: pytest.FixtureRequest, tmp_path: Path, name: str) -> Scene:
    """A GCS or Azure bucket on its emulator; raw writes through the harness's client."""
    from .conftest import _harness

    harness = next(_harness(request, tmp_path, name))
    assert harness.raw_delete is not None
    return Scene(name, harness.base, harness.options, harness.raw_write, harness.raw_delete)


@pytest.fixture(params=["local", "s3", "gcs", "azure"], name="scene")
def scene_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> Scene:
    """A folder, an S3 bucket (behind the counting endpoint), a GCS bucket and an
    Azure container in turn."""
    if request.param == "local":
        return local_scene(tmp_path)
    if request.param in ("gcs", "azure"):
        return emulator_scene(request, tmp_path, request.param)
    return s3_scene(request.getfixturevalue("counting_s3"))


def fill(scene: Scene, model: Model, count: int, *, prefix: str = "exp") -> None:
    """``count`` keys written around the library, in parallel."""
    items = {
        f"{prefix}/{number:05d}": {"loss": number / 7, "seed": number} for number in range(count)
    }
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda item: scene.put_raw(model, *item), items.items()))


def as_model(records: Iterator[Record] | list[Record]) -> Model:
    return {record.key: record.results for record in records}


def plain_records(tracker: StoreTracker, prefix: str = "") -> list[Record]:
    """A scan that reads every document (the store's own ``scan``, no snapshot)."""
    from resulttracker import codec

    return [
        Record(key, codec.decode(document, key=key, location=key), modified)
        for key, document, modified in tracker.store.scan(prefix)
        if document is not None
    ]
