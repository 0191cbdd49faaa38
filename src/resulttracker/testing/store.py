"""``StoreTests``: the conformance suite every store must pass.

Subclass :class:`StoreTests` in a test module, under a name starting with
``Test`` so that pytest collects it, and give it one fixture, ``harness``, that
returns a :class:`~resulttracker.testing.StoreHarness` on a new, empty store::

    class TestMyStore(StoreTests):
        @pytest.fixture
        def harness(self, tmp_path):
            return MyHarness(tmp_path)

Every test goes through the public tracker API and checks the outcome with the
harness's ground-truth helpers. What differs between stores is read from the
store's capability flags and from the harness, never from the backend's name.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar

import pytest
from hypothesis import settings

from ..errors import (
    CorruptResultError,
    InvalidKeyError,
    InvalidResultError,
    KeyConflictError,
    ResultTrackerError,
    WaitTimeoutError,
)
from ..model import Record
from .harness import StoreHarness
from .stateful import run_state_machine

__all__ = ["StoreTests"]

ALL_TYPES: dict[str, Any] = {
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


def same_results(got: Mapping[str, object], expected: Mapping[str, object]) -> bool:
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


def assert_shows_no_credentials(harness: StoreHarness, text: str) -> None:
    for secret in harness.credentials:
        assert secret not in text, f"a credential shows in {text!r}"


BAD_KEYS: list[tuple[object, str]] = [
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
    # int keys obey the length rules of str keys (one path segment), and an int
    # beyond Python's digit limit is refused without being rendered.
    (10**255, "int key 100000000000...0000 of 256 characters is longer than the 255-byte"),
    (-(10**254), "int key -10000000000...0000 of 256 characters is longer than the 255-byte"),
    (10**5000, "int key of about 5001 digits is longer than the 255-byte limit"),
    (-(7**100_000), "int key of about 84510 digits is longer than the 255-byte limit"),
]


def _key_id(key: object) -> str:
    if isinstance(key, int) and key.bit_length() > 64:
        return f"int of {key.bit_length()} bits"
    return repr(key)[:30]


BAD_RESULTS: list[tuple[Any, str, bool]] = [
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
    ({"a": 10**4300}, "an integer of more than 4300 digits", False),
    ({"a": -(10**5000)}, "an integer of more than 4300 digits", False),
    ({"a": 7, "b": 7**100_000}, "an integer of more than 4300 digits", False),
    ({}, "no results given", False),
]

CORRUPT: list[tuple[bytes, str]] = [
    (b'{"a": 1', "not valid JSON"),
    (b"[1, 2]", "found a JSON list"),
    (b'"text"', "found a JSON str"),
    (b"null", "found null"),
    (b'{"a": "\xff"}', "not valid UTF-8"),
    (b"", "not valid JSON"),
    # Documents that cannot be decoded safely.
    (b"[" * 100_000, "nested deeper than 64 levels"),
    (b'{"a": ' * 100_000, "nested deeper than 64 levels"),
    (b'{"a": ' + b"[" * 64 + b"]" * 64 + b"}", "nested deeper than 64 levels"),
    (b'{"a": [' + b",".join([b"[]"] * 100_001) + b"]}", "more than 100000 lists and objects"),
    (b'{"a": ' + b"7" * 4301 + b"}", "an integer has more than 4300 digits"),
    (b'{"a": [1, -' + b"7" * 5000 + b"]}", "an integer has more than 4300 digits"),
    (b'{"a": 1e400}', "the number 1e400 is beyond the range of a float"),
    (b'{"a": Infinity, "b": [-1' + b"0" * 400 + b".5]}", "is beyond the range of a float"),
    (rb'{"a": "x\ud800"}', "result 'a' holds a lone surrogate"),
    (rb'{"a": {"b": ["\udfff"]}}', "result 'a' holds a lone surrogate"),
    (rb'{"\udc00x": 1}', "the result name '\\udc00x' holds a lone surrogate"),
    (rb'{"a": {"\udbff": 1}}', "a name inside result 'a' holds a lone surrogate"),
    (b"\xef\xbb\xbf\xef\xbb\xbf{}", "not valid JSON"),  # one byte order mark is allowed
]

#: Documents torchx 0.7.0's ``put`` writes (``json.dumps(results, indent=2)``) for
#: values outside resulttracker's ``put`` contract, and what other writers may
#: leave; each must read back as torchx's ``get`` (``json.loads``) returns it.
TOLERATED: dict[str, bytes] = {
    "null": json.dumps({"a": None, "b": 1}, indent=2).encode(),
    "list": json.dumps({"curve": [0.5, 0.25, None, "x", True]}, indent=2).encode(),
    "object": json.dumps({"cfg": {"lr": 0.1, "layers": [64, 64]}, "loss": 0.5}, indent=2).encode(),
    "empty document": b"{}",
    "empty name": json.dumps({"": 1, "x": 2}, indent=2).encode(),
    "nan inside a list": b'{"a": [NaN, Infinity, -Infinity], "b": Infinity}',
    "deep but bounded": b'{"a": ' + b"[" * 63 + b"]" * 63 + b"}",
    "big int": b'{"a": -' + b"9" * 4300 + b"}",
    "long float": b'{"a": 0.' + b"3" * 5000 + b', "b": 1e308, "c": 1e-400}',
    "duplicate names": b'{"a": 1, "a": 2}',
    "escaped pair": b'{"\\ud83d\\ude00": "\\ud83d\\ude00"}',
    "byte order mark": b'\xef\xbb\xbf{"a": 1}',
}


def same_json(got: object, expected: object) -> bool:
    """Equal values of the same JSON types, NaN equal to NaN."""
    return json.dumps(got) == json.dumps(expected)


class StoreTests:
    """The conformance suite: subclass it and provide a ``harness`` fixture.

    Attributes
    ----------
    state_machine_settings : hypothesis.settings
        How long the model-based test runs (examples, steps per example);
        lower it for a slow store, raise it to search harder.
    """

    state_machine_settings: ClassVar[settings] = settings(
        max_examples=20, stateful_step_count=15, deadline=None
    )

    @pytest.fixture
    def harness(self) -> StoreHarness:
        """Override: a harness on a new, empty store."""
        raise NotImplementedError(
            f"{type(self).__name__} must define a 'harness' fixture returning a StoreHarness"
        )

    # -- the torchx contract -----------------------------------------------------------------

    def test_put_then_get_round_trips_every_type(self, harness: StoreHarness) -> None:
        harness.tracker.put("exp/trial1", **ALL_TYPES)
        assert same_results(harness.tracker.get("exp/trial1"), ALL_TYPES)
        assert same_results(harness.new_tracker()["exp/trial1"], ALL_TYPES)

    def test_map_syntax_calls_put_and_get(self, harness: StoreHarness) -> None:
        harness.tracker["foo"] = {"l2norm": 1.2}
        assert harness.tracker["foo"]["l2norm"] == 1.2
        assert harness.tracker.get("foo") == {"l2norm": 1.2}

    def test_a_result_may_be_named_key(self, harness: StoreHarness) -> None:
        harness.tracker.put("k", key="value", self=1)
        assert harness.tracker.get("k") == {"key": "value", "self": 1}

    def test_int_key_is_its_str(self, harness: StoreHarness) -> None:
        harness.tracker[1] = {"x": 1}
        assert harness.tracker["1"] == {"x": 1}
        harness.tracker["1"] = {"x": 2}
        assert harness.tracker[1] == {"x": 2}
        assert list(harness.tracker.keys()) == ["1"]

    def test_missing_key_gives_empty_dict(self, harness: StoreHarness) -> None:
        assert harness.tracker.get("never/written") == {}
        assert harness.tracker["never"] == {}
        assert harness.raw_names() == set()

    def test_put_overwrites(self, harness: StoreHarness) -> None:
        harness.tracker["k"] = {"a": 1, "b": 2}
        harness.tracker["k"] = {"c": 3}
        assert harness.tracker["k"] == {"c": 3}
        assert harness.raw_read("k") == b'{\n  "c": 3\n}'

    def test_a_rewritten_key_reads_whole_old_or_new(self, harness: StoreHarness) -> None:
        # What atomic_overwrite promises: never a partial document, never "missing".
        if not harness.store.atomic_overwrite:
            pytest.skip("the store does not promise atomic overwrites (atomic_overwrite unset)")
        small: dict[str, Any] = {"n": 1}
        large: dict[str, Any] = {f"result{number}": number / 7 for number in range(300)}
        harness.tracker["k"] = small
        writer = harness.new_tracker()
        stop = threading.Event()

        def rewrite() -> None:
            while not stop.is_set():
                writer["k"] = large
                writer["k"] = small

        thread = threading.Thread(target=rewrite)
        thread.start()
        try:
            deadline = time.monotonic() + 0.5
            while time.monotonic() < deadline:
                got = harness.tracker.get("k")  # a torn document raises CorruptResultError
                assert got in (small, large)
        finally:
            stop.set()
            thread.join()
        assert harness.tracker["k"] == small

    def test_a_large_document_round_trips(self, harness: StoreHarness) -> None:
        # About 2 MB: no column or object size limit below what the codec accepts bites.
        large = {f"result{number:05d}": "x" * 500 for number in range(4000)}
        harness.tracker["large"] = large
        assert harness.new_tracker()["large"] == large
        stored = harness.raw_read("large")
        assert stored is not None
        assert len(stored) > 2_000_000
        assert harness.tracker.get_many(["large"]) == {"large": large}

    def test_result_order_is_kept(self, harness: StoreHarness) -> None:
        harness.tracker["k"] = {"z": 1, "a": 2, "m": 3}
        assert list(harness.tracker["k"]) == ["z", "a", "m"]

    def test_stored_form_is_the_pretty_json_document(self, harness: StoreHarness) -> None:
        harness.tracker["exp/trial7"] = {"acc/mean": 0.91, "name": "ü"}
        raw = harness.raw_read("exp/trial7")
        assert raw == '{\n  "acc/mean": 0.91,\n  "name": "ü"\n}'.encode()

    def test_documents_written_by_others_are_read(self, harness: StoreHarness) -> None:
        document = json.dumps({"a": 1, "b/mean": float("nan")}, indent=2).encode()
        harness.raw_write("ext/1", document)
        results = harness.tracker["ext/1"]
        assert results["a"] == 1
        assert math.isnan(results["b/mean"])  # type: ignore[arg-type]

    def test_stores_are_isolated(self, harness: StoreHarness) -> None:
        other = harness.isolated_tracker()
        harness.tracker["k"] = {"x": 1}
        other["k"] = {"x": 2}
        assert harness.tracker["k"] == {"x": 1}
        assert list(other.keys()) == ["k"]
        assert harness.raw_read("k") == b'{\n  "x": 1\n}'

    def test_glob_characters_are_literal(self, harness: StoreHarness) -> None:
        keys = ["a*", "a?", "a[1]", "a1", "ab", "[!a]", "{a,b}", "a%", "a_"]
        for key in list(keys):
            before = harness.raw_names()
            try:
                harness.tracker[key] = {"n": 0}
            except InvalidKeyError as error:
                # A store whose client would read the key as something else (adlfs
                # drops a "?" that ends a path) refuses it rather than write elsewhere.
                refused = str(error)
                assert "cannot be stored literally" in refused
                assert harness.raw_names() == before
                keys.remove(key)
        assert "a1" in keys
        for key in keys:
            harness.tracker[key] = {"n": keys.index(key)}
        for number, key in enumerate(keys):
            assert harness.tracker[key] == {"n": number}
        assert harness.tracker.get_many(keys) == {key: {"n": n} for n, key in enumerate(keys)}
        assert sorted(harness.tracker.keys()) == sorted(keys)
        assert list(harness.tracker.keys("a%")) == ["a%"]
        assert list(harness.tracker.keys("a_")) == ["a_"]
        assert harness.tracker.delete("a*")
        assert harness.tracker["a1"] == {"n": keys.index("a1")}

    def test_unusual_but_valid_keys_round_trip(self, harness: StoreHarness) -> None:
        keys = ["~", "~user", "a b", "%2e%2e", "a%2Fb", "ü/ñ", "．．", "a:b", "x#y", "-1"]
        for number, key in enumerate(keys):
            harness.tracker[key] = {"n": number}
        for number, key in enumerate(keys):
            assert harness.tracker[key] == {"n": number}
        assert sorted(harness.tracker.keys()) == sorted(keys)

    def test_a_key_and_keys_below_it_coexist_or_conflict_cleanly(
        self, harness: StoreHarness
    ) -> None:
        # Object stores and databases hold "a" and "a/b" side by side; file systems
        # cannot, and must say so (nested_keys unset) without writing anything.
        harness.tracker["a"] = {"x": 1}
        if harness.store.nested_keys:
            harness.tracker["a/b"] = {"x": 2}
            assert list(harness.tracker.keys()) == ["a", "a/b"]
            assert harness.tracker["a/b"] == {"x": 2}
            assert harness.tracker.delete("a")
            assert list(harness.tracker.keys()) == ["a/b"]
        else:
            before = harness.raw_names()
            with pytest.raises(KeyConflictError, match="'a/b'"):
                harness.tracker["a/b"] = {"x": 2}
            assert harness.raw_names() == before
            assert harness.tracker["a"] == {"x": 1}

    # -- validation: clear errors and nothing written ------------------------------------------

    @pytest.mark.parametrize(("key", "reason"), BAD_KEYS, ids=[_key_id(key) for key, _ in BAD_KEYS])
    def test_bad_keys_are_refused_and_nothing_is_written(
        self, harness: StoreHarness, key: Any, reason: str
    ) -> None:
        tracker = harness.tracker
        attempts: list[Callable[[], object]] = [
            lambda: tracker.put(key, a=1),
            lambda: tracker.__setitem__(key, {"a": 1}),
            lambda: tracker.get(key),
            lambda: tracker.delete(key),
            lambda: tracker.get_many(["fine", key]),
            lambda: tracker.wait(key, timeout=0),
        ]
        for attempt in attempts:
            with pytest.raises(InvalidKeyError, match="key") as caught:
                attempt()
            assert reason in str(caught.value)
            assert len(str(caught.value)) < 400  # a huge key is never rendered whole
            assert isinstance(caught.value, ValueError)
            assert isinstance(caught.value, ResultTrackerError)
        if isinstance(key, int) and not isinstance(key, bool):  # an int prefix too
            loose: Any = tracker  # an int prefix is refused at run time, as the types say
            prefix_attempts: list[Callable[[], object]] = [
                lambda: list(loose.keys(key)),
                lambda: loose.check(key),
            ]
            for prefix_attempt in prefix_attempts:
                with pytest.raises(InvalidKeyError, match="prefix"):
                    prefix_attempt()
        assert harness.raw_names() == set()
        assert key not in tracker

    @pytest.mark.parametrize(
        ("results", "reason", "is_type_error"), BAD_RESULTS, ids=[r for _, r, _ in BAD_RESULTS]
    )
    def test_bad_results_are_refused_and_nothing_is_written(
        self, harness: StoreHarness, results: Any, reason: str, is_type_error: bool
    ) -> None:
        tracker = harness.tracker
        tracker["kept"] = {"old": 1}
        before = harness.raw_names()
        attempts: list[Callable[[], object]] = [
            lambda: tracker.put("new", **results),
            lambda: tracker.__setitem__("new", results),
            lambda: tracker.put("kept", **results),
        ]
        for attempt in attempts:
            with pytest.raises(InvalidResultError) as caught:
                attempt()
            assert reason in str(caught.value)
            assert isinstance(caught.value, TypeError) is is_type_error
        assert harness.raw_names() == before
        assert tracker["kept"] == {"old": 1}
        assert tracker["new"] == {}

    def test_error_names_the_key_and_the_result(self, harness: StoreHarness) -> None:
        with pytest.raises(InvalidResultError, match=r"result 'lr' for key 'exp/3'"):
            harness.tracker.put("exp/3", ok=1, lr=[0.1])  # type: ignore[arg-type]
        assert harness.raw_names() == set()

    def test_non_str_result_names_are_refused(self, harness: StoreHarness) -> None:
        tracker: Any = harness.tracker
        with pytest.raises(InvalidResultError, match="names must be str") as caught:
            tracker["k"] = {1: 2}
        assert isinstance(caught.value, TypeError)
        with pytest.raises(InvalidResultError, match="must be a mapping"):
            tracker["k"] = [("a", 1)]
        assert harness.raw_names() == set()

    def test_numpy_scalars_become_python_types(self, harness: StoreHarness) -> None:
        np = pytest.importorskip("numpy")
        harness.tracker["k"] = {
            "f64": np.float64(0.5),
            "f32": np.float32(0.25),
            "i64": np.int64(3),
            "u8": np.uint8(4),
            "b": np.bool_(True),
            "zero_dim": np.array(2.5),
            "nan": np.float32("nan"),
        }
        got = harness.new_tracker()["k"]
        types = [float, float, int, int, bool, float, float]
        assert [type(value) for value in got.values()] == types
        assert got["f64"] == 0.5
        assert got["i64"] == 3
        assert got["b"] is True
        assert got["zero_dim"] == 2.5
        with pytest.raises(InvalidResultError, match="type ndarray"):
            harness.tracker["k2"] = {"array": np.array([1.0, 2.0])}
        assert harness.tracker["k2"] == {}

    # -- corrupt data ------------------------------------------------------------------------

    @pytest.mark.parametrize(("data", "reason"), CORRUPT, ids=[r for _, r in CORRUPT])
    def test_corrupt_documents_raise_naming_key_and_location(
        self, harness: StoreHarness, data: bytes, reason: str
    ) -> None:
        if harness.text_only and reason == "not valid UTF-8":
            # A store of text refuses such bytes itself: this corruption cannot arise.
            with pytest.raises(Exception, match=r"(?i)UTF-?8|incorrect string value"):
                harness.raw_write("exp/bad", data)
            assert harness.raw_read("exp/bad") is None
            return
        harness.raw_write("exp/bad", data)
        tracker = harness.tracker
        attempts: list[Callable[[], object]] = [
            lambda: tracker.get("exp/bad"),
            lambda: tracker.get_many(["exp/bad"]),
            lambda: list(tracker.scan()),
        ]
        for attempt in attempts:
            with pytest.raises(CorruptResultError) as caught:
                attempt()
            message = str(caught.value)
            assert reason in message
            assert "'exp/bad'" in message
            assert caught.value.key == "exp/bad"
            assert caught.value.location.endswith(harness.location_of("exp/bad"))
            assert_shows_no_credentials(harness, message)
        # Bulk reads report the key and go on with the others.
        tracker["exp/good"] = {"x": 1}
        reported: list[CorruptResultError] = []
        kept = [record.key for record in tracker.scan(on_corrupt=reported.append)]
        assert kept == ["exp/good"]
        assert [error.key for error in reported] == ["exp/bad"]
        assert reason in str(reported[0])
        report = tracker.check()
        assert report.checked == 2
        assert [error.key for error in report.corrupt] == ["exp/bad"]
        assert harness.raw_read("exp/good") == b'{\n  "x": 1\n}'

    # -- read tolerant: what torchx and other writers legitimately store ----------------------

    @pytest.mark.parametrize("name", list(TOLERATED))
    def test_documents_torchx_writes_read_back_as_torchx_reads_them(
        self, harness: StoreHarness, name: str
    ) -> None:
        data = TOLERATED[name]
        expected = json.loads(data.decode("utf-8-sig"))
        harness.raw_write("exp/k", data)
        tracker = harness.tracker
        assert same_json(tracker.get("exp/k"), expected)
        assert same_json(
            tracker.get_many(["exp/k", "exp/missing"]), {"exp/k": expected, "exp/missing": {}}
        )
        records = list(tracker.scan())
        assert [record.key for record in records] == ["exp/k"]
        assert same_json(records[0].results, expected)
        assert list(tracker.keys()) == ["exp/k"]
        assert "exp/k" in tracker
        assert "exp/missing" not in tracker
        assert same_json(tracker.wait("exp/k", timeout=0), expected)
        assert tracker.check().ok
        assert harness.raw_read("exp/k") == data  # reading changes nothing

    def test_an_empty_document_is_a_stored_key(self, harness: StoreHarness) -> None:
        harness.raw_write("done", b"{}")
        harness.raw_write("corrupt", b"{")
        tracker = harness.tracker
        assert tracker.get("done") == {}
        assert "done" in tracker
        assert "corrupt" in tracker  # stored, as keys() lists it; get raises
        tracker.delete("corrupt")
        assert list(tracker.keys()) == ["done"]
        assert len(tracker) == 1
        assert [(r.key, r.results) for r in tracker.scan()] == [("done", {})]
        assert tracker.wait_many(["done"], timeout=0) == {"done": {}}
        with pytest.raises(WaitTimeoutError, match="'other'"):
            tracker.wait_many(["done", "other"], timeout=0)

    def test_put_still_refuses_what_reads_tolerate(self, harness: StoreHarness) -> None:
        for results in ({"a": None}, {"a": [1]}, {"a": {"b": 1}}, {}):
            with pytest.raises(InvalidResultError):
                harness.tracker.put("k", **results)
        assert harness.raw_read("k") is None
        assert list(harness.tracker.keys()) == []

    # -- listing, deletion ---------------------------------------------------------------------

    def test_keys_are_sorted_and_filtered_by_prefix(self, harness: StoreHarness) -> None:
        keys = ["exp10/a", "exp1/t2", "exp1/t10", "exp1/t1/seed0", "exp1-x", "zz", "a", "Z", "é"]
        tracker = harness.tracker
        for key in keys:
            tracker[key] = {"x": 1}
        assert list(tracker.keys()) == sorted(keys)
        assert list(tracker) == sorted(keys)
        assert len(tracker) == len(keys)
        expected = ["exp1/t1/seed0", "exp1/t10", "exp1/t2"]
        assert list(tracker.keys("exp1")) == expected
        assert list(tracker.keys("exp1/")) == expected
        assert list(tracker.keys("exp1/t1")) == ["exp1/t1/seed0"]
        assert list(tracker.keys("zz")) == ["zz"]
        assert list(tracker.keys("nothing")) == []
        assert list(tracker.keys("")) == sorted(keys)

    def test_the_store_lists_and_counts_what_the_tracker_wrote(self, harness: StoreHarness) -> None:
        # The primitives themselves, as the derived methods use them.
        keys = ["b/2", "a", "b/1", "b0", "c/x/y"]
        for key in keys:
            harness.tracker[key] = {"key": key}
        store = harness.store
        listed = list(store.list_keys(""))
        if store.sorted_listing:
            assert listed == sorted(keys)
        assert sorted(listed) == sorted(keys)
        assert sorted(store.list_keys("b")) == ["b/1", "b/2"]
        assert store.count("") == len(keys)
        assert store.count("b") == 2
        assert store.count("nothing") == 0
        assert dict(store.read_many(["a", "missing", "b/1"])) == {
            "a": harness.raw_read("a"),
            "missing": None,
            "b/1": harness.raw_read("b/1"),
        }
        scanned = list(store.scan("b"))
        assert [(key, document) for key, document, _ in scanned] == [
            ("b/1", harness.raw_read("b/1")),
            ("b/2", harness.raw_read("b/2")),
        ]
        assert store.read("missing") is None
        assert store.delete("missing") is False
        assert store.location("a").endswith(harness.location_of("a"))
        assert_shows_no_credentials(harness, store.location("a"))

    def test_bad_prefix_is_refused(self, harness: StoreHarness) -> None:
        with pytest.raises(InvalidKeyError, match=re.escape("prefix '../x'")):
            list(harness.tracker.keys("../x"))
        with pytest.raises(InvalidKeyError, match="prefix"):
            list(harness.tracker.scan(3.5))  # type: ignore[arg-type]

    def test_empty_store_lists_nothing(self, harness: StoreHarness) -> None:
        assert list(harness.tracker.keys()) == []
        assert list(harness.tracker.scan()) == []
        assert len(harness.tracker) == 0

    def test_contains_means_has_results(self, harness: StoreHarness) -> None:
        tracker = harness.tracker
        tracker["k"] = {"x": 1}
        tracker[5] = {"x": 1}
        assert "k" in tracker
        assert 5 in tracker
        assert "5" in tracker
        assert "other" not in tracker
        assert "../bad" not in tracker

    def test_delete(self, harness: StoreHarness) -> None:
        tracker = harness.tracker
        tracker["exp/a"] = {"x": 1}
        tracker["exp/b"] = {"x": 2}
        assert tracker.delete("exp/a") is True
        assert harness.raw_read("exp/a") is None
        assert tracker.delete("exp/a") is False
        assert tracker["exp/a"] == {}
        assert list(tracker.keys()) == ["exp/b"]
        del tracker["exp/b"]
        with pytest.raises(KeyError):
            del tracker["exp/b"]
        assert list(tracker.keys()) == []
        assert tracker.delete("exp") is False  # a prefix is not a key

    def test_get_many(self, harness: StoreHarness) -> None:
        tracker = harness.tracker
        for number in range(30):
            tracker[f"t/{number}"] = {"n": number}
        wanted: list[Any] = [f"t/{n}" for n in range(29, -1, -3)] + ["missing", 0, "t/29"]
        got = tracker.get_many(wanted)
        assert list(got) == [f"t/{n}" for n in range(29, -1, -3)] + ["missing", "0"]
        assert got["t/29"] == {"n": 29}
        assert got["missing"] == {}
        assert got["0"] == {}
        assert tracker.get_many([]) == {}

    def test_get_many_refuses_a_single_string(self, harness: StoreHarness) -> None:
        with pytest.raises(InvalidKeyError, match="collection of keys"):
            harness.tracker.get_many("abc")

    def test_scan_gives_sorted_records(self, harness: StoreHarness) -> None:
        before = datetime.now(timezone.utc) - timedelta(seconds=5)
        tracker = harness.tracker
        for key in ["b/2", "a", "b/1", "c/x/y"]:
            tracker[key] = {"key": key}
        records = list(tracker.scan())
        after = datetime.now(timezone.utc) + timedelta(seconds=5)
        assert [record.key for record in records] == ["a", "b/1", "b/2", "c/x/y"]
        for record in records:
            assert isinstance(record, Record)
            assert record.results == {"key": record.key}
            if harness.store.modification_times:
                assert record.modified is not None
                assert record.modified.tzinfo is not None
                assert before <= record.modified <= after
            else:
                assert record.modified is None
        assert [record.key for record in tracker.scan("b")] == ["b/1", "b/2"]
        assert list(tracker.items("c")) == [("c/x/y", {"key": "c/x/y"})]

    def test_scan_in_several_batches(self, harness: StoreHarness) -> None:
        for number in range(1205):
            harness.raw_write(f"k/{number:05d}", b'{"n": %d}' % number)
        records = list(harness.tracker.scan())
        assert [record.results["n"] for record in records] == list(range(1205))

    # -- freshness ------------------------------------------------------------------------------

    def test_writes_by_others_are_seen_by_a_long_lived_tracker(self, harness: StoreHarness) -> None:
        reader = harness.tracker
        assert list(reader.keys()) == []
        assert reader.get("exp/1") == {}
        harness.raw_write("exp/1", b'{"x": 1}')
        assert list(reader.keys()) == ["exp/1"]
        assert list(reader.keys("exp")) == ["exp/1"]
        assert reader.get("exp/1") == {"x": 1}
        harness.new_tracker()["exp/2"] = {"x": 2}
        assert list(reader.keys("exp")) == ["exp/1", "exp/2"]
        harness.raw_write("exp/1", b'{"x": 3}')
        assert reader.get("exp/1") == {"x": 3}
        assert [record.results for record in reader.scan()] == [{"x": 3}, {"x": 2}]

    # -- waiting ----------------------------------------------------------------------------------

    def test_wait_returns_present_results_at_once(self, harness: StoreHarness) -> None:
        harness.tracker["done"] = {"x": 1}
        assert harness.tracker.wait("done", timeout=0) == {"x": 1}

    def test_wait_blocks_until_another_writer_puts(self, harness: StoreHarness) -> None:
        writer = harness.new_tracker()
        timer = threading.Timer(0.3, lambda: writer.put("late", x=1))
        timer.start()
        started = time.monotonic()
        try:
            assert harness.tracker.wait("late", timeout=10, poll_interval=0.05) == {"x": 1}
        finally:
            timer.join()
        assert 0.25 <= time.monotonic() - started < 5

    def test_wait_times_out_naming_the_key(self, harness: StoreHarness) -> None:
        started = time.monotonic()
        with pytest.raises(WaitTimeoutError, match=r"'never/there'") as caught:
            harness.tracker.wait("never/there", timeout=0.3, poll_interval=0.05)
        assert 0.3 <= time.monotonic() - started < 3
        assert isinstance(caught.value, TimeoutError)
        assert caught.value.missing == ["never/there"]

    def test_wait_many(self, harness: StoreHarness) -> None:
        writer = harness.new_tracker()
        tracker = harness.tracker
        tracker["t/0"] = {"x": 0}

        def write_rest() -> None:
            for number in (1, 2):
                time.sleep(0.1)
                writer[f"t/{number}"] = {"x": number}

        thread = threading.Thread(target=write_rest)
        thread.start()
        try:
            got = tracker.wait_many(["t/2", "t/0", "t/1"], timeout=10, poll_interval=0.05)
        finally:
            thread.join()
        assert got == {"t/2": {"x": 2}, "t/0": {"x": 0}, "t/1": {"x": 1}}
        assert list(got) == ["t/2", "t/0", "t/1"]
        with pytest.raises(WaitTimeoutError, match=r"keys 't/9', 't/8'") as caught:
            tracker.wait_many(["t/0", "t/9", "t/8"], timeout=0.1, poll_interval=0.05)
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
        self, harness: StoreHarness, timeout: Any, poll_interval: Any, error: type[Exception]
    ) -> None:
        with pytest.raises(error, match=r"timeout|poll_interval"):
            harness.tracker.wait("k", timeout=timeout, poll_interval=poll_interval)

    def test_repr_shows_the_store_without_credentials(self, harness: StoreHarness) -> None:
        text = repr(harness.tracker)
        assert harness.shown_base in text
        assert_shows_no_credentials(harness, text)

    # -- corrupt keys in bulk reads: the policy, and check() ------------------------------------

    def test_scan_policy_for_corrupt_keys(
        self, harness: StoreHarness, caplog: pytest.LogCaptureFixture
    ) -> None:
        tracker = harness.tracker
        tracker["a"] = {"x": 1}
        harness.raw_write("b", b"[not, results")
        tracker["c"] = {"x": 3}
        with pytest.raises(CorruptResultError, match="'b'"):
            list(tracker.scan())
        with caplog.at_level("WARNING", logger="resulttracker"):
            assert [record.key for record in tracker.scan(on_corrupt="skip")] == ["a", "c"]
        assert "skipping corrupt key 'b'" in caplog.text
        reported: list[CorruptResultError] = []
        kept = [record.key for record in tracker.scan(on_corrupt=reported.append)]
        assert kept == ["a", "c"]
        assert [error.key for error in reported] == ["b"]
        with pytest.raises(ValueError, match="on_corrupt must be"):
            tracker.scan(on_corrupt="ignore")  # type: ignore[arg-type]

    def test_check_reports_corrupt_keys_and_removes_none(self, harness: StoreHarness) -> None:
        tracker = harness.tracker
        tracker["ok"] = {"x": 1}
        harness.raw_write("bad", b'{"x": 1e999}')
        report = tracker.check()
        assert report.checked == 2
        assert [error.key for error in report.corrupt] == ["bad"]
        assert not report.ok
        assert tracker.check(fix=True, min_age=0).corrupt  # corrupt data is never removed
        assert harness.raw_read("bad") == b'{"x": 1e999}'
        assert tracker.check(prefix="ok").ok

    # -- model-based: random operations agree with a dict -------------------------------------

    def test_random_operations_agree_with_a_dict(self, harness: StoreHarness) -> None:
        run_state_machine(harness, self.state_machine_settings)
