"""On-disk compatibility with the real torchx 0.7.0 ``FsspecResultTracker``, both ways."""

from __future__ import annotations

import math
import uuid
from pathlib import Path

import pytest
from torchx.runtime.tracking import FsspecResultTracker as TorchxTracker

from resulttracker import FsspecResultTracker

RESULTS: dict[str, int | float | str] = {
    "l2norm/mean": 1.2,
    "l2norm/sem": 0.03,
    "accuracy": 0.93,
    "epochs": 10,
    "done": True,
    "nan": float("nan"),
    "inf": float("inf"),
    "-inf": float("-inf"),
    "note": "ünïcode ✓",
    "ascii": "plain",
}
# torchx hands int keys straight to fsspec's FSMap, which warns about it.
pytestmark = pytest.mark.filterwarnings("ignore:from fsspec 2023.5 onward FSMap:DeprecationWarning")

KEYS: list[int | str] = [1, "7", "exp/trial7", "exp/trial7/seed0", "attempt_1/out"]


@pytest.fixture(params=["local", "memory"])
def base(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "local":
        return str(tmp_path / "base")
    return f"memory://torchx-{uuid.uuid4().hex}"


def assert_same(got: dict[str, object], expected: dict[str, object]) -> None:
    assert list(got) == list(expected)
    for name, value in expected.items():
        assert type(got[name]) is type(value), name
        if isinstance(value, float) and math.isnan(value):
            assert math.isnan(got[name])  # type: ignore[arg-type]
        else:
            assert got[name] == value, name


@pytest.mark.parametrize("key", KEYS)
def test_torchx_writes_resulttracker_reads(base: str, key: int | str) -> None:
    TorchxTracker(base)[key] = RESULTS
    ours = FsspecResultTracker(base)
    assert_same(ours[key], RESULTS)
    assert_same(ours[str(key)], RESULTS)
    assert list(ours.keys()) == [str(key)]


@pytest.mark.parametrize("key", KEYS)
def test_resulttracker_writes_torchx_reads(base: str, key: int | str) -> None:
    FsspecResultTracker(base)[key] = RESULTS
    assert_same(TorchxTracker(base)[key], RESULTS)
    assert_same(TorchxTracker(base)[str(key)], RESULTS)


def test_missing_keys_agree(base: str) -> None:
    assert TorchxTracker(base)["nope"] == FsspecResultTracker(base)["nope"] == {}


def test_ascii_files_are_byte_identical(tmp_path: Path) -> None:
    results = {"loss/mean": 0.5, "loss/sem": 0.25, "n": 3, "ok": False, "x": float("nan")}
    TorchxTracker(str(tmp_path / "torchx"))["exp/1"] = results
    FsspecResultTracker(tmp_path / "ours")["exp/1"] = results
    written_by_torchx = (tmp_path / "torchx" / "exp" / "1").read_bytes()
    assert (tmp_path / "ours" / "exp" / "1").read_bytes() == written_by_torchx


def test_overwrites_interleave(base: str) -> None:
    theirs, ours = TorchxTracker(base), FsspecResultTracker(base)
    theirs["k"] = {"v": 1}
    ours["k"] = {"v": 2}
    assert theirs["k"] == {"v": 2}
    theirs["k"] = {"w": 3}
    assert ours["k"] == {"w": 3}
