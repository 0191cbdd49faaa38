"""The conformance suite: every backend must pass every test here unchanged."""

from __future__ import annotations

import json
import math
import re
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from resulttracker import (
    CorruptResultError,
    InvalidKeyError,
    InvalidResultError,
    KeyConflictError,
    Record,
    ResultTrackerError,
    WaitTimeoutError,
)

from .conftest import StoreHarness

ALL_TYPES = {
    "int": 7,
    "negative": -3,
    "big": 2**70,
    "float": 0.1,
    "bool_true": True,
    "bool_false": False,
    "nan": float("nan"),
    "inf": float("inf"),
    "-inf": float("-inf"),
    "text": "héllo wörld ✓",
    "empty_text": "",
    "loss/mean": 1.25,
    "loss/sem": 0.5,
}


def same_results(got: dict[str, object], expected: dict[str, object]) -> bool:
    """Equal, NaN equal to NaN, and every value of the same type."""
    if list(got) != list(expected):
        return False
    for name, value in expected.items():
        other = got[name]
        if type(other) is not type(value):
            return False
        if isinstance(value, float) and math.isnan(value):
            if not math.isnan(other):  # type: ignore[arg-type]
                return False
        elif other != value:
            return False
    return True


# -- the torchx contract -------------------------------------------------------------


def test_put_then_get_round_trips_every_type(store: StoreHarness) -> None:
    store.tracker.put("exp/trial1", **ALL_TYPES)
    assert same_results(store.tracker.get("exp/trial1"), ALL_TYPES)
    assert same_results(store.new_tracker()["exp/trial1"], ALL_TYPES)


def test_map_syntax_calls_put_and_get(store: StoreHarness) -> None:
    store.tracker["foo"] = {"l2norm": 1.2}
    assert store.tracker["foo"]["l2norm"] == 1.2
    assert store.tracker.get("foo") == {"l2norm": 1.2}


def test_a_result_may_be_named_key(store: StoreHarness) -> None:
    store.tracker.put("k", key="value", self=1)
    assert store.tracker.get("k") == {"key": "value", "self": 1}


def test_int_key_is_its_str(store: StoreHarness) -> None:
    store.tracker[1] = {"x": 1}
    assert store.tracker["1"] == {"x": 1}
    store.tracker["1"] = {"x": 2}
    assert store.tracker[1] == {"x": 2}
    assert list(store.tracker.keys()) == ["1"]


def test_missing_key_gives_empty_dict(store: StoreHarness) -> None:
    assert store.tracker.get("never/written") == {}
    assert store.tracker["never"] == {}
    assert store.raw_names() == set()


def test_put_overwrites(store: StoreHarness) -> None:
    store.tracker["k"] = {"a": 1, "b": 2}
    store.tracker["k"] = {"c": 3}
    assert store.tracker["k"] == {"c": 3}


def test_result_order_is_kept(store: StoreHarness) -> None:
    store.tracker["k"] = {"z": 1, "a": 2, "m": 3}
    assert list(store.tracker["k"]) == ["z", "a", "m"]


def test_stored_form_is_pretty_json_at_base_slash_key(store: StoreHarness) -> None:
    store.tracker["exp/trial7"] = {"acc/mean": 0.91, "name": "ü"}
    raw = store.raw_read("exp/trial7")
    assert raw == '{\n  "acc/mean": 0.91,\n  "name": "ü"\n}'.encode()


def test_documents_written_by_others_are_read(store: StoreHarness) -> None:
    store.raw_write("ext/1", json.dumps({"a": 1, "b/mean": float("nan")}, indent=2).encode())
    results = store.tracker["ext/1"]
    assert results["a"] == 1
    assert math.isnan(results["b/mean"])  # type: ignore[arg-type]


def test_bases_are_isolated(store: StoreHarness) -> None:
    other = store.isolated_tracker()
    store.tracker["k"] = {"x": 1}
    other["k"] = {"x": 2}
    assert store.tracker["k"] == {"x": 1}
    assert list(other.keys()) == ["k"]


