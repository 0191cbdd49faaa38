"""``write_report``: the dashboard as one self-contained HTML file.

The file holds the page, plotly.js, the dashboard script and the records
(as JSON in a ``<script type="application/json">`` block), so it opens from a
mail attachment or a bucket with no network. The where filter and the prefix
box run in the page itself (``where.js`` is a port of the library's scanner,
checked against the golden cases in ``tests/where_cases.json``; nothing is ever
evaluated as code).

The page's ES modules become one inline classic script (:func:`bundle_modules`):
a ``file://`` page cannot import modules (no origin), and the policy below
allows the inline scripts by hash only, with no ``data:`` or ``blob:`` sources.

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
import re
import tempfile
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from ..api import ResultTracker
from ..errors import StoreError
from ..query import parse_where
from ._records import corrupt_payload, matches, read_records, records_payload
from .server import PAGE_MODULES, plotly_script, static_file

__all__ = ["bundle_modules", "embed_json", "report_html", "write_report"]

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


_IMPORT = re.compile(r'import \{ ?([\w$]+(?:, ?[\w$]+)*),? ?\} from "\./([\w.-]+\.js)";')
_EXPORT = re.compile(r"export (?:async function|function|class|const) ([\w$]+)(?![\w$])")
_MODULES_NAME = "__resulttrackerModules"


def _read_module(name: str, source: str) -> tuple[dict[str, list[str]], list[str], str]:
    """The imports (module -> names), the exported names and the body of a module."""
    imports: dict[str, list[str]] = {}
    exports: list[str] = []
    body: list[str] = []
    for number, line in enumerate(source.splitlines(), 1):
        if line.startswith("import"):
            found = _IMPORT.fullmatch(line.rstrip())
            if found is None:
                raise ValueError(
                    f"{name}:{number}: only 'import {{ names }} from \"./module.js\";' can be "
                    f"inlined, not {line.strip()[:80]!r}"
                )
            names = [part.strip() for part in found.group(1).split(",")]
            imports.setdefault(found.group(2), []).extend(names)
            continue
        if line.startswith("export"):
            found = _EXPORT.match(line)
            if found is None:
                raise ValueError(
                    f"{name}:{number}: only 'export' before a function, class or const can be "
                    f"inlined, not {line.strip()[:80]!r}"
                )
            exports.append(found.group(1))
            line = line[len("export ") :]
        elif re.search(r"\bimport\s*[(.]|^\s+(?:import|export)\b", line):
            raise ValueError(
                f"{name}:{number}: a dynamic or indented import/export cannot be inlined"
            )
        body.append(line)
    return imports, exports, "\n".join(body)


def bundle_modules(sources: Mapping[str, str], entry: str = "main.js") -> str:
    """The ES modules ``sources`` (file name -> text) as one classic script.

    Each module runs once, after the modules it imports (depth first from
    ``entry``), in a function of its own that returns its exports; its
    ``import`` lines become reads of those. Only the plain forms are accepted,
    ``import { a, b } from "./other.js";`` and ``export`` before a function,
    class or const (whose bindings never change, so a copy is as good as the
    live binding of a module); anything else is refused rather than inlined
    wrongly.

    Raises
    ------
    ValueError
        A module imports a module not in ``sources``, imports a name the other
        does not export, the imports form a cycle, or a line uses a form of
        import or export that cannot be inlined.
    """
    read = {name: _read_module(name, source) for name, source in sources.items()}
    order: list[str] = []
    visiting: list[str] = []

    def visit(name: str) -> None:
        if name in order:
            return
        if name in visiting:
            cycle = " -> ".join([*visiting[visiting.index(name) :], name])
            raise ValueError(f"the modules import each other in a cycle: {cycle}")
        if name not in read:
            importer = f"{visiting[-1]} imports " if visiting else ""
            raise ValueError(f"{importer}{name!r}, which is not among the modules")
        visiting.append(name)
        for imported, names in read[name][0].items():
            visit(imported)
            missing = [n for n in names if n not in read[imported][1]]
            if missing:
                raise ValueError(f"{name} imports {missing[0]!r}, which {imported} does not export")
        visiting.pop()
        order.append(name)

    visit(entry)
    parts = ["(() => {", '"use strict";', f"const {_MODULES_NAME} = new Map();"]
    for name in order:
        imports, exports, body = read[name]
        parts.append(f"// ---- {name}")
        parts.append(f"{_MODULES_NAME}.set({json.dumps(name)}, (() => {{")
        for imported, names in imports.items():
            parts.append(
                f"const {{ {', '.join(names)} }} = {_MODULES_NAME}.get({json.dumps(imported)});"
            )
        parts.append(body)
        parts.append(f"return {{ {', '.join(exports)} }};")
        parts.append("})());")
    parts.append("})();")
    return "\n".join(parts) + "\n"


def page_script() -> str:
    """The page's modules (:data:`~resulttracker.web.server.PAGE_MODULES`) as one script."""
    return bundle_modules({name: static_file(name).decode() for name in PAGE_MODULES})


def _script_hash(source: str) -> str:
    digest = hashlib.sha256(source.encode()).digest()
    return "'sha256-" + base64.b64encode(digest).decode() + "'"


def report_html(payload: dict[str, Any]) -> str:
    """The report page for ``payload`` (``{"records": [...], ...}``)."""
    plotly_source = _inline_script(plotly_script().decode(), "plotly.min.js")
    app_source = _inline_script(page_script(), "the page's modules")
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
