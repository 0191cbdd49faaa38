"""Reads at cloud scale (issue 13): scans through a snapshot and the change feed,
side by side with today's plain scan and with torchx reading key by key.

Run from the repository root:

    .venv/bin/python benchmarks/scale.py                       # 20,000 keys on S3 and locally
    .venv/bin/python benchmarks/scale.py --s3-keys 100000 --local-keys 1000000   # the issue's sizes
    .venv/bin/python benchmarks/scale.py --quick               # tiny sizes (CI smoke)
    .venv/bin/python benchmarks/scale.py --s3-keys 0 --local-keys 200000   # the folder only

S3 is moto's server in a child process (``s3_server.py``): the store is filled
through its plain port, then every measured operation goes through the port
that holds each request 20 ms (``--s3-delay-ms``). Requests are counted on the
client (botocore events), by operation. Workloads, all in this one run:

* ``plain scan (today)``: the scan as it was before snapshots, the store's own
  ``scan`` (LIST pages, one GET per key) and a decode per document;
* ``compact``: writing the first snapshot (reads every key once);
* ``cold scan after compact``: a new tracker (as a new process would be) scans
  through the snapshot, with 1 % of the keys rewritten since;
* ``raw listing``: boto3 paging through the listing and nothing else, the
  floor of every scan that lists (moto walks and sorts the whole bucket for each
  page of 1,000, so its listing time grows with the bucket);
* ``torchx key by key``: torchx's ``get`` of each key, one after the other;
  timed on ``--torchx-sample`` keys and extrapolated to all of them;
* ``idle poll``: a change feed's poll when nothing changed;
* ``poll after 10 writes``.

Locally (a temporary folder): the plain scan, ``compact``, and the scan
through the snapshot with 1 % of the keys rewritten, each with a warm page
cache and with the files' contents evicted from it (``posix_fadvise``
``DONTNEED`` on each file, not timed; inodes stay cached, and dropping every
cache would need root and slow every other user of the machine), plus the
peak of Python allocations of each scan (tracemalloc, on a separate run so
that it does not slow the timed one).

The Markdown table is printed and written to ``--output`` (default
``benchmarks/SCALE.md``).
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "src"))

from sample import results_for  # noqa: E402

from resulttracker import FsspecResultTracker  # noqa: E402
from resulttracker.backends.local_versions import RACY_SECONDS  # noqa: E402


def key_for(index: int) -> str:
    return f"sweep/trial-{index:07d}"


def document(index: int, salt: int = 0) -> bytes:
    results = results_for(index)
    results["epoch"] += salt
    return json.dumps(results, indent=2).encode()


def today_scan(tracker: FsspecResultTracker) -> int:
    """The scan as it was before snapshots: the store's own ``scan`` (list, then
    read every document), each document decoded; the number of records."""
    from resulttracker import codec

    return sum(
        1
        for key, document, _ in tracker.store.scan("")
        if document is not None and codec.decode(document, key=key, location=key)
    )


class RequestCounter:
    """Counts the S3 operations one tracker's client sends."""

    def __init__(self, tracker: FsspecResultTracker) -> None:
        self.counts: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()
        tracker.get("warm-up")  # creates the client
        tracker.store.fs.s3.meta.events.register("before-call.s3", self._count)  # type: ignore[attr-defined]

    def _count(self, model: Any, **_: Any) -> None:
        with self._lock:
            self.counts[model.name] += 1

    def take(self) -> str:
        with self._lock:
            counts, self.counts = self.counts, collections.Counter()
        names = {
            "ListObjectsV2": "LIST",
            "GetObject": "GET",
            "HeadObject": "HEAD",
            "PutObject": "PUT",
        }
        return ", ".join(f"{counts[name]} {names.get(name, name)}" for name in sorted(counts))


