"""Writers and deleters of one folder, in separate processes, never fail each other.

A delete prunes the folders it empties, so another process's put may find its
folder gone at any step of its walk (or made again by a third process): it
must make it again, never raise ``FileNotFoundError``. Puts and deletes of one
key from many processes never raise (the last one wins), and a delete never
raises once it has deleted.
"""

from __future__ import annotations

import multiprocessing
import random
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from resulttracker import FsspecResultTracker

from .conftest import scale

#: Seconds every worker runs, all at once.
DURATION = scale(8, 2)


def spawn_pool(processes: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn"))


def _start_together(gate: str, writer: int) -> float:
    """Say this worker is ready, wait until every worker is, and return when to stop."""
    Path(gate, f"ready-{writer}").touch()
    go = Path(gate, "go")
    while not go.exists():
        time.sleep(0.001)
    return time.time() + DURATION


def churn_own_key(base: str, writer: int, gate: str) -> int:
    """Put then delete this writer's own key in a folder shared with the others,
    so that the folder is pruned and made again all the time; return the count."""
    tracker = FsspecResultTracker(base)
    key = f"shared/folder/w{writer}"
    stop = _start_together(gate, writer)
    rounds = 0
    while time.time() < stop:
        tracker[key] = {"writer": writer, "round": rounds}
        # Nobody else deletes this key: it must be there, whole.
        assert tracker[key] == {"writer": writer, "round": rounds}
        assert tracker.delete(key) is True
        rounds += 1
    return rounds


def fight_over_one_key(base: str, writer: int, gate: str) -> int:
    """Put and delete one key that every worker also puts and deletes."""
    tracker = FsspecResultTracker(base)
    rng = random.Random(writer)
    stop = _start_together(gate, writer)
    rounds = 0
    while time.time() < stop:
        if rng.random() < 0.5:
            tracker["one/deep/key"] = {"writer": writer, "round": rounds, "check": writer + rounds}
        else:
            tracker.delete("one/deep/key")
        found = tracker["one/deep/key"]
        assert found == {} or found["check"] == found["writer"] + found["round"]
        rounds += 1
    return rounds


def run_all(base: Path, function: object, workers: int) -> list[int]:
    gate = base.parent / "gate"
    gate.mkdir()
    with spawn_pool(workers) as pool:
        futures = [
            pool.submit(function, str(base), writer, str(gate))  # type: ignore[arg-type]
            for writer in range(workers)
        ]
        deadline = time.monotonic() + 120
        while len(list(gate.glob("ready-*"))) < workers and time.monotonic() < deadline:
            time.sleep(0.01)
        (gate / "go").touch()
        return [future.result() for future in futures]


def test_puts_never_fail_because_a_delete_pruned_their_folder(tmp_path: Path) -> None:
    base = tmp_path / "base"
    rounds = run_all(base, churn_own_key, 4)
    assert all(count > 0 for count in rounds)
    tracker = FsspecResultTracker(base)
    assert list(tracker.keys()) == []
    report = tracker.check()
    assert report.ok
    assert report.empty_folders == []
    assert report.temporary_files == []
    assert list(base.iterdir()) == []  # the last delete pruned everything


def test_puts_and_deletes_of_one_key_never_raise(tmp_path: Path) -> None:
    base = tmp_path / "base"
    rounds = run_all(base, fight_over_one_key, 4)
    assert all(count > 0 for count in rounds)
    tracker = FsspecResultTracker(base)
    found = tracker["one/deep/key"]
    assert found == {} or found["check"] == found["writer"] + found["round"]
    report = tracker.check()
    assert report.ok
    assert report.temporary_files == []
    assert report.empty_folders == []
