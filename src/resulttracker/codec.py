"""The stored form of results: one pretty-printed JSON object per key.

Writing
-------
The format is the one ``torchx.runtime.tracking.FsspecResultTracker`` writes
(``json.dumps(results, indent=2)``), so files written by either library read
back identically through the other. Two details are ours:

* non-ASCII text is written as UTF-8 rather than ``\\uXXXX`` escapes, to keep
  the files readable; both forms decode to the same strings;
* NaN and the infinities are written as the bare words ``NaN``, ``Infinity`` and
  ``-Infinity``, as Python's ``json`` module (and therefore torchx) does. This is
  an extension of strict JSON that Python, pandas and JavaScript's JSON5 read.

Every backend stores exactly these bytes (a SQL backend stores them as text).

Reading: write strict, read tolerant
------------------------------------
``put`` only writes the values :data:`~resulttracker.model.ResultType` allows,
but torchx's ``put`` writes any JSON-serialisable value, and other writers may
have been less careful. :func:`decode` returns what torchx's ``get`` returns
for every document that can be decoded *safely*, so a result read from a store
(``get``, ``get_many``, ``scan``...) is one of the
:data:`~resulttracker.model.StoredValue` types:

* ``int`` (any size up to :data:`MAX_INT_DIGITS` digits), ``float`` (NaN and
  ±Infinity from the bare words), ``bool`` and ``str`` (any length);
* ``None`` (JSON ``null``), ``list`` and ``dict`` (JSON arrays and objects,
  holding these same types);
* under any ``str`` name, the empty name included.

A document with no results at all, ``{}`` (torchx's ``put(key)`` writes it),
decodes to ``{}``. When a name occurs twice in one object, the last value wins,
as in torchx, Python and JavaScript's ``JSON.parse``.

A document is *corrupt* (:class:`~resulttracker.errors.CorruptResultError`,
naming the key and the reason) when it cannot be decoded safely:

* it is larger than :data:`MAX_DOCUMENT_BYTES`;
* it is not UTF-8 (a leading byte order mark is ignored, as RFC 8259 allows);
* it is not JSON (in Python's dialect: ``NaN``, ``Infinity``), or not an
  object at the top;
* it nests lists and objects deeper than :data:`MAX_DEPTH` levels, or holds
  more than :data:`MAX_CONTAINERS` of them (16 MiB of ``[]`` would take
  hundreds of MiB to decode);
* it holds an integer of more than :data:`MAX_INT_DIGITS` digits (which
  Python refuses to convert by default, and converts in quadratic time
  otherwise), or a number beyond the range of a float (``1e400``: it would
  silently read as infinity);
* a name or text holds a lone surrogate (an escaped ``\\ud800`` without its
  pair), which no UTF-8 text can hold and which would fail wherever it is
  printed, exported or written back.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Callable, Mapping
from typing import Any, cast

from .errors import CorruptResultError, InvalidResultError, InvalidResultTypeError
from .model import Results, ResultType, StoredValue
from .validation import MAX_INT_DIGITS

__all__ = [
    "MAX_CONTAINERS",
    "MAX_DEPTH",
    "MAX_DOCUMENT_BYTES",
    "MAX_INT_DIGITS",
    "decode",
    "encode",
    "encode_stored",
]

#: Largest stored document accepted, in bytes. Larger files are refused unread.
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024

#: Deepest nesting of lists and objects in a document (the document itself is level 1).
MAX_DEPTH = 64

#: Most lists and objects in one document (the document itself included).
MAX_CONTAINERS = 100_000


_BOM = b"\xef\xbb\xbf"

# An escaped surrogate: the document may hold a lone one (``"\ud800"``).
_ESCAPED_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")

# A number literal that may overflow a float: one with an exponent, or with at
# least 309 digits before its point (1.8e308 is the largest float).
_MAY_OVERFLOW = re.compile(rb"[0-9][eE]|[0-9]{309}")

# A JSON string, to be left out when counting the brackets of a document.
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)


class _UnsafeDocumentError(Exception):
    """Raised from inside the JSON parser's hooks: the document cannot be decoded safely."""


def _checked_int(text: str) -> int:
    digits = len(text) - text.startswith("-")
    if digits > MAX_INT_DIGITS:
        raise _UnsafeDocumentError(f"an integer has more than {MAX_INT_DIGITS} digits ({digits})")
    return int(text)


def _checked_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        shown = text if len(text) <= 40 else f"{text[:20]}...{text[-10:]}"
        raise _UnsafeDocumentError(f"the number {shown} is beyond the range of a float")
    return value


def encode(results: Mapping[str, ResultType], *, key: str) -> bytes:
    """Encode validated results; ``key`` is used in error messages only."""
    return encode_stored(results, key=key)


