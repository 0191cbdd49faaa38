"""Key validation: the shortcut for the usual key accepts exactly the keys the
full check accepts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resulttracker import InvalidKeyError
from resulttracker.validation import MAX_SEGMENT_BYTES, _check_key_text, normalize_key

# Every character a rule is about, and a few it is not.
ALPHABET = st.sampled_from([*"ab9-_./ \\\t\x00\x1f\x7f\x80\x9fé~", ".rttmp-", ".resulttracker"])


def full_check(text: str) -> str | None:
    try:
        _check_key_text(text, what="key")
    except InvalidKeyError as error:
        return str(error)
    return None


def shortcut(text: str) -> str | None:
    try:
        assert normalize_key(text) == text
    except InvalidKeyError as error:
        return str(error)
    return None


@settings(max_examples=2000)
@given(st.lists(ALPHABET, max_size=12).map("".join))
def test_the_shortcut_agrees_with_the_full_check(text: str) -> None:
    assert shortcut(text) == full_check(text)


@pytest.mark.parametrize(
    "text",
    [
        "a" * MAX_SEGMENT_BYTES,
        "a" * (MAX_SEGMENT_BYTES + 1),
        "a/" + "b" * MAX_SEGMENT_BYTES,
        "exp/.",
        "exp/..",
        "./exp",
        "exp/.rttmp-x",
        ".resulttracker",
        "a.b/c.d",
        "a//b",
        "/a",
        "a/",
        "a b",
        "a\x7fb",
        "a\\b",
        "",
    ],
)
def test_the_shortcut_agrees_on_edge_keys(text: str) -> None:
    assert shortcut(text) == full_check(text)
