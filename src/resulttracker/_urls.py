"""URL helpers shared by the backends; :func:`redact_url` is the one place that
hides credentials in anything shown (messages, ``repr``, logs)."""

from __future__ import annotations

import re

__all__ = ["DATABASE_SCHEMES", "SECRET_PARAMETER", "redact_url", "url_scheme"]

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*")
_USERINFO = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>[^/@?#]*)@")

#: Schemes read by SQLAlchemy's URL parser rather than by RFC 3986 rules.
DATABASE_SCHEMES = frozenset({"sqlite", "postgresql", "mysql", "mariadb"})

#: Query parameters of a database URL that may carry a secret (libpq reads
#: ``?password=``, drivers read ``sslpassword``, ``passwd``, tokens...).
SECRET_PARAMETER = re.compile(r"pass|pwd|secret|token|key", re.IGNORECASE)


def redact_url(url: str) -> str:
    """Hide the password (or the whole user-info) of a URL, for messages and ``repr``.

    Database URLs are parsed as SQLAlchemy parses them (a password may hold
    ``/ ? # :`` unencoded there); one that cannot be parsed, or whose password
    holds a raw ``@`` (SQLAlchemy would read the rest as the host), shows
    nothing after ``://`` but the host and path following the last ``@``.

    >>> redact_url("postgresql://alice:s3cret@db:5432/runs")
    'postgresql://alice:***@db:5432/runs'
    >>> redact_url("mysql+pymysql://bob:p/a?s#s@db/runs")
    'mysql+pymysql://bob:***@db/runs'
    >>> redact_url("s3://bucket/exp")
    's3://bucket/exp'
    """
    if url_scheme(url) in DATABASE_SCHEMES:
        return _redact_database_url(url)
    match = _USERINFO.match(url)
    if match is None:
        return url
    user, colon, _ = match.group("userinfo").partition(":")
    shown = f"{user}:***" if colon else "***"
    return f"{match.group('scheme')}{shown}@{url[match.end() :]}"


def _redact_database_url(url: str) -> str:
    head, _, rest = url.partition("://")
    try:
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
    except ImportError:
        parsed = None
    except Exception:  # not a URL SQLAlchemy can read: show nothing that may be secret
        return f"{head}://…"
    if parsed is None or "@" in (parsed.host or ""):
        # Everything up to the last "@" may be a password holding "@".
        at = rest.rfind("@")
        return url if at < 0 else f"{head}://***@{rest[at + 1 :]}"
    secrets = {name: "***" for name in parsed.query if SECRET_PARAMETER.search(name)}
    if parsed.password is None and not secrets:
        return url  # nothing to hide: show it as written (rendering re-quotes paths)
    if secrets:
        parsed = parsed.update_query_dict(secrets)
    return parsed.render_as_string(hide_password=True).replace("%2A%2A%2A", "***")


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