def test_glob_characters_are_literal(store: StoreHarness) -> None:
    keys = ["a*", "a?", "a[1]", "a1", "ab", "[!a]", "{a,b}"]
    if store.name == "azure":
        # adlfs drops a "?" that ends a path: refused, never written as "a".
        with pytest.raises(InvalidKeyError, match="cannot be stored literally"):
            store.tracker["a?"] = {"n": 1}
        assert store.raw_names() == set()
        keys.remove("a?")
    for number, key in enumerate(keys):
        store.tracker[key] = {"n": number}
    for number, key in enumerate(keys):
        assert store.tracker[key] == {"n": number}
    assert store.tracker.get_many(keys) == {key: {"n": n} for n, key in enumerate(keys)}
    assert sorted(store.tracker.keys()) == sorted(keys)
    assert store.tracker.delete("a*")
    assert store.tracker["a1"] == {"n": keys.index("a1")}


def test_unusual_but_valid_keys_round_trip(store: StoreHarness) -> None:
    keys = [
        "~",
        "~user",
        "a b",
        "%2e%2e",
        "a%2Fb",
        "ü/ñ",
        "．．",
        "a:b",
        "x#y",
        "-1",
    ]
    for number, key in enumerate(keys):
        store.tracker[key] = {"n": number}
    for number, key in enumerate(keys):
        assert store.tracker[key] == {"n": number}
    assert sorted(store.tracker.keys()) == sorted(keys)


def test_keys_a_store_cannot_hold_literally_are_refused(store: StoreHarness) -> None:
    # s3fs reads "?versionId=" as an object version; such a key must never be
    # written under another name. Elsewhere it is an ordinary key.
    key = "q?versionId=1"
    if store.name == "s3":
        with pytest.raises(InvalidKeyError, match="cannot be stored literally"):
            store.tracker[key] = {"x": 1}
        assert store.raw_names() == set()
    else:
        store.tracker[key] = {"x": 1}
        assert store.tracker[key] == {"x": 1}
        assert list(store.tracker.keys()) == [key]


def test_a_key_and_keys_below_it_coexist_or_conflict_cleanly(store: StoreHarness) -> None:
    # Object stores hold "a" and "a/b" side by side; file systems cannot, and say so.
    store.tracker["a"] = {"x": 1}
    if store.name in ("local", "memory"):
        with pytest.raises(KeyConflictError, match="'a/b'"):
            store.tracker["a/b"] = {"x": 2}
        assert store.raw_names() == {"base/a"}
    else:
        store.tracker["a/b"] = {"x": 2}
        assert list(store.tracker.keys()) == ["a", "a/b"]
        assert store.tracker["a/b"] == {"x": 2}
    assert store.tracker["a"] == {"x": 1}


# -- validation: clear errors and nothing written ------------------------------------------


BAD_KEYS = [
    ("", "empty"),
    ("/abs", "empty path segment"),
    ("trailing/", "empty path segment"),
    ("a//b", "empty path segment"),
    (".", "'.' path segment"),
    ("..", "'..' path segment"),
    ("../x", "'..' path segment"),
    ("a/../../b", "'..' path segment"),
    ("a/./b", "'.' path segment"),
    ("a\\b", "backslash"),
    ("a\x00b", "control characters"),
    ("a\nb", "control characters"),
    ("a\x7fb", "control characters"),
    ("x" * 1025, "limit is 1024"),
    ("y" * 256, "longer than 255 bytes"),
    ("a/.rttmp-123", "reserved for temporary files"),
    ("\ud800", "UTF-8"),
    (True, "type bool"),
    (1.0, "type float"),
    (None, "type NoneType"),
    (b"bytes", "type bytes"),
    (("a",), "type tuple"),
]