def encode_stored(results: Mapping[str, StoredValue], *, key: str) -> bytes:
    """Encode results as read from a store (see :func:`decode`), so that a copy
    keeps values that ``put`` refuses (``None``, lists, objects, no results at
    all); a document in the canonical form is written back byte for byte.

    Raises
    ------
    InvalidResultError
        The document would be larger than :data:`MAX_DOCUMENT_BYTES`, or a
        value is not JSON (:class:`InvalidResultTypeError`). Nothing is written.
    """
    try:
        data = json.dumps(results, indent=2, ensure_ascii=False).encode("utf-8")
    except (TypeError, ValueError, RecursionError, UnicodeEncodeError) as error:
        raise InvalidResultTypeError(
            f"the results for key {key!r} cannot be stored as JSON: {str(error)[:200]}"
        ) from None
    if len(data) > MAX_DOCUMENT_BYTES:
        raise InvalidResultError(
            f"the results for key {key!r} encode to {len(data)} bytes; "
            f"the limit for one key is {MAX_DOCUMENT_BYTES} bytes"
        )
    return data


def decode(data: bytes | str, *, key: str, location: str | Callable[[], str]) -> Results:
    """Decode a stored document as torchx reads it, or raise
    :class:`CorruptResultError` when it cannot be decoded safely (see the module
    docstring for both lists).

    The annotation is torchx's (``Dict[str, ResultType]``); documents written
    by others may hold any :data:`~resulttracker.model.StoredValue`.
    ``data`` may also be the document's text, as a database driver hands it
    back: it reads as its UTF-8 bytes would. ``location`` may be a function
    giving it, called only when there is an error: bulk reads decode thousands
    of documents and need it for none of them.
    """
    # The usual document (what ``encode`` writes: ``{`` ... ``}``, no escape,
    # few brackets) is decoded by the C scanner alone, once a few C-level
    # searches of its bytes have shown that every check of the full path would
    # pass (see "Why the fast path..." below). Anything else, and every corrupt
    # document, takes the full path, which gives the verdict.
    if isinstance(data, str):
        try:
            data = data.encode("utf-8")
        except UnicodeEncodeError as error:
            raise _corrupt(key, location, f"not valid UTF-8 ({error})") from None
    # (A byte given as an int is searched with memchr, several times faster.)
    if (
        0 < len(data) <= _FAST_BYTES
        and data[0] == _OPEN_BRACE
        and data[-1] == _CLOSE_BRACE
        and (_BACKSLASH not in data or b"\\u" not in data)
        and 0 < _int_digits_limit() <= MAX_INT_DIGITS
    ):
        flat = _OPEN_BRACKET not in data and data.find(_OPEN_BRACE, 1) == -1
        if flat or data.count(b"{") + data.count(b"[") <= MAX_DEPTH:
            try:
                text = data.decode("utf-8")
                results, end = _SCAN(text, 0)
            except (UnicodeDecodeError, StopIteration, ValueError, RecursionError):
                pass
            else:
                if end == len(text) and (
                    (flat and _INFINITIES.isdisjoint(results.values()))
                    or _MAY_OVERFLOW.search(data) is None
                ):
                    return cast(Results, results)
    return _decode(data, key, location)


#: Documents up to this size may take the fast path: well under
#: MAX_DOCUMENT_BYTES and 2 * MAX_CONTAINERS (where _decode counts containers).
_FAST_BYTES = 64 * 1024

# The C scanner of a default decoder: what ``json.loads`` runs, without the
# layers around it (the whitespace skipping that a document starting and ending
# with braces does not need).
_SCAN: Callable[[str, int], tuple[Any, int]]
_SCAN = json.JSONDecoder().scan_once  # type: ignore[attr-defined]

_INFINITIES = frozenset((math.inf, -math.inf))
_OPEN_BRACE, _CLOSE_BRACE, _OPEN_BRACKET, _BACKSLASH = b"{}[\\"

_int_digits_limit = sys.get_int_max_str_digits

# Why the fast path of decode gives what _decode (the full path) gives.
#
# It takes a document of at most ``_FAST_BYTES`` bytes, starting with ``{`` and
# ending with ``}``, with no ``\u`` escape, no more than MAX_DEPTH ``[`` and
# ``{`` in all, that the C scanner reads to its last byte, while the
# interpreter's digit limit is the default's or lower. Then, check by check:
#
# * size: ``_FAST_BYTES`` is far below MAX_DOCUMENT_BYTES; a BOM, or space
#   before or after the object, makes the first or last byte something other
#   than a brace (and json.loads would skip that space: the scanner need not);
# * UTF-8: the same strict decoding (a failure goes to the full path);
# * lone surrogate: strict UTF-8 decoding refuses an encoded one, so one can only
#   come from a ``\u`` escape, and there is none;
# * depth and number of lists and objects: each takes a ``[`` or ``{`` (those
#   inside strings are counted too: more, never fewer), so there are at most
#   MAX_DEPTH (<= MAX_CONTAINERS) of them, nested at most MAX_DEPTH deep;
# * integer size: the interpreter refuses an integer of more digits than its
#   limit, at most MAX_INT_DIGITS: the full path too parses without its own
#   check then (``careful=False``);
# * not JSON, not an object: the scanner fails, or stops before the end (extra
#   data); started at ``{`` it returns a dict;
# * float overflow: the full path parses again, carefully, only when a float is
#   infinite *and* _MAY_OVERFLOW finds a literal that may overflow. An object
#   holding no other container ("flat") is checked as the full path checks it,
#   by its values (when none is infinite there is no second parse); otherwise
#   _MAY_OVERFLOW finding nothing settles it. ``Infinity`` itself, in a value or
#   in a string, reads the same on both paths.


