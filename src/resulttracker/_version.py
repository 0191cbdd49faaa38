"""The version of resulttracker, read from the installed package's metadata.

``pyproject.toml`` is the only place the version is written. Reading it back
costs the import of :mod:`importlib.metadata` (tens of milliseconds), so it is
done on first use only: ``resulttracker.__version__`` and ``resulttracker
--version`` call :func:`version`, and nothing else does.
"""

from __future__ import annotations

import functools

__all__ = ["UNKNOWN_VERSION", "version"]

#: The version reported when resulttracker is imported without being installed
#: (from a source tree on ``PYTHONPATH``): a valid PEP 440 version below any release.
UNKNOWN_VERSION = "0+unknown"


@functools.cache
def version() -> str:
    """Return the installed version of resulttracker, or :data:`UNKNOWN_VERSION`."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed_version

    try:
        return installed_version("resulttracker")
    except PackageNotFoundError:
        return UNKNOWN_VERSION
