"""``open_tracker``: the one front door, choosing a backend from the URL.

Backends are named by import path and imported only when a URL needs them, so
an optional dependency is required only by the users of its backend.
"""

from __future__ import annotations

import importlib
import os
import re
from typing import Any

from ._urls import url_scheme
from .api import ResultTracker

__all__ = ["BACKENDS", "open_tracker"]

#: URL scheme -> (``module:class``, extra to install). Any scheme not listed is
#: an fsspec URL (or a local path) and goes to ``FsspecResultTracker``.
BACKENDS: dict[str, tuple[str, str]] = {
    "sqlite": ("resulttracker.backends.sql:SQLResultTracker", "sql"),
    "postgresql": ("resulttracker.backends.sql:SQLResultTracker", "postgres"),
    "mysql": ("resulttracker.backends.sql:SQLResultTracker", "mysql"),
    "mariadb": ("resulttracker.backends.sql:SQLResultTracker", "mysql"),
}

_DEFAULT_BACKEND = ("resulttracker.backends.fsspec:FsspecResultTracker", "")


def open_tracker(url: str | os.PathLike[str], /, **options: Any) -> ResultTracker:
    """Open the tracker that ``url`` names.

    Parameters
    ----------
    url : str or os.PathLike
        A local folder, an fsspec URL (``s3://bucket/exp``, ``gs://...``,
        ``memory://...``) or the URL of another registered backend.
    **options
        Passed to the backend (for fsspec URLs: the storage options).

    Raises
    ------
    ImportError
        The backend's optional dependency is missing; the message names the
        extra to install.
    """
    text = os.fspath(url)
    _refuse_mistyped_database_url(text)
    target, extra = BACKENDS.get(url_scheme(text), _DEFAULT_BACKEND)
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ImportError(
            f"the backend for {url_scheme(text)!r} URLs needs an optional dependency "
            f"({error}); pip install 'resulttracker[{extra}]'"
        ) from error
    tracker: ResultTracker = getattr(module, class_name)(text, **options)
    return tracker


#: A database URL with a typo in its "://" (``postgresql//``, ``mysql:/``) or the
#: ``postgres://`` spelling SQLAlchemy does not read; with credentials, it would
#: otherwise open as a local folder named after the password.
_MISTYPED_DATABASE_URL = re.compile(
    r"(?:(?:sqlite|postgresql|mysql|mariadb)(?:\+\w+)?(?://|:/(?!/)|:(?!/)).*@"
    r"|postgres(?:\+\w+)?://)",
    re.IGNORECASE,
)


def _refuse_mistyped_database_url(text: str) -> None:
    if _MISTYPED_DATABASE_URL.match(text):
        head = re.split(r"[:/]", text, maxsplit=1)[0]
        raise ValueError(
            f"{head}... looks like a database URL with a typo (not shown: it may hold a "
            "password); write dialect[+driver]://user:password@host/database, with "
            "postgresql:// rather than postgres://"
        )
