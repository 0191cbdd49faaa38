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
    "InvalidKeyError",
    "InvalidResultError",
    "InvalidResultTypeError",
    "KeyConflictError",
    "ResultTrackerError",
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
