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

__version__ = "0.1.0"

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
