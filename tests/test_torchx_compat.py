"""On-disk compatibility with the real torchx 0.7.0 ``FsspecResultTracker``, both ways."""

from __future__ import annotations

import json
import math
import uuid
from pathlib import Path

import numpy as np
import pytest
from torchx.runtime.tracking import FsspecResultTracker as TorchxTracker

from resulttracker import FsspecResultTracker, copy

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


# -- write strict, read tolerant (issue 12, items 5 and 7) ---------------------------

#: Values torchx's put accepts (any JSON value) that resulttracker's put refuses.
BEYOND_OUR_PUT: list[dict[str, object]] = [
    {"a": None},
    {"curve": [0.5, float("nan"), None, "x", [1, {"b": True}]]},
    {"cfg": {"lr": 0.1, "float": "nan", "nested": {"deeper": [1, 2]}}},
    {},
    {"": 1, "long": "x" * 5000, "n" * 2000: 2},
]


@pytest.mark.parametrize("results", BEYOND_OUR_PUT, ids=["null", "list", "object", "empty", "big"])
def test_what_torchx_puts_we_read_as_torchx_does(base: str, results: dict[str, object]) -> None:
    TorchxTracker(base).put("exp/k", **results)  # type: ignore[arg-type]
    ours = FsspecResultTracker(base)
    expected = TorchxTracker(base).get("exp/k")
    assert json.dumps(ours.get("exp/k")) == json.dumps(expected) == json.dumps(results)
    assert [record.key for record in ours.scan()] == ["exp/k"]
    assert "exp/k" in ours
    assert ours.check().ok


def test_a_copy_of_torchx_documents_reads_back_in_torchx(tmp_path: Path) -> None:
    theirs = TorchxTracker(str(tmp_path / "torchx"))
    for number, results in enumerate(BEYOND_OUR_PUT):
        theirs.put(f"k{number}", **results)  # type: ignore[arg-type]
    copy(FsspecResultTracker(tmp_path / "torchx"), FsspecResultTracker(tmp_path / "copy"))
    again = TorchxTracker(str(tmp_path / "copy"))
    for number in range(len(BEYOND_OUR_PUT)):
        assert json.dumps(again.get(f"k{number}")) == json.dumps(theirs.get(f"k{number}"))
        copied = (tmp_path / "copy" / f"k{number}").read_bytes()
        assert copied == (tmp_path / "torchx" / f"k{number}").read_bytes()


def test_numpy_integer_keys_name_the_same_file(base: str) -> None:
    TorchxTracker(base)[np.int64(7)] = {"v": 1}  # type: ignore[index]
    ours = FsspecResultTracker(base)
    assert ours[np.int64(7)] == ours[7] == {"v": 1}
    ours[np.uint16(8)] = {"v": 2}
    assert TorchxTracker(base)[8] == {"v": 2}
    assert sorted(ours.keys()) == ["7", "8"]
