"""Several processes at once: nothing lost, no torn reads."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from resulttracker import FsspecResultTracker

from . import workers
from .conftest import s3_options


@pytest.fixture(params=["local", "s3"])
def shared_base(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, dict[str, Any]]:
    if request.param == "local":
        return str(tmp_path / "base"), {}
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket, _ = request.getfixturevalue("s3_bucket")
    return f"s3://{bucket}/base", s3_options(endpoint)


def pool(processes: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn"))


def test_many_writers_of_distinct_keys_lose_nothing(
    shared_base: tuple[str, dict[str, Any]],
) -> None:
    base, options = shared_base
    writers, count = 4, 60
    with pool(writers) as executor:
        futures = [
            executor.submit(workers.write_distinct, base, options, writer, count)
            for writer in range(writers)
        ]
        for future in futures:
            future.result()
    tracker = FsspecResultTracker(base, **options)
    expected = {f"w{w}/k{n}": (w, n) for w in range(writers) for n in range(count)}
    assert sorted(tracker.keys()) == sorted(expected)
    for record in tracker.scan():
        assert (record.results["writer"], record.results["number"]) == expected[record.key]


def test_readers_racing_writers_on_one_key_never_see_a_torn_write(
    shared_base: tuple[str, dict[str, Any]],
) -> None:
    base, options = shared_base
    writers, writes, readers, reads = 3, 40, 2, 150
    with pool(writers + readers) as executor:
        written = [
            executor.submit(workers.overwrite_one, base, options, writer, writes)
            for writer in range(writers)
        ]
        seen = [executor.submit(workers.read_one, base, options, reads) for _ in range(readers)]
        for future in written:
            future.result()
        observations = [results for future in seen for results in future.result()]
    assert len(observations) == readers * reads
    complete = 0
    for results in observations:
        if not results:
            continue
        writer, number = results["writer"], results["number"]
        assert results == {
            "writer": writer,
            "number": number,
            **{f"v{i}": writer * 1_000_000 + number for i in range(50)},
        }
        complete += 1
    assert complete > 0
    final = FsspecResultTracker(base, **options)["shared"]
    assert final["number"] == writes - 1  # some writer's last write
