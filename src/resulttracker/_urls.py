"""URL helpers shared by the backends."""

from __future__ import annotations

import re

__all__ = ["redact_url", "url_scheme"]

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*")
_USERINFO = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>[^/@?#]*)@")


def redact_url(url: str) -> str:
    """Hide the password (or the whole user-info) of a URL, for messages and ``repr``.

    >>> redact_url("postgresql://alice:s3cret@db:5432/runs")
    'postgresql://alice:***@db:5432/runs'
    >>> redact_url("s3://bucket/exp")
    's3://bucket/exp'
    """
    match = _USERINFO.match(url)
    if match is None:
        return url
    user, colon, _ = match.group("userinfo").partition(":")
    shown = f"{user}:***" if colon else "***"
    return f"{match.group('scheme')}{shown}@{url[match.end() :]}"


def url_scheme(url: str) -> str:
    """The scheme of ``url`` without a ``+driver`` suffix, lower-cased; ``""`` for a path.

    >>> url_scheme("postgresql+psycopg://host/db")
    'postgresql'
    >>> url_scheme("/data/results")
    ''
    """
    head, separator, _ = url.partition("://")
    if separator and _SCHEME.fullmatch(head):
        return head.partition("+")[0].lower()
    return ""
