"""The stored form of results: one pretty-printed JSON object per key.

The format is the one ``torchx.runtime.tracking.FsspecResultTracker`` writes
(``json.dumps(results, indent=2)``), so files written by either library read
back identically through the other. Two details are ours:

* non-ASCII text is written as UTF-8 rather than ``\\uXXXX`` escapes, to keep
  the files readable; both forms decode to the same strings;
* NaN and the infinities are written as the bare words ``NaN``, ``Infinity`` and
  ``-Infinity``, as Python's ``json`` module (and therefore torchx) does. This is
  an extension of strict JSON that Python, pandas and JavaScript's JSON5 read.

Every backend stores exactly these bytes (a SQL backend stores them as text).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

from .errors import CorruptResultError, InvalidResultError
from .validation import Results, ResultType

__all__ = ["MAX_DOCUMENT_BYTES", "decode", "encode"]

#: Largest stored document accepted, in bytes. Larger files are refused unread.
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024

_VALUE_TYPES = (int, float, str)  # bool is an int


def encode(results: Mapping[str, ResultType], *, key: str) -> bytes:
    """Encode validated results; ``key`` is used in error messages only."""
    data = json.dumps(results, indent=2, ensure_ascii=False).encode("utf-8")
    if len(data) > MAX_DOCUMENT_BYTES:
        raise InvalidResultError(
            f"the results for key {key!r} encode to {len(data)} bytes; "
            f"the limit for one key is {MAX_DOCUMENT_BYTES} bytes"
        )
    return data


def decode(data: bytes, *, key: str, location: str | Callable[[], str]) -> Results:
    """Decode a stored document, raising :class:`CorruptResultError` unless it is
    a JSON object mapping non-empty names to int, float, bool or str values.

    ``location`` may be a function giving it, called only when there is an error:
    bulk reads decode thousands of documents and need it for none of them.
    """

    def corrupt(reason: str) -> CorruptResultError:
        return CorruptResultError(
            key, location if isinstance(location, str) else location(), reason
        )

    if len(data) > MAX_DOCUMENT_BYTES:
        raise corrupt(f"{len(data)} bytes is over the {MAX_DOCUMENT_BYTES}-byte limit")
    try:
        results = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise corrupt(f"not valid UTF-8 ({error})") from None
    except json.JSONDecodeError as error:
        raise corrupt(f"not valid JSON ({error})") from None
    if type(results) is not dict:
        raise corrupt(f"expected a JSON object, found a JSON {type(results).__name__}")
    for name, value in results.items():
        if not isinstance(value, _VALUE_TYPES):
            shown = "null" if value is None else f"a JSON {type(value).__name__}"
            raise corrupt(f"result {name!r} is {shown}")
        if not name:
            raise corrupt("a result name is empty")
    return results
