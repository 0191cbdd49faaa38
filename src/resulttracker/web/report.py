"""``write_report``: the dashboard as one self-contained HTML file.

The file holds the page, plotly.js, the dashboard script and the records
(as JSON in a ``<script type="application/json">`` block), so it opens from a
mail attachment or a bucket with no network. The where filter and the prefix
box run in the page itself (``app.js`` has a small evaluator of the library's
syntax; nothing is ever evaluated as code).

Escaping: in the JSON block every ``<``, ``>``, ``&`` and the two JavaScript
line separators are written as ``\\uXXXX`` escapes, so no key or value can
close the script element or open a comment; the scripts are checked to
contain no ``</script`` or ``<!--`` either. A Content-Security-Policy in the
page allows exactly the two inline scripts (by SHA-256 hash) and no network.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import tempfile
import time
from typing import Any
from urllib.parse import unquote, urlsplit

from ..api import ResultTracker
from ..errors import StoreError
from ..query import parse_where
from ._records import corrupt_payload, matches, read_records, records_payload
from .server import plotly_script, static_file

__all__ = ["embed_json", "report_html", "write_report"]

_JSON_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def embed_json(payload: Any) -> str:
    """``payload`` as JSON that is safe inside a ``<script>`` element.

    A lone surrogate (which UTF-8 cannot hold) can only sit inside a JSON
    string, where it is written as its ``\\uXXXX`` escape.
    """
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return "".join(
        _JSON_ESCAPES.get(character)
        or (f"\\u{ord(character):04x}" if "\ud800" <= character <= "\udfff" else character)
        for character in text
    )


def _inline_script(source: str, name: str) -> str:
    lowered = source.lower()
    if "</script" in lowered or "<!--" in lowered:
        # Cannot happen with the shipped files; refuse rather than write a broken page.
        raise ValueError(f"{name} contains '</script' or '<!--' and cannot be inlined")
    return source


def _script_hash(source: str) -> str:
    digest = hashlib.sha256(source.encode()).digest()
    return "'sha256-" + base64.b64encode(digest).decode() + "'"


def report_html(payload: dict[str, Any]) -> str:
    """The report page for ``payload`` (``{"records": [...], ...}``)."""
    plotly_source = _inline_script(plotly_script().decode(), "plotly.min.js")
    app_source = _inline_script(static_file("app.js").decode(), "app.js")
    style = static_file("app.css").decode()
    if "</style" in style.lower():
        raise ValueError("app.css contains '</style' and cannot be inlined")
    policy = (
        "default-src 'none'; "
        f"script-src {_script_hash(plotly_source)} {_script_hash(app_source)}; "
        "style-src 'unsafe-inline'; img-src data: blob:; connect-src 'none'; "
        "base-uri 'none'; form-action 'none'"
    )
    page = static_file("index.html").decode()
    head_end = page.index("<!-- scripts -->")
    body_start = page.index("<!-- /scripts -->")
    return (
        page[:head_end].replace(
            '<link rel="stylesheet" href="/static/app.css">',
            f'<meta http-equiv="Content-Security-Policy" content="{policy}">\n'
            f"<style>\n{style}</style>",
        )
        + f'<script type="application/json" id="resulttracker-data">{embed_json(payload)}'
        "</script>\n"
        f"<script>{app_source}</script>\n"
        f"<script>{plotly_source}</script>\n" + page[body_start:]
    )


def write_report(
    tracker: ResultTracker,
    destination: str,
    *,
    prefix: str | None = None,
    where: list[str] | None = None,
) -> int:
    """Write the dashboard as one self-contained HTML file; return the row count.

    Parameters
    ----------
    tracker : ResultTracker
        The store to read.
    destination : str
        A local path or an fsspec URL (``s3://bucket/report.html``) written
        with the URL's default credentials. A local file is written through
        a new temporary file with a random name in the same folder, renamed
        over the destination when complete; a destination that is a symlink
        is replaced, never written through.
    prefix : str, optional
        Only keys equal to it or below it.
    where : list of str, optional
        Conditions (library syntax) every included key must satisfy.

    Returns
    -------
    int
        The number of records in the report. Keys whose documents are
        corrupt are left out and listed in the page (how many, and the first
        100 keys with the reason).

    Raises
    ------
    ImportError
        plotly is not installed (``pip install 'resulttracker[dashboard]'``).
    InvalidQueryError, InvalidKeyError
        A condition or the prefix is invalid; nothing is written.
    StoreError
        The destination could not be written.
    """
    condition = parse_where(where)
    plotly_script()  # the install hint before any reading
    found, corrupt = read_records(tracker, prefix)
    records = records_payload(record for record in found if matches(condition, record.results))
    payload = {
        "mode": "report",
        "store": type(tracker).__name__,
        "generated": round(time.time(), 3),
        "selection": {"prefix": prefix or "", "where": [c.source for c in condition.conditions]},
        "records": records,
        **corrupt_payload(corrupt),
    }
    html = report_html(payload).encode()
    _write_bytes(os.fspath(destination), html)
    return len(records)


def _write_bytes(destination: str, data: bytes) -> None:
    if destination.startswith("file://"):
        destination = unquote(urlsplit(destination).path)
    if "://" not in destination:
        _write_local(destination, data)
        return
    import fsspec

    from .._urls import redact_url

    try:
        with fsspec.open(destination, "wb") as file:
            file.write(data)
    except (OSError, ValueError) as error:
        raise StoreError(
            f"could not write the report to {redact_url(destination)}: {error}"
        ) from error


def _write_local(destination: str, data: bytes) -> None:
    """Write ``data`` to ``destination`` whole or not at all, through nothing planted.

    The temporary file is created by :func:`tempfile.mkstemp` in the
    destination's folder: a random name, opened with ``O_CREAT | O_EXCL`` (and
    ``O_NOFOLLOW``), so a file or symlink planted at any name it might take is
    never opened; then it is renamed over the destination. A destination that
    is a symlink is replaced by the report (the link goes, its target is never
    written); so is a hard link (the other names keep the old content).
    """
    folder = os.path.dirname(os.path.abspath(destination))
    try:
        descriptor, temporary = tempfile.mkstemp(
            dir=folder, prefix=f".{os.path.basename(destination)}.", suffix=".tmp"
        )
    except OSError as error:
        raise StoreError(f"could not write the report to {destination}: {error}") from error
    try:
        with os.fdopen(descriptor, "wb") as file:
            os.fchmod(file.fileno(), 0o666 & ~_umask())  # as open() would have made it
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, destination)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        if isinstance(error, OSError):
            raise StoreError(f"could not write the report to {destination}: {error}") from error
        raise


def _umask() -> int:
    """The process's umask, read without changing it (Linux), else the usual 022."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022
