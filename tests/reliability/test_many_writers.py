"""Many writer processes at once: nothing lost, nothing torn."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from resulttracker import open_tracker

from .. import workers
from .conftest import scale_for


def spawn_pool(processes: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn"))


def test_16_writers_of_distinct_keys_lose_nothing(shared_base: tuple[str, dict[str, Any]]) -> None:
    base, options = shared_base
    writers, count = 16, scale_for(base, 500, 60)
    with spawn_pool(writers) as pool:
        for future in [
            pool.submit(workers.write_distinct, base, options, writer, count)
            for writer in range(writers)
        ]:
            future.result()
    tracker = open_tracker(base, **options)
    expected = {f"w{w}/k{n}": (w, n) for w in range(writers) for n in range(count)}
    seen = {}
    for record in tracker.scan():
        assert record.results == {
            "writer": expected[record.key][0],
            "number": expected[record.key][1],
            "pad": "x" * 200,
        }
        seen[record.key] = record
    assert len(seen) == writers * count
    assert set(seen) == set(expected)


def test_8_writers_and_2_readers_on_one_key_never_tear(
    shared_base: tuple[str, dict[str, Any]],
) -> None:
    base, options = shared_base
    writers, writes = 8, scale_for(base, 200, 30)
    readers, reads = 2, scale_for(base, 2000, 200)
    with spawn_pool(writers + readers) as pool:
        written = [
            pool.submit(workers.overwrite_one, base, options, writer, writes)
            for writer in range(writers)
        ]
        read = [pool.submit(workers.read_one, base, options, reads) for _ in range(readers)]
        for future in written:
            future.result()
        observations = [results for future in read for results in future.result()]
    assert len(observations) == readers * reads
    for results in observations:  # readers start once the first write has landed
        assert results == workers.consistent_results(results["writer"], results["number"])
    final = open_tracker(base, **options)["shared"]
    assert final == workers.consistent_results(final["writer"], writes - 1)
