"""Rules for keys and results, checked once before any backend sees them.

Keys
----
A key is an ``int`` (not ``bool``; NumPy integer scalars such as
``numpy.int64(7)`` too, NumPy booleans not) or a non-empty ``str``; an int key
is the same key as its ``str()``, and obeys the same length rules (one segment:
at most :data:`MAX_SEGMENT_BYTES` digits with its sign, checked without
rendering an int of any size). A key is a ``/``-separated path of segments, so it maps
onto a file tree, an object store and a SQL column alike. A key is refused when

* it is longer than :data:`MAX_KEY_BYTES` bytes UTF-8 encoded, or one of its
  segments is longer than :data:`MAX_SEGMENT_BYTES` (the file-name limit of
  common file systems, so a key valid on S3 can also be copied to a folder);
* it has an empty segment (leading, trailing or doubled ``/``), or a ``.`` or
  ``..`` segment, so a key can never climb out of its base;
* it contains a backslash, NUL or another control character, or cannot be
  encoded as UTF-8 (lone surrogates);
* a segment starts with :data:`TEMP_PREFIX`, which names temporary files, or
  with :data:`RESERVED_PREFIX`, which names the store's own files (snapshots).

Every other character, ``*?[]%~`` and non-ASCII included, is literal.

Results
-------
Results are a flat mapping of names (non-empty ``str``, at most
:data:`MAX_NAME_BYTES`) to ``int`` (at most :data:`MAX_INT_DIGITS` digits),
``float``, ``bool`` or ``str`` (at most :data:`MAX_STR_BYTES`). NumPy scalars
and other objects whose ``.item()`` gives one of those are converted;
subclasses (``IntEnum``, ``numpy.float64``) become the plain built-in type.
NaN and infinities are allowed.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Iterable, Mapping

from .errors import InvalidKeyError, InvalidResultError, InvalidResultTypeError
from .model import KeyType, Results, ResultType

__all__ = [
    "MAX_INT_DIGITS",
    "MAX_KEY_BYTES",
    "MAX_NAME_BYTES",
    "MAX_SEGMENT_BYTES",
    "MAX_STR_BYTES",
    "RESERVED_PREFIX",
    "TEMP_PREFIX",
    "KeyType",
    "ResultType",
    "Results",
    "check_result_names",
    "normalize_key",
    "normalize_keys",
    "normalize_prefix",
    "normalize_results",
]


#: Longest key accepted, in bytes of UTF-8.
MAX_KEY_BYTES = 1024
#: Longest segment of a key accepted, in bytes of UTF-8 (a common file-name limit).
MAX_SEGMENT_BYTES = 255
#: Longest result name accepted, in bytes of UTF-8.
MAX_NAME_BYTES = 1024
#: Longest ``str`` result value accepted, in bytes of UTF-8.
MAX_STR_BYTES = 1024
#: Most digits of an int result: Python's default conversion limit, which
#: readers (torchx's ``json.loads``, :mod:`resulttracker.codec`) apply.
MAX_INT_DIGITS = 4300
#: Start of the names of temporary files; no key segment may start with it.
TEMP_PREFIX = ".rttmp-"
#: Start of the names the store keeps for itself (snapshots, under
#: ``.resulttracker/``); no key segment may start with it, and listings skip them.
RESERVED_PREFIX = ".resulttracker"

# C0 and C1 control characters, DEL and the backslash.
_FORBIDDEN_KEY_CHARACTER = re.compile(r"[\x00-\x1f\x7f-\x9f\\]")


def _shorten(text: str, limit: int = 80) -> str:
    return repr(text) if len(text) <= limit else repr(text[:limit]) + f"... ({len(text)} chars)"


def _shown(value: object, limit: int = 80) -> str:
    """``repr(value)``, cut to ``limit`` characters (an object's repr may be huge)."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def normalize_key(key: object) -> str:
    """Return the canonical ``str`` form of ``key`` or raise :class:`InvalidKeyError`."""
    if type(key) is str:
        text = key
        # The usual key (short, ASCII, printable, no backslash, no empty segment,
        # no segment starting with "."), known valid from a few C-level string
        # tests; _check_key_text decides for every other.
        if (
            0 < len(text) <= MAX_SEGMENT_BYTES
            and text.isascii()
            and text.isprintable()
            and "\\" not in text
            and text[0] != "."
            and text[0] != "/"
            and text[-1] != "/"
            and "//" not in text
            and "/." not in text
        ):
            return text
    elif isinstance(key, str):
        text = str.__str__(key)
    else:
        number = _integer(key)
        if number is None:
            raise InvalidKeyError(
                f"key {_shown(key)} has type {type(key).__name__}; a key must be an int or a str"
            )
        return _integer_text(number, what="key")
    _check_key_text(text, what="key")
    return text


def _integer(value: object) -> int | None:
    """``value`` as a plain ``int`` if it is an integer (``int``, ``IntEnum``,
    NumPy integer scalars, any :class:`numbers.Integral`) but not a boolean
    (Python's or NumPy's); else ``None``."""
    if isinstance(value, bool):
        return None
    # NumPy registers its integer scalars as numbers.Integral, and numpy.bool_ not.
    if isinstance(value, (int, numbers.Integral)):
        return int(value)
    return None


def _integer_text(number: int, *, what: str) -> str:
    """The digits of an int key or prefix: one path segment, so at most
    :data:`MAX_SEGMENT_BYTES` characters with its sign. Refused by its size in
    bits first, so that an int beyond Python's digit limit is never rendered."""
    # 850 bits hold at most 256 decimal digits: anything larger is too long.
    if number.bit_length() > 850:
        digits = int(number.bit_length() * math.log10(2)) + 1
        raise InvalidKeyError(
            f"int {what} of about {digits} digits is longer than the "
            f"{MAX_SEGMENT_BYTES}-byte limit of a path segment"
        )
    text = str(number)
    if len(text) > MAX_SEGMENT_BYTES:
        raise InvalidKeyError(
            f"int {what} {text[:12]}...{text[-4:]} of {len(text)} characters is longer "
            f"than the {MAX_SEGMENT_BYTES}-byte limit of a path segment"
        )
    return text


def _check_key_text(text: str, *, what: str) -> None:
    if not text:
        raise InvalidKeyError(f"{what} must not be empty")
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidKeyError(
            f"{what} {_shorten(text)} cannot be encoded as UTF-8 (it holds a lone surrogate)"
        ) from None
    if size > MAX_KEY_BYTES:
        raise InvalidKeyError(
            f"{what} {_shorten(text)} is {size} bytes long in UTF-8; the limit is {MAX_KEY_BYTES}"
        )
    bad = _FORBIDDEN_KEY_CHARACTER.search(text)
    if bad is not None:
        raise InvalidKeyError(
            f"{what} {_shorten(text)} contains the character {bad.group()!r} "
            f"at position {bad.start()}; backslashes and control characters are not allowed"
        )
    for segment in text.split("/"):
        if not segment:
            raise InvalidKeyError(
                f"{what} {_shorten(text)} has an empty path segment "
                "(a leading, trailing or doubled '/')"
            )
        if segment in (".", ".."):
            raise InvalidKeyError(f"{what} {_shorten(text)} has a {segment!r} path segment")
        if segment.startswith(TEMP_PREFIX):
            raise InvalidKeyError(
                f"{what} {_shorten(text)} has a segment starting with {TEMP_PREFIX!r}, "
                "which is reserved for temporary files"
            )
        if segment.startswith(RESERVED_PREFIX):
            raise InvalidKeyError(
                f"{what} {_shorten(text)} has a segment starting with {RESERVED_PREFIX!r}, "
                "which is reserved for the store's own files (snapshots)"
            )
        if len(segment) * 4 > MAX_SEGMENT_BYTES and len(segment.encode()) > MAX_SEGMENT_BYTES:
            raise InvalidKeyError(
                f"{what} {_shorten(text)} has a path segment longer than "
                f"{MAX_SEGMENT_BYTES} bytes: {_shorten(segment, 40)}"
            )


def normalize_keys(keys: Iterable[object]) -> list[str]:
    """Normalize every key of ``keys`` (all are checked before any is used), keeping order
    and dropping repeats."""
    if isinstance(keys, (str, bytes)):
        raise InvalidKeyError(
            f"expected a collection of keys, got the single {type(keys).__name__} {keys!r}"
        )
    return list(dict.fromkeys(normalize_key(key) for key in keys))


def normalize_prefix(prefix: object) -> str:
    """Return the canonical form of a key prefix; ``""`` means every key.

    A prefix selects whole path segments: ``"exp1"`` (or ``"exp1/"``) selects the
    key ``exp1`` and every key below ``exp1/``, but not ``exp10``.
    """
    if prefix is None:
        return ""
    number = _integer(prefix)
    if number is not None:
        return _integer_text(number, what="prefix")
    if not isinstance(prefix, str):
        raise InvalidKeyError(
            f"prefix {_shown(prefix)} has type {type(prefix).__name__}; "
            "a prefix must be an int or a str"
        )
    text = str.__str__(prefix)
    if text in ("", "/"):
        return ""
    text = text[:-1] if text.endswith("/") else text
    _check_key_text(text, what="prefix")
    return text


def key_has_prefix(key: str, prefix: str) -> bool:
    """Whether ``key`` lies under ``prefix`` (as returned by :func:`normalize_prefix`)."""
    return not prefix or key == prefix or key.startswith(prefix + "/")


def is_reserved_name(relative: str) -> bool:
    """Whether a stored name (relative to a listed prefix) lies in the store's
    reserved area: one of its segments starts with :data:`RESERVED_PREFIX`.

    Listings skip such names; no valid key has one.
    """
    return relative.startswith(RESERVED_PREFIX) or ("/" + RESERVED_PREFIX) in relative


def check_result_names(results: object) -> None:
    """Check that ``results`` is a mapping with ``str`` names, so that it can be
    passed on as ``**results``."""
    if not isinstance(results, Mapping):
        raise InvalidResultTypeError(
            f"results must be a mapping of names to values, got {type(results).__name__}"
        )
    for name in results:
        if not isinstance(name, str):
            raise InvalidResultTypeError(
                f"result name {name!r} has type {type(name).__name__}; names must be str"
            )


def normalize_results(results: Mapping[str, object], *, key: str) -> Results:
    """Return a plain ``dict`` of valid results or raise :class:`InvalidResultError`.

    ``key`` is only used in error messages.
    """
    if not results:
        raise InvalidResultError(
            f"no results given for key {key!r}; put() needs at least one result "
            "(use delete() to remove a key)"
        )
    clean: Results = {}
    for name, value in results.items():
        _check_name(name, key)
        clean[name] = _normalize_value(name, value, key)
    return clean


def _check_name(name: object, key: str) -> None:
    if not isinstance(name, str):
        raise InvalidResultTypeError(
            f"result name {name!r} for key {key!r} has type {type(name).__name__}; "
            "names must be str"
        )
    if not name:
        raise InvalidResultError(f"result names must not be empty (key {key!r})")
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidResultError(
            f"result name {_shorten(name)} for key {key!r} cannot be encoded as UTF-8"
        ) from None
    if size > MAX_NAME_BYTES:
        raise InvalidResultError(
            f"result name {_shorten(name)} for key {key!r} is {size} bytes long in UTF-8; "
            f"the limit is {MAX_NAME_BYTES}"
        )


def _normalize_value(name: str, value: object, key: str) -> ResultType:
    kind = type(value)
    if kind is int:
        _check_int(name, value, key)  # type: ignore[arg-type]
        return value  # type: ignore[return-value]
    if kind is float or kind is bool:
        return value  # type: ignore[return-value]
    if kind is str:
        _check_str(name, value, key)  # type: ignore[arg-type]
        return value  # type: ignore[return-value]
    # Subclasses of the built-in types (IntEnum, numpy.float64, numpy.str_) are
    # stored as the plain type so that they read back as what they compare equal to.
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        _check_int(name, int(value), key)
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        text = str.__str__(value)
        _check_str(name, text, key)
        return text
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "ndim", 0) == 0 and getattr(value, "size", 1) == 1:
        try:
            plain = item()
        except Exception:  # an object with an unrelated .item(): fall through to the error
            plain = None
        if type(plain) in (bool, int, float):
            return plain  # type: ignore[no-any-return]
    raise InvalidResultTypeError(
        f"result {name!r} for key {key!r} has type {kind.__name__} ({_shorten(repr(value))}); "
        "values must be int, float, bool or str"
    )


def _check_int(name: str, value: int, key: str) -> None:
    # Only an int of more than 14,000 bits can have over MAX_INT_DIGITS digits.
    if value.bit_length() > 14_000 and abs(value) >= 10**MAX_INT_DIGITS:
        raise InvalidResultError(
            f"result {name!r} for key {key!r} is an integer of more than {MAX_INT_DIGITS} "
            "digits, which Python's json refuses to read back"
        )


def _check_str(name: str, value: str, key: str) -> None:
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidResultError(
            f"result {name!r} for key {key!r} cannot be encoded as UTF-8 "
            "(it holds a lone surrogate)"
        ) from None
    if size > MAX_STR_BYTES:
        raise InvalidResultError(
            f"result {name!r} for key {key!r} is a string of {size} bytes in UTF-8; "
            f"the limit is {MAX_STR_BYTES}"
        )
