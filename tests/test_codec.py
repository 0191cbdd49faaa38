"""The codec alone: whatever bytes a store holds, decode returns results as
torchx would or raises CorruptResultError naming the key — never another
exception — and what it returns is safe to use (print, re-encode, pickle)."""

from __future__ import annotations

import json
import math
import pickle
import sys
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resulttracker import codec
from resulttracker.errors import CorruptResultError

KEY = "exp/k"


def decode(data: bytes) -> Any:
    return codec.decode(data, key=KEY, location="somewhere/exp/k")


def assert_safe(results: dict[str, Any]) -> None:
    """What decode returns can be written back, printed and spooled."""
    data = codec.encode_stored(results, key=KEY)
    assert json.dumps(decode(data)) == json.dumps(results)
    pickle.loads(pickle.dumps(results))
    for name in results:
        name.encode("utf-8")


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200))
def test_any_bytes_decode_or_are_corrupt(data: bytes) -> None:
    try:
        results = decode(data)
    except CorruptResultError as error:
        assert error.key == KEY
        assert "'exp/k'" in str(error)
    else:
        assert type(results) is dict
        assert_safe(results)


JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=20,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.text(max_size=10), JSON_VALUES, max_size=6), st.booleans())
def test_what_torchx_writes_reads_back_as_torchx_reads_it(
    results: dict[str, Any], ascii_only: bool
) -> None:
    # torchx's put: json.dumps(results, indent=2); its get: json.loads.
    try:
        data = json.dumps(results, indent=2, ensure_ascii=ascii_only).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: UTF-8 cannot hold it unescaped
        return
    expected = json.loads(data.decode("utf-8"))
    try:
        got = decode(data)
    except CorruptResultError as error:
        # Only a lone surrogate (escaped by ensure_ascii) is refused here.
        assert "lone surrogate" in error.reason, error.reason
        return
    assert json.dumps(got) == json.dumps(expected)
    assert_safe(got)


@pytest.mark.parametrize(
    "data",
    [
        b"[" * 1_000_000,
        b'{"a":' * 1_000_000,
        b'{"a": [' + b"[]," * 5_000_000 + b"[]]}",
        b'{"a": ' + b"9" * 15_000_000 + b"}",
        b'{"a": 0.' + b"9" * 15_000_000 + b"e999}",
        b'{"a": "' + b"\\ud800" * 2_000_000 + b'"}',
    ],
    ids=["deep lists", "deep objects", "many lists", "huge int", "huge float", "surrogates"],
)
@pytest.mark.slow
def test_hostile_documents_near_the_size_limit_fail_fast(data: bytes) -> None:
    assert len(data) <= codec.MAX_DOCUMENT_BYTES
    started = time.perf_counter()
    with pytest.raises(CorruptResultError, match="'exp/k'"):
        decode(data)
    assert time.perf_counter() - started < 5


@pytest.mark.parametrize(
    "data",
    [
        b'{"a": "\xed\xa0\x80"}',  # a surrogate encoded as UTF-8 bytes (MariaDB stores it)
        b'{"a": "\xc0\xaf"}',  # an overlong "/"
        b'{"a": "\xf4\x90\x80\x80"}',  # beyond U+10FFFF
        b"\xff\xfe{\x00}\x00",  # UTF-16 with its byte order mark
    ],
)
def test_bytes_that_are_not_utf8_are_corrupt(data: bytes) -> None:
    with pytest.raises(CorruptResultError, match="not valid UTF-8"):
        decode(data)


def test_the_interpreters_own_digit_limit_does_not_matter() -> None:
    document = b'{"a": ' + b"7" * 5000 + b"}"
    before = sys.get_int_max_str_digits()
    for limit in (0, 100_000):  # unlimited, or raised: the codec keeps its own limit
        sys.set_int_max_str_digits(limit)
        try:
            with pytest.raises(CorruptResultError, match="more than 4300 digits"):
                decode(document)
            assert decode(b'{"a": ' + b"7" * 4300 + b"}")["a"] % 10 == 7
            assert decode(b'{"a": Infinity}')["a"] == math.inf
        finally:
            sys.set_int_max_str_digits(before)


def test_put_side_limits_match_read_side_limits() -> None:
    # Everything encode writes, decode reads: the largest int, NaN and the infinities.
    results = {"big": -(10**4299), "nan": math.nan, "inf": math.inf, "text": "é\u202e"}
    got = decode(codec.encode(results, key=KEY))
    assert json.dumps(got) == json.dumps(results)


# -- the fast path: the same answer as the full one, for every document ---------------------


def full_path(data: bytes) -> tuple[str, str]:
    """What the full path (every check made) says of ``data``."""
    try:
        results = codec._decode(data, KEY, "somewhere/exp/k")
    except CorruptResultError as error:
        return "corrupt", error.reason
    return "results", repr_exact(results)


def either_path(data: bytes | str) -> tuple[str, str]:
    """What ``decode`` (fast path first) says of ``data``."""
    try:
        results = codec.decode(data, key=KEY, location="somewhere/exp/k")
    except CorruptResultError as error:
        return "corrupt", error.reason
    return "results", repr_exact(results)


def repr_exact(results: Any) -> str:
    # json.dumps tells 1 from 1.0 and -0.0 from 0.0, and writes NaN as a word
    # (NaN != NaN would make equal results compare unequal).
    assert type(results) is dict
    return json.dumps(results)