@pytest.mark.parametrize(("key", "reason"), BAD_KEYS, ids=[repr(k)[:30] for k, _ in BAD_KEYS])
def test_bad_keys_are_refused_and_nothing_is_written(
    store: StoreHarness, key: object, reason: str
) -> None:
    for attempt in (
        lambda: store.tracker.put(key, a=1),  # type: ignore[arg-type]
        lambda: store.tracker.__setitem__(key, {"a": 1}),  # type: ignore[arg-type]
        lambda: store.tracker.get(key),  # type: ignore[arg-type]
        lambda: store.tracker.delete(key),  # type: ignore[arg-type]
        lambda: store.tracker.get_many(["fine", key]),  # type: ignore[list-item]
        lambda: store.tracker.wait(key, timeout=0),  # type: ignore[arg-type]
    ):
        with pytest.raises(InvalidKeyError, match="key") as caught:
            attempt()
        assert reason in str(caught.value)
        assert isinstance(caught.value, ValueError)
        assert isinstance(caught.value, ResultTrackerError)
    assert store.raw_names() == set()
    assert key not in store.tracker


BAD_RESULTS = [
    ({"a": None}, "type NoneType", True),
    ({"a": [1, 2]}, "type list", True),
    ({"a": {"b": 1}}, "type dict", True),
    ({"a": object()}, "type object", True),
    ({"a": b"bytes"}, "type bytes", True),
    ({"a": 1 + 2j}, "type complex", True),
    ({"": 1}, "must not be empty", False),
    ({"a": "x" * 1025}, "limit is 1024", False),
    ({"a": "é" * 513}, "limit is 1024", False),
    ({"n" * 1025: 1}, "limit is 1024", False),
    ({"a": "\udc80"}, "UTF-8", False),
    ({}, "no results given", False),
]


@pytest.mark.parametrize(
    ("results", "reason", "is_type_error"), BAD_RESULTS, ids=[r for _, r, _ in BAD_RESULTS]
)
def test_bad_results_are_refused_and_nothing_is_written(
    store: StoreHarness, results: dict[str, object], reason: str, is_type_error: bool
) -> None:
    store.tracker["kept"] = {"old": 1}
    before = store.raw_names()
    for attempt in (
        lambda: store.tracker.put("new", **results),  # type: ignore[arg-type]
        lambda: store.tracker.__setitem__("new", results),
        lambda: store.tracker.put("kept", **results),  # type: ignore[arg-type]
    ):
        with pytest.raises(InvalidResultError) as caught:
            attempt()
        assert reason in str(caught.value)
        assert isinstance(caught.value, TypeError) is is_type_error
    assert store.raw_names() == before
    assert store.tracker["kept"] == {"old": 1}
    assert store.tracker["new"] == {}


def test_error_names_the_key_and_the_result(store: StoreHarness) -> None:
    with pytest.raises(InvalidResultError, match=r"result 'lr' for key 'exp/3'"):
        store.tracker.put("exp/3", ok=1, lr=[0.1])
    assert store.raw_names() == set()


def test_non_str_result_names_are_refused(store: StoreHarness) -> None:
    with pytest.raises(InvalidResultError, match="names must be str") as caught:
        store.tracker["k"] = {1: 2}  # type: ignore[dict-item]
    assert isinstance(caught.value, TypeError)
    with pytest.raises(InvalidResultError, match="must be a mapping"):
        store.tracker["k"] = [("a", 1)]  # type: ignore[assignment]
    assert store.raw_names() == set()


def test_numpy_scalars_become_python_types(store: StoreHarness) -> None:
    np = pytest.importorskip("numpy")
    store.tracker["k"] = {
        "f64": np.float64(0.5),
        "f32": np.float32(0.25),
        "i64": np.int64(3),
        "u8": np.uint8(4),
        "b": np.bool_(True),
        "zero_dim": np.array(2.5),
        "nan": np.float32("nan"),
    }
    got = store.new_tracker()["k"]
    assert [type(value) for value in got.values()] == [float, float, int, int, bool, float, float]
    assert got["f64"] == 0.5
    assert got["i64"] == 3
    assert got["b"] is True
    assert got["zero_dim"] == 2.5
    with pytest.raises(InvalidResultError, match="type ndarray"):
        store.tracker["k2"] = {"array": np.array([1.0, 2.0])}
    assert store.tracker["k2"] == {}


