"""The exceptions resulttracker raises.

Every error derives from :class:`ResultTrackerError`, and each one also derives
from the built-in exception a caller would naturally catch for that situation
(a bad key is a ``ValueError``, a store that cannot be reached is an ``OSError``,
a wait that runs out is a ``TimeoutError``), so code written against plain
Python exceptions keeps working.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "CorruptResultError",
    "ExportError",
    "InvalidKeyError",
    "InvalidQueryError",
    "InvalidResultError",
    "InvalidResultTypeError",
    "KeyConflictError",
    "MetricNotFoundError",
    "NoCandidatesError",
    "ResultTrackerError",
    "StatisticsError",
    "StatisticsTypeError",
    "StoreError",
    "WaitTimeoutError",
]


class ResultTrackerError(Exception):
    """Root of every error raised by resulttracker."""


class InvalidKeyError(ResultTrackerError, ValueError):
    """A key (or key prefix) breaks a rule; nothing was read or written."""


class InvalidResultError(ResultTrackerError, ValueError):
    """A result name or value breaks a rule; nothing was written."""


class InvalidResultTypeError(InvalidResultError, TypeError):
    """A result value has a type that cannot be stored; nothing was written."""


class CorruptResultError(ResultTrackerError, ValueError):
    """What is stored at a key is not a JSON object of valid results.

    Attributes
    ----------
    key : str
        The key whose stored document is corrupt.
    location : str
        Where the document lives (a path or URL, without credentials).
    """

    def __init__(self, key: str, location: str, reason: str) -> None:
        super().__init__(f"corrupt results at key {key!r} ({location}): {reason}")
        self.key = key
        self.location = location
        self.reason = reason


class KeyConflictError(ResultTrackerError, FileExistsError):
    """A key cannot be stored because another key occupies its path.

    On a file system ``a`` and ``a/b`` cannot both hold results: ``a`` would
    have to be a file and a folder at once. Object stores and SQL databases
    have no such limit.
    """


class StoreError(ResultTrackerError, OSError):
    """The backing store could not be reached or refused an operation.

    The message names the store (without credentials) and the operation; the
    exception raised by the storage library is chained as ``__cause__``.
    """


class WaitTimeoutError(ResultTrackerError, TimeoutError):
    """``wait``/``wait_many`` ran out of time before every key had results.

    Attributes
    ----------
    missing : list of str
        The keys that still had no results when the timeout passed.
    """

    def __init__(self, missing: Sequence[str], timeout: float) -> None:
        shown = ", ".join(repr(key) for key in missing[:10])
        more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        noun = "key" if len(missing) == 1 else "keys"
        super().__init__(f"timed out after {timeout:g} s waiting for {noun} {shown}{more}")
        self.missing = list(missing)
        self.timeout = timeout


class InvalidQueryError(ResultTrackerError, ValueError):
    """A ``where`` condition (or another query argument) is malformed; nothing
    was read or written.

    Attributes
    ----------
    condition : str or None
        The condition text, when the problem lies inside one.
    position : int or None
        The 0-based index in ``condition`` where the problem was found.
    reason : str
        What is wrong, without the condition echoed.
    """

    def __init__(
        self, reason: str, *, condition: str | None = None, position: int | None = None
    ) -> None:
        message = reason
        if condition is not None:
            message = f"invalid where condition: {reason}"
            if position is not None:
                message += f" (at position {position})\n" + _point_at(condition, position)
        super().__init__(message)
        self.condition = condition
        self.position = position
        self.reason = reason


def _point_at(text: str, position: int, *, width: int = 30) -> str:
    """Two lines: a window of ``text`` around ``position`` and a caret under it."""
    start = max(0, position - width)
    end = min(len(text), position + width)
    before = "..." if start > 0 else ""
    after = "..." if end < len(text) else ""
    # repr() of each character keeps control characters and newlines on one line.
    shown = [repr(char)[1:-1] for char in text[start:end]]
    column = len(before) + sum(len(piece) for piece in shown[: position - start])
    return f"    {before}{''.join(shown)}{after}\n    {' ' * column}^"


class NoCandidatesError(ResultTrackerError, ValueError):
    """``best`` found no key with a usable (numeric, non-NaN) value of the metric.

    A ``ValueError``, like ``max()`` of an empty sequence.
    """


class MetricNotFoundError(ResultTrackerError, KeyError):
    """A metric is in the results neither as a plain name nor as ``name/mean``.

    Attributes
    ----------
    name : str
        The metric asked for.
    available : list of str
        The metric names the results do have.
    """

    def __init__(self, name: str, available: Sequence[str]) -> None:
        shown = ", ".join(repr(metric) for metric in available[:20])
        more = f" and {len(available) - 20} more" if len(available) > 20 else ""
        listing = f"the metrics present are {shown}{more}" if available else "the results are empty"
        super().__init__(f"no metric {name!r} (neither {name!r} nor {name + '/mean'!r}); {listing}")
        self.name = name
        self.available = list(available)

    def __str__(self) -> str:
        # KeyError's own __str__ shows the repr of its argument; a message reads better.
        return str(self.args[0])


class StatisticsError(ResultTrackerError, ValueError):
    """Statistics cannot be computed from the input (for example no samples)."""


class StatisticsTypeError(StatisticsError, TypeError):
    """A sample or a result to aggregate is not a number."""


class ExportError(ResultTrackerError, ValueError):
    """An export cannot be made as asked (unknown format, a result named like a
    metadata column...); nothing was written."""