def assert_paths_agree(data: bytes) -> None:
    assert either_path(data) == full_path(data), data[:200]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return
    # The text of a document, as a database driver hands it back, reads as its bytes.
    assert either_path(text) == full_path(data), data[:200]


# Pieces that each defeat one of the fast path's shortcuts, or come close to.
HOSTILE_PIECES = [
    "1e400",
    "-1e400",
    "1E400",
    "1e308",
    "1.8e308",
    "2e308",
    "1e-400",
    "1e-05",
    "0.001",
    "9" * 309,
    "9" * 308 + ".5",
    "-" + "9" * 400,
    "7" * 4300,
    "7" * 4301,
    "1" + "0" * 5000,
    "Infinity",
    "-Infinity",
    "NaN",
    '"Infinity"',
    '"1e400"',
    '"\\ud800"',
    '"\\udfff"',
    '"\\ud800\\udc00"',
    '"\\u00e9"',
    '"\\\\ud800"',
    '"{"',
    '"["',
    '"{[{["',
    '"}"',
    "null",
    "true",
    "[]",
    "{}",
    '"\\u0000"',
    '"é"',
    '"\\"{"',
]

hostile_value = st.recursive(
    st.sampled_from(HOSTILE_PIECES) | st.integers().map(str) | st.floats().map(json.dumps),
    lambda inner: (
        st.lists(inner, max_size=3).map(lambda items: "[" + ", ".join(items) + "]")
        | st.lists(
            st.tuples(
                st.sampled_from([piece for piece in HOSTILE_PIECES if piece.startswith('"')])
                | st.just('"a"'),
                inner,
            ),
            max_size=3,
        ).map(lambda pairs: "{" + ", ".join(f"{name}: {value}" for name, value in pairs) + "}")
    ),
    max_leaves=12,
)
hostile_name = st.sampled_from(['"a"', '"{"', '"["', '"\\ud800"', '"Infinity"', '""', '"a{b"'])


@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(hostile_name, hostile_value), max_size=5),
    st.sampled_from(["", " ", "\n", "\ufeff", "}", ","]),
    st.sampled_from(["", " ", "\n", "}", ",", "x"]),
    st.sampled_from([", ", ",\n  ", ","]),
)
def test_fast_path_agrees_with_full_path_on_hostile_documents(
    pairs: list[tuple[str, str]], before: str, after: str, separator: str
) -> None:
    body = "{" + separator.join(f"{name}: {value}" for name, value in pairs) + "}"
    assert_paths_agree((before + body + after).encode("utf-8"))


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.text(max_size=10), JSON_VALUES, max_size=6), st.booleans())
def test_fast_path_agrees_with_full_path_on_written_documents(
    results: dict[str, Any], ascii_only: bool
) -> None:
    try:
        data = json.dumps(results, indent=2, ensure_ascii=ascii_only).encode("utf-8")
    except UnicodeEncodeError:
        return
    assert_paths_agree(data)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200).map(lambda tail: b"{" + tail))
def test_fast_path_agrees_with_full_path_on_any_bytes(data: bytes) -> None:
    assert_paths_agree(data)


@pytest.mark.parametrize(
    "data",
    [
        b"{" + b'"a": [' * 63 + b"1" + b"]" * 63 + b"}",  # depth 64: the limit
        b"{" + b'"a": [' * 64 + b"1" + b"]" * 64 + b"}",  # depth 65: one too deep
        b"{" + b'"a": {' * 64 + b"}" * 64 + b"}",
        b'{"a": [' + b"[], " * 70 + b"[]]}",  # many containers, shallow
        b'{"a": "' + b"{" * 100 + b'"}',  # brackets inside a string only
        b'{"a": 1e400}',
        b'{"a": -1e400}',
        b'{"a": 1E400}',
        b'{"a": [1e400]}',
        b'{"a": {"b": -1E400}}',
        b'{"a": Infinity, "b": 1e5}',
        b'{"a": [Infinity], "b": 1e5}',
        b'{"a": [-Infinity]}',
        b'{"Infinity": "Infinity"}',
        b'{"a": "\\ud800"}',
        b'{"\\ud800": 1}',
        b'{"a": ["\\udc00"]}',
        b'{"a": ' + b"7" * 4300 + b"}",
        b'{"a": ' + b"7" * 4301 + b"}",
        b'{"a": 1} ',
        b'{"a": 1}\n',
        b'{"a": 1}{}',
        b'{"a": 1',
        b"\xef\xbb\xbf" + b'{"a": 1}',
        b'{"a": 1, "a": 2}',
        b"{}",
        b"{" + b" " * 70_000 + b"}",  # over the fast path's size
    ],
)
def test_fast_path_agrees_with_full_path_on_edge_documents(data: bytes) -> None:
    assert_paths_agree(data)


def test_fast_path_agrees_whatever_the_interpreters_digit_limit() -> None:
    before = sys.get_int_max_str_digits()
    documents = [b'{"a": ' + b"7" * 4301 + b"}", b'{"a": 1e400, "b": x}', b'{"a": 1e400}']
    for limit in (0, 100_000):
        sys.set_int_max_str_digits(limit)
        try:
            for data in documents:
                assert_paths_agree(data)
        finally:
            sys.set_int_max_str_digits(before)


def test_text_holding_a_lone_surrogate_is_corrupt() -> None:
    with pytest.raises(CorruptResultError, match="not valid UTF-8"):
        codec.decode('{"a": "\ud800"}', key=KEY, location="somewhere/exp/k")