# -- corrupt data ------------------------------------------------------------------------


CORRUPT = [
    (b'{"a": 1', "not valid JSON"),
    (b"[1, 2]", "found a JSON list"),
    (b'"text"', "found a JSON str"),
    (b'{"a": null}', "result 'a' is null"),
    (b'{"a": [1]}', "result 'a' is a JSON list"),
    (b'{"a": {"b": 1}}', "result 'a' is a JSON dict"),
    (b'{"": 1}', "name is empty"),
    (b'{"a": "\xff"}', "not valid UTF-8"),
    (b"", "not valid JSON"),
]


@pytest.mark.parametrize(("data", "reason"), CORRUPT, ids=[r for _, r in CORRUPT])
def test_corrupt_documents_raise_naming_key_and_location(
    store: StoreHarness, data: bytes, reason: str
) -> None:
    if store.text_only and reason == "not valid UTF-8":
        # A store of text refuses such bytes itself: this corruption cannot arise.
        with pytest.raises(Exception, match=r"(?i)UTF-?8|incorrect string value"):
            store.raw_write("exp/bad", data)
        assert store.raw_read("exp/bad") is None
        return
    store.raw_write("exp/bad", data)
    for attempt in (
        lambda: store.tracker.get("exp/bad"),
        lambda: store.tracker.get_many(["exp/bad"]),
        lambda: list(store.tracker.scan()),
    ):
        with pytest.raises(CorruptResultError) as caught:
            attempt()
        message = str(caught.value)
        assert reason in message
        assert "'exp/bad'" in message
        assert caught.value.key == "exp/bad"
        assert caught.value.location.endswith(store.location_of("exp/bad"))
        assert "testing" not in message  # no credentials


# -- listing, deletion ---------------------------------------------------------------------


def test_keys_are_sorted_and_filtered_by_prefix(store: StoreHarness) -> None:
    keys = ["exp10/a", "exp1/t2", "exp1/t10", "exp1/t1/seed0", "exp1-x", "zz", "a"]
    for key in keys:
        store.tracker[key] = {"x": 1}
    assert list(store.tracker.keys()) == sorted(keys)
    assert list(store.tracker) == sorted(keys)
    assert len(store.tracker) == len(keys)
    expected = ["exp1/t1/seed0", "exp1/t10", "exp1/t2"]
    assert list(store.tracker.keys("exp1")) == expected
    assert list(store.tracker.keys("exp1/")) == expected
    assert list(store.tracker.keys("exp1/t1")) == ["exp1/t1/seed0"]
    assert list(store.tracker.keys("zz")) == ["zz"]
    assert list(store.tracker.keys("nothing")) == []
    assert list(store.tracker.keys("")) == sorted(keys)


def test_bad_prefix_is_refused(store: StoreHarness) -> None:
    with pytest.raises(InvalidKeyError, match=re.escape("prefix '../x'")):
        list(store.tracker.keys("../x"))
    with pytest.raises(InvalidKeyError, match="prefix"):
        list(store.tracker.scan(3.5))  # type: ignore[arg-type]


def test_empty_store_lists_nothing(store: StoreHarness) -> None:
    assert list(store.tracker.keys()) == []
    assert list(store.tracker.scan()) == []
    assert len(store.tracker) == 0


def test_contains_means_has_results(store: StoreHarness) -> None:
    store.tracker["k"] = {"x": 1}
    store.tracker[5] = {"x": 1}
    assert "k" in store.tracker
    assert 5 in store.tracker
    assert "5" in store.tracker
    assert "other" not in store.tracker
    assert "../bad" not in store.tracker


