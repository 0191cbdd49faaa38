"""Fixtures: one harness per backend, with ground-truth access to its store.

Every conformance test takes the ``store`` fixture and runs once per backend.
A :class:`StoreHarness` gives the tracker under test plus ``raw_*`` helpers that
read and write the store *without* resulttracker (plain ``open``, fsspec's
memory store, boto3), so a bug cannot hide behind itself.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import fsspec
import pytest
from moto.server import ThreadedMotoServer

from resulttracker import FsspecResultTracker, StoreTracker

S3_CREDENTIALS = {"key": "testing", "secret": "testing"}
_bucket_numbers = itertools.count()


@dataclass
class StoreHarness:
    """A backend under test and ground-truth access to what it stores."""

    name: str
    base: str
    options: dict[str, Any]
    raw_write: Callable[[str, bytes], None]
    raw_read: Callable[[str], bytes | None]
    raw_names: Callable[[], set[str]]
    tracker: StoreTracker = field(init=False)
    #: Documents are kept as text: the store itself refuses bytes that are not UTF-8.
    text_only: bool = False
    #: How ``repr`` shows ``base`` (credentials hidden); ``base`` itself by default.
    shown_base: str = ""
    #: Object stores: the bucket (container) holding ``base``, and the names of
    #: every bucket of the store, read without resulttracker.
    container: str = ""
    raw_containers: Callable[[], set[str]] | None = None

    def __post_init__(self) -> None:
        self.shown_base = self.shown_base or self.base
        self.tracker = self.new_tracker()

    def new_tracker(self, base: str | None = None) -> StoreTracker:
        """Another tracker on the same store (or on ``base``), as another process would open."""
        return FsspecResultTracker(base or self.base, **self.options)

    def isolated_tracker(self) -> StoreTracker:
        """A tracker on a second base of the same kind, sharing nothing with this one."""
        return self.new_tracker(self.base + "-other")

    def missing_container_base(self) -> str:
        """``base`` with its bucket (container) replaced by one that does not exist."""
        assert self.container, f"{self.name} has no buckets"
        missing = f"missing-{os.getpid()}-{next(_bucket_numbers)}"
        return self.base.replace(f"://{self.container}/", f"://{missing}/", 1)

    def location_of(self, key: str) -> str:
        """How the location of ``key`` in error messages ends."""
        return f"base/{key}"


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3 endpoint on loopback: moto's server on a free port."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> tuple[str, Any]:
    """A fresh, empty bucket and a boto3 client for it."""
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    bucket = f"bucket-{os.getpid()}-{next(_bucket_numbers)}"
    client.create_bucket(Bucket=bucket)
    return bucket, client


def s3_options(endpoint: str) -> dict[str, Any]:
    return {**S3_CREDENTIALS, "endpoint_url": endpoint}


def local_harness(folder: Path) -> StoreHarness:
    root = folder / "base"

    def raw_write(key: str, data: bytes) -> None:
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def raw_read(key: str) -> bytes | None:
        path = root / key
        return path.read_bytes() if path.is_file() else None

    def raw_names() -> set[str]:
        if not folder.exists():
            return set()
        return {str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file()}

    return StoreHarness("local", str(root), {}, raw_write, raw_read, raw_names)


def memory_harness(name: str) -> StoreHarness:
    fs = fsspec.filesystem("memory")
    top = f"/{name}"
    root = f"{top}/base"

    def raw_write(key: str, data: bytes) -> None:
        fs.pipe_file(f"{root}/{key}", data)

    def raw_read(key: str) -> bytes | None:
        path = f"{root}/{key}"
        return bytes(fs.cat_file(path)) if fs.isfile(path) else None

    def raw_names() -> set[str]:
        return {path[len(top) + 1 :] for path in fs.find(top)} if fs.exists(top) else set()

    return StoreHarness("memory", f"memory://{root}", {}, raw_write, raw_read, raw_names)


def s3_harness(endpoint: str, bucket: str, client: Any) -> StoreHarness:
    prefix = "base/"

    def raw_write(key: str, data: bytes) -> None:
        client.put_object(Bucket=bucket, Key=prefix + key, Body=data)

    def raw_read(key: str) -> bytes | None:
        try:
            body: bytes = client.get_object(Bucket=bucket, Key=prefix + key)["Body"].read()
        except client.exceptions.NoSuchKey:
            return None
        return body

    def raw_names() -> set[str]:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return {item["Key"] for page in pages for item in page.get("Contents", [])}

    def raw_containers() -> set[str]:
        return {item["Name"] for item in client.list_buckets()["Buckets"]}

    return StoreHarness(
        "s3",
        f"s3://{bucket}/base",
        s3_options(endpoint),
        raw_write,
        raw_read,
        raw_names,
        container=bucket,
        raw_containers=raw_containers,
    )


def _harness(request: pytest.FixtureRequest, tmp_path: Path, name: str) -> Iterator[StoreHarness]:
    if name == "local":
        yield local_harness(tmp_path)
    elif name == "memory":
        root = f"t{os.getpid()}-{next(_bucket_numbers)}"
        yield memory_harness(root)
        memory = fsspec.filesystem("memory")
        if memory.exists(f"/{root}"):
            memory.rm(f"/{root}", recursive=True)
    elif name == "s3":
        endpoint = request.getfixturevalue("s3_endpoint")
        bucket, client = request.getfixturevalue("s3_bucket")
        yield s3_harness(endpoint, bucket, client)
    else:
        from .sql_harness import sql_store  # imports this module: import it late

        yield from sql_store(name, tmp_path)


@pytest.fixture(params=["local", "memory", "s3", "sqlite", "postgres", "mariadb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreHarness]:
    """Each backend in turn, empty."""
    yield from _harness(request, tmp_path, request.param)


@pytest.fixture(params=["local", "memory", "s3"])
def file_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreHarness]:
    """Each fsspec file system in turn, empty: for tests about paths and URLs."""
    yield from _harness(request, tmp_path, request.param)


#: The object stores: each runs the object-store tests (tests/test_object_stores.py).
OBJECT_STORES = ["s3"]


@pytest.fixture(params=OBJECT_STORES)
def object_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreHarness]:
    """Each object store in turn (a real server on loopback), with an empty bucket."""
    yield from _harness(request, tmp_path, request.param)