@contextmanager
def timed(into: dict[str, float], name: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    into[name] = time.perf_counter() - started


def s3_workloads(keys: int, delay_ms: float, torchx_sample: int) -> list[dict[str, Any]]:
    import boto3
    import botocore.config
    from s3_server import CREDENTIALS, S3Endpoints

    endpoints = S3Endpoints(delay_ms / 1000)
    rows: list[dict[str, Any]] = []
    try:
        client = boto3.client(
            "s3",
            endpoint_url=endpoints.plain,
            aws_access_key_id=CREDENTIALS["key"],
            aws_secret_access_key=CREDENTIALS["secret"],
            region_name="us-east-1",
            config=botocore.config.Config(max_pool_connections=32),
        )
        client.create_bucket(Bucket="scale")
        started = time.perf_counter()
        with ThreadPoolExecutor(32) as pool:
            list(
                pool.map(
                    lambda index: client.put_object(
                        Bucket="scale", Key=f"base/{key_for(index)}", Body=document(index)
                    ),
                    range(keys),
                )
            )
        print(f"  filled {keys:,} keys in {time.perf_counter() - started:.0f} s", flush=True)
        options = {**endpoints.options(endpoints.delayed), "skip_instance_cache": True}

        def tracker() -> tuple[FsspecResultTracker, RequestCounter]:
            fresh = FsspecResultTracker("s3://scale/base", **options)
            return fresh, RequestCounter(fresh)

        def row(workload: str, seconds: float, requests: str, note: str = "") -> None:
            rows.append(
                {
                    "workload": workload,
                    "keys": keys,
                    "seconds": seconds,
                    "requests": requests,
                    "note": note,
                }
            )
            print(f"  {workload}: {seconds:.2f} s ({requests}) {note}", flush=True)

        plain, counter = tracker()
        counter.take()
        started = time.perf_counter()
        assert today_scan(plain) == keys
        row("plain scan (today)", time.perf_counter() - started, counter.take())

        started = time.perf_counter()
        report = plain.compact()
        row(
            "compact (first snapshot)",
            time.perf_counter() - started,
            counter.take(),
            f"{report.bytes:,} bytes",
        )

        cold, counter = tracker()
        counter.take()
        started = time.perf_counter()
        assert sum(1 for _ in cold.scan()) == keys
        row(
            "cold scan after compact, nothing changed",
            time.perf_counter() - started,
            counter.take(),
        )

        # The floor of any scan that lists: boto3 paging through the listing and
        # nothing else (moto walks and sorts the whole bucket for every page).
        lister = boto3.client(
            "s3",
            endpoint_url=endpoints.delayed,
            aws_access_key_id=CREDENTIALS["key"],
            aws_secret_access_key=CREDENTIALS["secret"],
            region_name="us-east-1",
        )
        started = time.perf_counter()
        pages = lister.get_paginator("list_objects_v2").paginate(
            Bucket="scale", Prefix="base/", PaginationConfig={"PageSize": 1000}
        )
        listed = sum(len(page.get("Contents", [])) for page in pages)
        assert listed >= keys
        row(
            "raw listing (boto3, every page, nothing else)",
            time.perf_counter() - started,
            f"{math.ceil(listed / 1000)} LIST",
            "the floor of any scan that lists",
        )

        changed = max(1, keys // 100)
        with ThreadPoolExecutor(32) as pool:
            list(
                pool.map(
                    lambda index: client.put_object(
                        Bucket="scale", Key=f"base/{key_for(index)}", Body=document(index, 1)
                    ),
                    range(0, keys, keys // changed),
                )
            )
        cold, counter = tracker()
        counter.take()
        started = time.perf_counter()
        assert sum(1 for _ in cold.scan()) == keys
        row("cold scan after compact, 1 % changed", time.perf_counter() - started, counter.take())

        started = time.perf_counter()
        report = cold.compact()
        row(
            "compact again (incremental)",
            time.perf_counter() - started,
            counter.take(),
            f"{report.read:,} read",
        )

        import fsspec
        from torchx.runtime.tracking import FsspecResultTracker as TorchxTracker

        # torchx takes no storage options: fsspec's per-protocol config gives them
        # to every s3fs instance it creates (as in contestants.py).
        fsspec.config.conf["s3"] = endpoints.options(endpoints.delayed)
        torchx = TorchxTracker("s3://scale/base")
        sample = min(torchx_sample, keys)
        started = time.perf_counter()
        for index in range(sample):
            assert torchx[key_for(index)]
        per_key = (time.perf_counter() - started) / sample
        row(
            "torchx key by key",
            per_key * keys,
            f"~{keys:,} GET",
            f"extrapolated from {sample:,} keys ({per_key * 1000:.1f} ms per key)",
        )

        feed_tracker, counter = tracker()
        feed = feed_tracker.watch()
        started = time.perf_counter()
        assert len(feed.poll()) == keys
        row("first poll (through the snapshot)", time.perf_counter() - started, counter.take())
        started = time.perf_counter()
        assert feed.poll() == []
        row(
            "idle poll",
            time.perf_counter() - started,
            counter.take(),
            f"bound: {math.ceil(keys / 1000) + 2} requests",
        )
        for index in range(10):
            client.put_object(
                Bucket="scale", Key=f"base/{key_for(index * 7)}", Body=document(index * 7, 2)
            )
        started = time.perf_counter()
        assert len(feed.poll()) == 10
        row("poll after 10 writes", time.perf_counter() - started, counter.take())
    finally:
        endpoints.close()
    return rows


def local_workloads(keys: int, scratch: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    folder = tempfile.mkdtemp(prefix="scale-", dir=scratch)
    try:
        base = os.path.join(folder, "base")
        started = time.perf_counter()
        for index in range(keys):
            path = os.path.join(base, key_for(index))
            if index % 1000 == 0:
                os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as file:
                file.write(document(index))
        print(f"  filled {keys:,} files in {time.perf_counter() - started:.0f} s", flush=True)
        time.sleep(RACY_SECONDS + 0.2)  # older than the racy window, as a finished sweep is

        def row(workload: str, seconds: float, note: str = "") -> None:
            rows.append(
                {
                    "workload": workload,
                    "keys": keys,
                    "seconds": seconds,
                    "requests": "",
                    "note": note,
                }
            )
            print(f"  {workload}: {seconds:.2f} s {note}", flush=True)

        def peak(scan: Callable[[], Any]) -> str:
            tracemalloc.start()
            scan()
            peak_bytes = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            return f"peak Python allocations {peak_bytes / 2**20:.0f} MiB"

        def count_all() -> int:
            return sum(1 for _ in FsspecResultTracker(base).scan())

        def count_today() -> int:
            return today_scan(FsspecResultTracker(base))

        def evict() -> None:
            """Drop the store's file contents (not its inodes) from the page cache,
            as after a reboot or on a busy NFS client: a "cold" scan."""
            os.sync()
            for folder_path, _, names in os.walk(base):
                for name in names:
                    fd = os.open(os.path.join(folder_path, name), os.O_RDONLY)
                    try:
                        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                    finally:
                        os.close(fd)

        def timed_scans(label: str, scan: Callable[[], int]) -> None:
            started = time.perf_counter()
            assert scan() == keys
            row(f"{label}, warm cache", time.perf_counter() - started, peak(scan))
            evict()
            started = time.perf_counter()
            assert scan() == keys
            row(f"{label}, file contents not cached", time.perf_counter() - started)

        timed_scans("plain scan (today)", count_today)
        timed_scans("scan, no snapshot yet", count_all)
        started = time.perf_counter()
        report = FsspecResultTracker(base).compact()
        row("compact (first snapshot)", time.perf_counter() - started, f"{report.bytes:,} bytes")
        changed = max(1, keys // 100)
        for index in range(0, keys, keys // changed):
            with open(os.path.join(base, key_for(index)), "r+b") as file:  # in place
                file.write(document(index, 1))
        time.sleep(RACY_SECONDS + 0.2)
        timed_scans("scan with a snapshot, 1 % changed", count_all)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return rows


def table(rows: list[dict[str, Any]], where: str) -> str:
    if not rows:
        return ""
    lines = [
        f"### {where}",
        "",
        "| workload | keys | seconds | requests | note |",
        "|---|---:|---:|---|---|",
    ]
    for row in rows:
        cells = [row["workload"], f"{row['keys']:,}", f"{row['seconds']:.2f}"]
        lines.append("| " + " | ".join([*cells, row["requests"], row["note"]]) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--s3-keys", type=int, default=20_000, help="0: skip S3")
    parser.add_argument("--local-keys", type=int, default=20_000, help="0: skip the folder")
    parser.add_argument("--s3-delay-ms", type=float, default=20.0)
    parser.add_argument("--torchx-sample", type=int, default=300)
    parser.add_argument("--quick", action="store_true", help="Tiny sizes: a smoke run.")
    parser.add_argument("--scratch-dir", default=None)
    parser.add_argument("--output", default=os.path.join(HERE, "SCALE.md"))
    options = parser.parse_args(argv)
    if options.quick:
        options.s3_keys, options.local_keys, options.torchx_sample = 300, 300, 20
    s3_rows: list[dict[str, Any]] = []
    local_rows: list[dict[str, Any]] = []
    if options.s3_keys:
        print(f"S3, {options.s3_keys:,} keys, {options.s3_delay_ms:g} ms per request:", flush=True)
        s3_rows = s3_workloads(options.s3_keys, options.s3_delay_ms, options.torchx_sample)
    if options.local_keys:
        print(f"local folder, {options.local_keys:,} keys:", flush=True)
        scratch = options.scratch_dir or tempfile.gettempdir()
        local_rows = local_workloads(options.local_keys, scratch)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    text = (
        f"## Reads at scale (benchmarks/scale.py), {stamp}\n\n"
        f"Python {platform.python_version()} on {platform.machine()}, "
        f"{os.cpu_count()} cores (shared).\n\n"
        + table(s3_rows, f"S3 (moto, {options.s3_delay_ms:g} ms per request)")
        + "\n"
        + table(local_rows, "Local folder (ext4)")
    )
    print("\n" + text)
    with open(options.output, "w") as file:
        file.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
