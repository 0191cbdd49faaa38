"""resulttracker: jobs hand their results back through a shared store.

A job writes ``tracker["exp1/trial7"] = {"loss": 0.12}``; whoever launched it
reads ``tracker["exp1/trial7"]``. A drop-in, hardened reimplementation of
``torchx.runtime.tracking``.
"""

from __future__ import annotations

from .api import Record, ResultTracker, StoreTracker
from .backends.fsspec import FsspecResultTracker
from .errors import (
    CorruptResultError,
    ExportError,
    InvalidKeyError,
    InvalidQueryError,
    InvalidResultError,
    InvalidResultTypeError,
    KeyConflictError,
    MetricNotFoundError,
    NoCandidatesError,
    ResultTrackerError,
    StatisticsError,
    StatisticsTypeError,
    StoreError,
    WaitTimeoutError,
)
from .registry import open_tracker
from .transfer import CopyReport, copy
from .validation import KeyType, Results, ResultType

#: The installed version (from the package metadata; "0+unknown" if not installed).
__version__: str


def __getattr__(name: str) -> str:
    # PEP 562: the version is read from the metadata only when first asked for.
    if name == "__version__":
        from ._version import version

        return version()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CopyReport",
    "CorruptResultError",
    "ExportError",
    "FsspecResultTracker",
    "InvalidKeyError",
    "InvalidQueryError",
    "InvalidResultError",
    "InvalidResultTypeError",
    "KeyConflictError",
    "KeyType",
    "MetricNotFoundError",
    "NoCandidatesError",
    "Record",
    "ResultTracker",
    "ResultTrackerError",
    "ResultType",
    "Results",
    "StatisticsError",
    "StatisticsTypeError",
    "StoreError",
    "StoreTracker",
    "WaitTimeoutError",
    "__version__",
    "copy",
    "open_tracker",
]