def test_delete(store: StoreHarness) -> None:
    store.tracker["exp/a"] = {"x": 1}
    store.tracker["exp/b"] = {"x": 2}
    assert store.tracker.delete("exp/a") is True
    assert store.tracker.delete("exp/a") is False
    assert store.tracker["exp/a"] == {}
    assert list(store.tracker.keys()) == ["exp/b"]
    del store.tracker["exp/b"]
    with pytest.raises(KeyError):
        del store.tracker["exp/b"]
    assert list(store.tracker.keys()) == []
    assert store.tracker.delete("exp") is False  # a prefix is not a key


def test_get_many(store: StoreHarness) -> None:
    for number in range(30):
        store.tracker[f"t/{number}"] = {"n": number}
    wanted = [f"t/{n}" for n in range(29, -1, -3)] + ["missing", 0, "t/29"]
    got = store.tracker.get_many(wanted)  # type: ignore[arg-type]
    assert list(got) == [f"t/{n}" for n in range(29, -1, -3)] + ["missing", "0"]
    assert got["t/29"] == {"n": 29}
    assert got["missing"] == {}
    assert got["0"] == {}
    assert store.tracker.get_many([]) == {}


def test_get_many_refuses_a_single_string(store: StoreHarness) -> None:
    with pytest.raises(InvalidKeyError, match="collection of keys"):
        store.tracker.get_many("abc")


def test_scan_gives_sorted_records_with_modified_times(store: StoreHarness) -> None:
    before = datetime.now(timezone.utc) - timedelta(seconds=5)
    for key in ["b/2", "a", "b/1", "c/x/y"]:
        store.tracker[key] = {"key": key}
    records = list(store.tracker.scan())
    after = datetime.now(timezone.utc) + timedelta(seconds=5)
    assert [record.key for record in records] == ["a", "b/1", "b/2", "c/x/y"]
    for record in records:
        assert isinstance(record, Record)
        assert record.results == {"key": record.key}
        assert record.modified is not None
        assert record.modified.tzinfo is not None
        assert before <= record.modified <= after
    assert [record.key for record in store.tracker.scan("b")] == ["b/1", "b/2"]
    assert list(store.tracker.items("c")) == [("c/x/y", {"key": "c/x/y"})]


def test_scan_in_several_batches(store: StoreHarness) -> None:
    for number in range(1205):
        store.raw_write(f"k/{number:05d}", b'{"n": %d}' % number)
    records = list(store.tracker.scan())
    assert [record.results["n"] for record in records] == list(range(1205))


def test_record_is_constructible() -> None:
    record = Record(key="k", results={"a": 1}, modified=None)
    assert (record.key, record.results, record.modified) == ("k", {"a": 1}, None)


# -- freshness ------------------------------------------------------------------------------


def test_writes_by_others_are_seen_by_a_long_lived_tracker(store: StoreHarness) -> None:
    reader = store.tracker
    assert list(reader.keys()) == []
    assert reader.get("exp/1") == {}
    store.raw_write("exp/1", b'{"x": 1}')
    assert list(reader.keys()) == ["exp/1"]
    assert list(reader.keys("exp")) == ["exp/1"]
    assert reader.get("exp/1") == {"x": 1}
    store.new_tracker()["exp/2"] = {"x": 2}
    assert list(reader.keys("exp")) == ["exp/1", "exp/2"]
    store.raw_write("exp/1", b'{"x": 3}')
    assert reader.get("exp/1") == {"x": 3}
    assert [r.results for r in reader.scan()] == [{"x": 3}, {"x": 2}]


# -- waiting ----------------------------------------------------------------------------------


def test_wait_returns_present_results_at_once(store: StoreHarness) -> None:
    store.tracker["done"] = {"x": 1}
    assert store.tracker.wait("done", timeout=0) == {"x": 1}


def test_wait_blocks_until_another_writer_puts(store: StoreHarness) -> None:
    writer = store.new_tracker()
    timer = threading.Timer(0.3, lambda: writer.put("late", x=1))
    timer.start()
    started = time.monotonic()
    try:
        assert store.tracker.wait("late", timeout=10, poll_interval=0.05) == {"x": 1}
    finally:
        timer.join()
    assert 0.25 <= time.monotonic() - started < 5


