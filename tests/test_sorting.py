"""Natural order (resulttracker.sorting): any mix of key shapes sorts, totally and
deterministically, with digit runs by value."""

from __future__ import annotations

import itertools
import random

from hypothesis import given
from hypothesis import strategies as st

from resulttracker.sorting import natural_key


def test_digit_runs_sort_by_value() -> None:
    keys = ["trial/10", "trial/2", "trial/1", "a10b2", "a2b10", "a2b2", "trial/01"]
    assert sorted(keys, key=natural_key) == [
        "a2b2",
        "a2b10",
        "a10b2",
        "trial/01",
        "trial/1",
        "trial/2",
        "trial/10",
    ]


def test_every_shape_mixes_without_error() -> None:
    # Each of these once compared an int with a str somewhere in the tuples.
    keys = ["run", "run2", "run10", "2", "a1b", "a01", "a1", "1e5", "1e10", "", "b", "a"]
    assert sorted(keys, key=natural_key) == [
        "",
        "1e5",
        "1e10",
        "2",
        "a",
        "a01",
        "a1",
        "a1b",
        "b",
        "run",
        "run2",
        "run10",
    ]


def test_unicode_digits_count_by_value() -> None:
    arabic_indic_three = "\u0663"
    keys = ["run4", f"run{arabic_indic_three}", "run3", "run10", "run\u00b2"]
    ordered = sorted(keys, key=natural_key)
    assert ordered[:4] == ["run3", f"run{arabic_indic_three}", "run4", "run10"]
    assert ordered[4] == "run\u00b2"  # a superscript is not a decimal digit: text


def test_digit_runs_of_any_length() -> None:
    # Far beyond Python's int conversion limit (4,300 digits): never converted.
    long_nine = "k" + "9" * 10_000
    long_one = "k" + "1" * 10_000
    longer = "k1" + "0" * 10_000
    assert sorted([longer, long_nine, "k5", long_one], key=natural_key) == [
        "k5",
        long_one,
        long_nine,
        longer,
    ]
    assert sorted(["k" + "0" * 5000 + "7", "k7", "k6"], key=natural_key) == [
        "k6",
        "k" + "0" * 5000 + "7",  # equal by value: code-point order breaks the tie
        "k7",
    ]


_ALPHABET = st.sampled_from([*"0123456789ab/_.-", "\u0663", "\u00b2", "é", "Z"])


@given(st.lists(st.text(_ALPHABET, max_size=12), max_size=30))
def test_any_keys_sort_totally_and_deterministically(keys: list[str]) -> None:
    once = sorted(keys, key=natural_key)
    shuffled = keys[:]
    random.Random(0).shuffle(shuffled)
    assert sorted(shuffled, key=natural_key) == once
    for left, right in itertools.pairwise(once):
        assert natural_key(left) <= natural_key(right)
        if natural_key(left) == natural_key(right):
            assert left == right  # the order is total
