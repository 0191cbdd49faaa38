"""``resulttracker.copy``: exact copies between backends, and what it refuses to overwrite."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

import resulttracker
from resulttracker import CopyReport, FsspecResultTracker, InvalidKeyError, transfer
from resulttracker.transfer import same_results

from .conftest import StoreHarness, s3_harness

#: Every kind of value a result can hold, with the awkward floats.
AWKWARD: dict[str, Any] = {
    "nan": math.nan,
    "inf": math.inf,
    "-inf": -math.inf,
    "negative zero": -0.0,
    "zero": 0.0,
    "tiny": 5e-324,
    "huge": 1.7976931348623157e308,
    "third": 1 / 3,
    "int": 7,
    "big int": 2**80,
    "true": True,
    "false": False,
    "text": 'ünïcödé ✓ "quoted"',
    "empty text": "",
    "looks like a number": "1.5",
    "acc/mean": 0.91,
    "acc/sem": 0.01,
}


def _fill(tracker: FsspecResultTracker) -> dict[str, dict[str, Any]]:
    contents = {
        "exp/trial1": AWKWARD,
        "exp/trial2": {"loss": 0.5, "seed": 2},
        "exp/trial10": {"loss": math.nan},
        "exp10/other": {"loss": 1},
        "7": {"only": "one"},
    }
    for key, results in contents.items():
        tracker.put(key, **results)
    return contents


def _assert_identical(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    assert same_results(actual, expected), (actual, expected)


def test_copy_to_every_backend_is_exact(store: StoreHarness, tmp_path: Path) -> None:
    source = FsspecResultTracker(tmp_path / "source")
    contents = _fill(source)

    report = resulttracker.copy(source, store.tracker)

    assert report == CopyReport(copied=len(contents))
    assert report.complete
    assert report.read == len(contents)
    for key, results in contents.items():
        _assert_identical(store.tracker.get(key), results)
        # The stored bytes are the same too: the destination holds a faithful copy.
        assert store.raw_read(key) == (tmp_path / "source" / key).read_bytes()


def test_folder_to_s3_and_back_round_trips(
    tmp_path: Path, s3_endpoint: str, s3_bucket: tuple[str, Any]
) -> None:
    folder = FsspecResultTracker(tmp_path / "first")
    contents = _fill(folder)
    s3 = s3_harness(s3_endpoint, *s3_bucket)
    back = FsspecResultTracker(tmp_path / "second")

    assert resulttracker.copy(folder, s3.tracker).copied == len(contents)
    assert resulttracker.copy(s3.tracker, back).copied == len(contents)

    assert list(back.keys()) == sorted(contents)
    for key, results in contents.items():
        _assert_identical(back.get(key), results)
        value = back.get(key)
        for name, expected in results.items():
            assert type(value[name]) is type(expected)
    assert math.copysign(1.0, back.get("exp/trial1")["negative zero"]) == -1.0


def test_prefix_selects_whole_segments(tmp_path: Path) -> None:
    source = FsspecResultTracker(tmp_path / "source")
    _fill(source)
    destination = FsspecResultTracker(tmp_path / "destination")

    report = resulttracker.copy(source, destination, prefix="exp")

    assert report.copied == 3
    assert list(destination.keys()) == ["exp/trial1", "exp/trial10", "exp/trial2"]


def test_present_keys_are_kept_and_reported_unless_overwrite(tmp_path: Path) -> None:
    source = FsspecResultTracker(tmp_path / "source")
    source["same"] = {"loss": 0.5}
    source["differs"] = {"loss": 0.5}
    source["new"] = {"loss": 0.5}
    source["type differs"] = {"loss": 1}
    destination = FsspecResultTracker(tmp_path / "destination")
    destination["same"] = {"loss": 0.5}
    destination["differs"] = {"loss": 0.7, "extra": "kept"}
    destination["type differs"] = {"loss": 1.0}
    destination["only here"] = {"x": 1}

    report = resulttracker.copy(source, destination)

    assert report.copied == 1
    assert report.unchanged == 1
    assert report.conflicts == ["differs", "type differs"]
    assert not report.complete
    assert destination["differs"] == {"loss": 0.7, "extra": "kept"}
    assert type(destination["type differs"]["loss"]) is float
    assert destination["new"] == {"loss": 0.5}

    again = resulttracker.copy(source, destination, overwrite=True)

    assert again.copied == 2
    assert again.unchanged == 2
    assert again.complete
    assert destination["differs"] == {"loss": 0.5}
    assert type(destination["type differs"]["loss"]) is int
    assert destination["only here"] == {"x": 1}  # never touched


def test_corrupt_documents_are_reported_not_copied(tmp_path: Path) -> None:
    source = FsspecResultTracker(tmp_path / "source")
    source["good"] = {"loss": 0.5}
    (tmp_path / "source" / "bad").write_text("{not json")
    destination = FsspecResultTracker(tmp_path / "destination")
    destination["good"] = {"loss": 0.1}
    (tmp_path / "destination").mkdir(exist_ok=True)

    report = resulttracker.copy(source, destination)

    assert report.corrupt == ["bad"]
    assert report.conflicts == ["good"]
    assert not (tmp_path / "destination" / "bad").exists()


def test_a_corrupt_destination_is_a_conflict_until_overwritten(tmp_path: Path) -> None:
    source = FsspecResultTracker(tmp_path / "source")
    source["a"] = {"loss": 0.5}
    source["b"] = {"loss": 0.6}
    destination = FsspecResultTracker(tmp_path / "destination")
    destination["b"] = {"loss": 0.6}
    (tmp_path / "destination" / "a").write_text("[1, 2]")

    report = resulttracker.copy(source, destination)

    assert report.conflicts == ["a"]
    assert report.unchanged == 1
    assert (tmp_path / "destination" / "a").read_text() == "[1, 2]"
    assert resulttracker.copy(source, destination, overwrite=True).copied == 1
    assert destination["a"] == {"loss": 0.5}


def test_many_batches_and_progress(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transfer, "BATCH_SIZE", 3)
    source = FsspecResultTracker(tmp_path / "source")
    for number in range(10):
        source[f"k/{number}"] = {"n": number}
    destination = FsspecResultTracker(tmp_path / "destination")
    destination["k/4"] = {"n": -1}
    seen: list[int] = []

    report = resulttracker.copy(source, destination, progress=lambda done: seen.append(done.read))

    assert report.copied == 9
    assert report.conflicts == ["k/4"]
    assert seen == list(range(1, 11))
    assert destination["k/9"] == {"n": 9}


def test_invalid_prefix_reads_and_writes_nothing(tmp_path: Path) -> None:
    source = FsspecResultTracker(tmp_path / "source")
    source["a"] = {"x": 1}
    destination = FsspecResultTracker(tmp_path / "destination")

    with pytest.raises(InvalidKeyError, match="empty path segment"):
        resulttracker.copy(source, destination, prefix="a//b")

    assert not (tmp_path / "destination").exists()


def test_copy_onto_itself_changes_nothing(tmp_path: Path) -> None:
    tracker = FsspecResultTracker(tmp_path / "one")
    contents = _fill(tracker)
    before = {key: (tmp_path / "one" / key).stat().st_mtime_ns for key in contents}

    report = resulttracker.copy(tracker, FsspecResultTracker(tmp_path / "one"))

    assert report == CopyReport(unchanged=len(contents))
    assert before == {key: (tmp_path / "one" / key).stat().st_mtime_ns for key in contents}


@pytest.mark.parametrize(
    ("left", "right", "same"),
    [
        ({"x": 1}, {"x": 1}, True),
        ({"x": 1}, {"x": 1.0}, False),
        ({"x": 1}, {"x": True}, False),
        ({"x": math.nan}, {"x": math.nan}, True),
        ({"x": math.nan}, {"x": 0.0}, False),
        ({"x": 0.0}, {"x": -0.0}, False),
        ({"x": math.inf}, {"x": math.inf}, True),
        ({"x": "1"}, {"x": 1}, False),
        ({"x": 1}, {"x": 1, "y": 2}, False),
    ],
)
def test_same_results(left: dict[str, Any], right: dict[str, Any], same: bool) -> None:
    assert same_results(left, right) is same
    assert same_results(right, left) is same