def test_wait_times_out_naming_the_key(store: StoreHarness) -> None:
    started = time.monotonic()
    with pytest.raises(WaitTimeoutError, match=r"'never/there'") as caught:
        store.tracker.wait("never/there", timeout=0.3, poll_interval=0.05)
    assert 0.3 <= time.monotonic() - started < 3
    assert isinstance(caught.value, TimeoutError)
    assert caught.value.missing == ["never/there"]


def test_wait_many(store: StoreHarness) -> None:
    writer = store.new_tracker()
    store.tracker["t/0"] = {"x": 0}

    def write_rest() -> None:
        for number in (1, 2):
            time.sleep(0.1)
            writer[f"t/{number}"] = {"x": number}

    thread = threading.Thread(target=write_rest)
    thread.start()
    try:
        got = store.tracker.wait_many(["t/2", "t/0", "t/1"], timeout=10, poll_interval=0.05)
    finally:
        thread.join()
    assert got == {"t/2": {"x": 2}, "t/0": {"x": 0}, "t/1": {"x": 1}}
    assert list(got) == ["t/2", "t/0", "t/1"]
    with pytest.raises(WaitTimeoutError, match=r"keys 't/9', 't/8'") as caught:
        store.tracker.wait_many(["t/0", "t/9", "t/8"], timeout=0.1, poll_interval=0.05)
    assert caught.value.missing == ["t/9", "t/8"]


@pytest.mark.parametrize(
    ("timeout", "poll_interval", "error"),
    [
        (-1, 0.5, ValueError),
        (1, 0, ValueError),
        ("1", 0.5, TypeError),
        (float("nan"), 1, TypeError),
    ],
)
def test_wait_checks_its_arguments(
    store: StoreHarness, timeout: object, poll_interval: object, error: type[Exception]
) -> None:
    with pytest.raises(error, match=r"timeout|poll_interval"):
        store.tracker.wait("k", timeout=timeout, poll_interval=poll_interval)  # type: ignore[arg-type]


def test_repr_shows_the_base_without_credentials(store: StoreHarness) -> None:
    text = repr(store.tracker)
    assert store.shown_base in text
    assert "testing" not in text


# -- corrupt keys in bulk reads: the policy, and check() ------------------------------------


def test_scan_policy_for_corrupt_keys(
    store: StoreHarness, caplog: pytest.LogCaptureFixture
) -> None:
    store.tracker["a"] = {"x": 1}
    store.raw_write("b", b"[not, results")
    store.tracker["c"] = {"x": 3}
    with pytest.raises(CorruptResultError, match="'b'"):
        list(store.tracker.scan())
    with caplog.at_level("WARNING", logger="resulttracker"):
        assert [r.key for r in store.tracker.scan(on_corrupt="skip")] == ["a", "c"]
    assert "skipping corrupt key 'b'" in caplog.text
    reported: list[CorruptResultError] = []
    kept = [r.key for r in store.tracker.scan(on_corrupt=reported.append)]
    assert kept == ["a", "c"]
    assert [error.key for error in reported] == ["b"]
    with pytest.raises(ValueError, match="on_corrupt must be"):
        store.tracker.scan(on_corrupt="ignore")  # type: ignore[arg-type]


def test_check_reports_corrupt_keys_and_fixes_nothing_it_should_not(store: StoreHarness) -> None:
    store.tracker["ok"] = {"x": 1}
    store.raw_write("bad", b'{"x": null}')
    report = store.tracker.check()
    assert report.checked == 2
    assert [error.key for error in report.corrupt] == ["bad"]
    assert not report.ok
    assert store.tracker.check(fix=True, min_age=0).corrupt  # corrupt data is never removed
    assert store.raw_read("bad") == b'{"x": null}'
    assert store.tracker.check(prefix="ok").ok
