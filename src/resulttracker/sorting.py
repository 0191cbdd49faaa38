"""Natural order for keys and names: ``trial/2`` before ``trial/10``.

The library itself lists keys in code-point order (what every store can give
cheaply and consistently); people read tables, which the command line (and the
dashboard, in JavaScript) sort naturally with :func:`natural_key`.

A text is split into runs of decimal digits and runs of anything else. Digit
runs compare by their numeric value, other runs by code point; at the same
position a number sorts before text (``2`` before ``a``). Any decimal digit
counts (``٣`` is 3, as Python's ``int`` reads it). Values are compared without
converting the digits to an ``int``, so runs of any length are fine. Texts that
compare equal this way (``a1`` and ``a01``) fall back to code-point order, so
the order is total and the same on every run.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["natural_key"]

# \d in a str pattern is any Unicode decimal digit (category Nd).
_RUNS = re.compile(r"(\d+)")

#: One chunk of a split text: ``(0, text)`` or ``(1, number of digits, digits)``.
#: The leading tag keeps a text chunk from ever being compared with a number chunk.
Chunk = tuple[int, str] | tuple[int, int, str]


def _digits(run: str) -> tuple[int, int, str]:
    """A digit run as a chunk that orders by value: ASCII digits without
    leading zeros, compared by length first."""
    if not run.isascii():
        run = "".join(str(unicodedata.decimal(character)) for character in run)
    significant = run.lstrip("0") or "0"
    return (1, len(significant), significant)


def natural_key(text: str) -> tuple[tuple[Chunk, ...], str]:
    """Sort key that orders digit runs by value: ``sorted(keys, key=natural_key)``.

    Examples
    --------
    >>> sorted(["run10", "run2", "run", "2", "a01", "a1"], key=natural_key)
    ['2', 'a01', 'a1', 'run', 'run2', 'run10']
    """
    parts = _RUNS.split(text)
    chunks: list[Chunk] = []
    for index, part in enumerate(parts):
        if index % 2:
            chunks.append(_digits(part))
        elif part or index == 0:
            chunks.append((0, part))
    return tuple(chunks), text