def _corrupt(key: str, location: str | Callable[[], str], reason: str) -> CorruptResultError:
    return CorruptResultError(key, location if isinstance(location, str) else location(), reason)


def _decode(data: bytes, key: str, location: str | Callable[[], str]) -> Results:
    """:func:`decode` with every check made (the full path)."""

    def corrupt(reason: str) -> CorruptResultError:
        return _corrupt(key, location, reason)

    if len(data) > MAX_DOCUMENT_BYTES:
        raise corrupt(f"{len(data)} bytes is over the {MAX_DOCUMENT_BYTES}-byte limit")
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise corrupt(f"not valid UTF-8 ({error})") from None
    # The checks below cost a few byte searches unless the document holds
    # something unusual.
    check_text = b"\\u" in data and _ESCAPED_SURROGATE.search(data) is not None
    # Each list or object takes two bytes at least; strings are left out when
    # counting them, so brackets inside text do not count.
    if len(data) > 2 * MAX_CONTAINERS and _containers(data) > MAX_CONTAINERS:
        raise corrupt(f"it holds more than {MAX_CONTAINERS} lists and objects")
    results = _loads(text, corrupt, careful=not _default_int_limit())
    if type(results) is not dict:
        kind = "null" if results is None else f"a JSON {type(results).__name__}"
        raise corrupt(f"expected a JSON object, found {kind}")
    first = data.find(b"{")
    nested = b"[" in data or data.find(b"{", first + 1) != -1
    if nested or check_text:
        problem, infinite = _inspect(results, check_text=check_text)
        if problem is not None:
            raise corrupt(problem)
    else:
        values = results.values()
        infinite = math.inf in values or -math.inf in values
    if infinite and _MAY_OVERFLOW.search(data) is not None:
        # ``Infinity`` is fine, ``1e400`` is not: only the parser can tell them apart.
        _loads(text, corrupt, careful=True)
    return cast(Results, results)


def _loads(text: str, corrupt: Callable[[str], CorruptResultError], *, careful: bool) -> Any:
    """``json.loads``, turning every failure into a :class:`CorruptResultError`.

    ``careful`` checks every number literal in Python (slower): integers
    against :data:`MAX_INT_DIGITS` whatever the interpreter's own limit, floats
    against overflow.
    """
    try:
        if careful:
            return json.loads(text, parse_int=_checked_int, parse_float=_checked_float)
        return json.loads(text)
    except _UnsafeDocumentError as error:
        raise corrupt(str(error)) from None
    except json.JSONDecodeError as error:
        raise corrupt(f"not valid JSON ({error})") from None
    except RecursionError:
        raise corrupt(f"lists and objects are nested deeper than {MAX_DEPTH} levels") from None
    except ValueError:  # an integer over the interpreter's digit limit
        limit = sys.get_int_max_str_digits()
        raise corrupt(f"an integer has more than {limit} digits") from None


def _default_int_limit() -> bool:
    """Whether the interpreter refuses integers of more than :data:`MAX_INT_DIGITS`
    digits itself (it does unless someone changed its limit)."""
    limit = sys.get_int_max_str_digits()
    return 0 < limit <= MAX_INT_DIGITS


def _containers(data: bytes) -> int:
    """The number of JSON arrays and objects in ``data`` (strings left out)."""
    bare = _JSON_STRING.sub(b"", data)
    return bare.count(b"[") + bare.count(b"{")


def _inspect(document: dict[str, Any], *, check_text: bool) -> tuple[str | None, bool]:
    """Why a decoded document is unsafe (too deep, a lone surrogate) or ``None``,
    and whether it holds an infinite float.

    Iterative, so that checking a deep document cannot itself overflow the stack.
    """
    infinite = False
    stack: list[tuple[Any, int, str]] = [(document, 1, "")]
    while stack:
        value, depth, name = stack.pop()
        if isinstance(value, dict):
            if depth > MAX_DEPTH:
                return f"lists and objects are nested deeper than {MAX_DEPTH} levels", False
            for inner_name, inner in value.items():
                top = inner_name if depth == 1 else name
                if check_text and not _encodable(inner_name):
                    if depth == 1:
                        return f"the result name {inner_name!r} holds a lone surrogate", False
                    return f"a name inside result {top!r} holds a lone surrogate", False
                stack.append((inner, depth + 1, top))
        elif isinstance(value, list):
            if depth > MAX_DEPTH:
                return f"lists and objects are nested deeper than {MAX_DEPTH} levels", False
            stack.extend((inner, depth + 1, name) for inner in value)
        elif isinstance(value, float):
            infinite = infinite or math.isinf(value)
        elif check_text and isinstance(value, str) and not _encodable(value):
            return f"result {name!r} holds a lone surrogate", False
    return None, infinite


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
