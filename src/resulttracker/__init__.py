"""resulttracker: jobs hand their results back through a shared store.

A job writes ``tracker["exp1/trial7"] = {"loss": 0.12}``; whoever launched it
reads ``tracker["exp1/trial7"]``. A drop-in, hardened reimplementation of
``torchx.runtime.tracking``.

Every public name is importable from here, but each is imported on first use
(PEP 562): ``import resulttracker`` itself loads nothing heavy, so the command
line and short jobs start fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .api import ResultTracker, StoreTracker
    from .backends.fsspec import FsspecResultTracker
    from .backends.sql import SQLResultTracker
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
    from .model import Change, CheckReport, KeyType, Record, Results, ResultType, StoredValue
    from .registry import open_tracker
    from .transfer import CopyReport, copy

#: Public name -> the module that defines it.
_EXPORTS = {
    "ResultTracker": "api",
    "StoreTracker": "api",
    "FsspecResultTracker": "backends.fsspec",
    "SQLResultTracker": "backends.sql",
    "CorruptResultError": "errors",
    "ExportError": "errors",
    "InvalidKeyError": "errors",
    "InvalidQueryError": "errors",
    "InvalidResultError": "errors",
    "InvalidResultTypeError": "errors",
    "KeyConflictError": "errors",
    "MetricNotFoundError": "errors",
    "NoCandidatesError": "errors",
    "ResultTrackerError": "errors",
    "StatisticsError": "errors",
    "StatisticsTypeError": "errors",
    "StoreError": "errors",
    "WaitTimeoutError": "errors",
    "Change": "model",
    "CheckReport": "model",
    "KeyType": "model",
    "Record": "model",
    "ResultType": "model",
    "Results": "model",
    "StoredValue": "model",
    "open_tracker": "registry",
    "CopyReport": "transfer",
    "copy": "transfer",
}

#: The installed version (from the package metadata; "0+unknown" if not installed).
__version__: str


__all__ = [
    "Change",
    "CheckReport",
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
    "SQLResultTracker",
    "StatisticsError",
    "StatisticsTypeError",
    "StoreError",
    "StoreTracker",
    "StoredValue",
    "WaitTimeoutError",
    "__version__",
    "copy",
    "open_tracker",
]


def __getattr__(name: str) -> Any:
    if name == "__version__":  # read from the package metadata only when asked for
        from ._version import version

        return version()
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module_name}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS, "__version__"})
