"""The read-only dashboard server: a WSGI app and the standard library's threading server.

Routes (``GET`` and ``HEAD`` only; every other method is refused with 405):

* ``/`` the page; ``/static/app.js``, ``/static/app.css`` and
  ``/static/plotly.min.js`` its scripts and style, from a fixed table (no
  request ever names a file);
* ``/api/config`` the poll interval and the store's type;
* ``/api/records?since=&prefix=&where=`` records under ``prefix`` matching
  every ``where`` condition (the library's syntax, parsed by
  :func:`resulttracker.query.parse_where`), all of them or only those that
  changed since the cursor ``since``. Unknown parameters are refused (400).

Every response carries a Content-Security-Policy that allows scripts from the
server only (no inline script, no ``eval``); requests whose ``Host`` header is
not one of the names the server was bound for are refused (DNS rebinding).
"""

from __future__ import annotations

import gzip
import ipaddress
import json
import socket
import sys
import threading
import webbrowser
from collections.abc import Callable, Iterable
from importlib import resources
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from ..api import ResultTracker
from ..errors import InvalidKeyError, InvalidQueryError, ResultTrackerError
from ..query import parse_where
from ._records import ChangeLog, snapshot_payload

__all__ = ["CONTENT_SECURITY_POLICY", "DashboardApp", "make_app", "run_server"]

#: The served page may load scripts, styles and data from its own origin only.
#: Styles may be inline because plotly.js sets them on the elements it draws;
#: scripts may not.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

_SECURITY_HEADERS = [
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
]

_RECORD_PARAMETERS = {"since", "prefix", "where"}
_GZIP_MINIMUM = 1024

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
Environ = dict[str, Any]


def plotly_script() -> bytes:
    """plotly.js as shipped inside the ``plotly`` Python package.

    Raises
    ------
    ImportError
        The ``plotly`` package is not installed.
    """
    try:
        import plotly
    except ImportError as error:
        raise ImportError(
            f"the dashboard needs plotly ({error}); pip install 'resulttracker[dashboard]'"
        ) from error
    return (resources.files(plotly) / "package_data" / "plotly.min.js").read_bytes()


def static_file(name: str) -> bytes:
    """One of the dashboard's own files (``app.js``, ``app.css``, ``index.html``)."""
    return (resources.files(__package__) / "static" / name).read_bytes()


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _host_names(host: str) -> set[str]:
    """The names a browser may use in ``Host`` for a server bound to ``host``."""
    names = {host.lower(), "localhost", "127.0.0.1", "[::1]"}
    if not _loopback(host):
        names |= {socket.gethostname().lower(), socket.getfqdn().lower()}
    return names


class DashboardApp:
    """The WSGI application: the page, its static files and the read-only JSON API.

    Parameters
    ----------
    tracker : ResultTracker
        The store to show; only ever read.
    refresh : float
        Seconds between the page's polls.
    allowed_hosts : iterable of str, optional
        Host names (without port) accepted in the ``Host`` header; IP literals
        are accepted too when the server is bound to a non-loopback address.
        Default: the loopback names.
    allow_ip_hosts : bool
        Accept any IP literal as ``Host`` (a DNS-rebinding page always sends a
        domain name, never an IP, so this is safe to allow).
    """

    def __init__(
        self,
        tracker: ResultTracker,
        *,
        refresh: float = 5.0,
        allowed_hosts: Iterable[str] | None = None,
        allow_ip_hosts: bool = False,
    ) -> None:
        if not refresh > 0:
            raise ValueError(f"refresh must be > 0 seconds, got {refresh!r}")
        self.tracker = tracker
        self.refresh = float(refresh)
        self.allowed_hosts = {name.lower() for name in (allowed_hosts or _host_names("127.0.0.1"))}
        self.allow_ip_hosts = allow_ip_hosts
        self.changes = ChangeLog(tracker, min_interval=min(1.0, self.refresh / 2))
        self._plotly: bytes | None = None
        self._plotly_gzip: bytes | None = None
        plotly_script()  # fail at start-up, not on the first page load, when plotly is missing

    # -- WSGI -----------------------------------------------------------------

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        status, headers, body = self.respond(environ)
        if environ.get("REQUEST_METHOD") == "HEAD":
            headers = [*headers, ("Content-Length", str(len(body)))]
            body = b""
        else:
            headers = [*headers, ("Content-Length", str(len(body)))]
        start_response(status, [*headers, *_SECURITY_HEADERS])
        return [body]

    def respond(self, environ: Environ) -> tuple[str, list[tuple[str, str]], bytes]:
        """Status, headers and body for one request."""
        if not self._host_allowed(environ.get("HTTP_HOST", "")):
            return _text("421 Misdirected Request", "unknown Host header\n")
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in ("GET", "HEAD"):
            status, headers, body = _text("405 Method Not Allowed", "read-only: GET only\n")
            return status, [*headers, ("Allow", "GET, HEAD")], body
        path = environ.get("PATH_INFO", "/")
        query = environ.get("QUERY_STRING", "")
        gzip_ok = "gzip" in environ.get("HTTP_ACCEPT_ENCODING", "")
        if path == "/api/records":
            return self._records(query, gzip_ok)
        if query:
            return _text("400 Bad Request", "this resource takes no parameters\n")
        if path == "/":
            return (
                "200 OK",
                [("Content-Type", "text/html; charset=utf-8")],
                static_file("index.html"),
            )
        if path == "/static/app.js":
            return _static("text/javascript; charset=utf-8", static_file("app.js"))
        if path == "/static/app.css":
            return _static("text/css; charset=utf-8", static_file("app.css"))
        if path == "/static/plotly.min.js":
            return self._plotly_response(gzip_ok)
        if path == "/favicon.ico":
            return "204 No Content", [], b""
        if path == "/api/config":
            return _json(
                {"refresh": self.refresh, "store": type(self.tracker).__name__, "mode": "live"},
                gzip_ok,
            )
        return _text("404 Not Found", "not found\n")

    def _host_allowed(self, host_header: str) -> bool:
        host = host_header.strip().lower()
        if host.startswith("["):
            name = host[: host.find("]") + 1] if "]" in host else host
        else:
            name = host.rsplit(":", 1)[0] if ":" in host else host
        if name in self.allowed_hosts:
            return True
        if self.allow_ip_hosts:
            try:
                ipaddress.ip_address(name.strip("[]"))
            except ValueError:
                return False
            return True
        return False

    def _records(self, query: str, gzip_ok: bool) -> tuple[str, list[tuple[str, str]], bytes]:
        try:
            parameters = parse_qs(query, keep_blank_values=True, strict_parsing=bool(query))
        except ValueError:
            return _text("400 Bad Request", "malformed query string\n")
        unknown = sorted(set(parameters) - _RECORD_PARAMETERS)
        if unknown:
            return _text(
                "400 Bad Request",
                f"unknown parameter {unknown[0]!r}; accepted: since, prefix, where\n",
            )
        if len(parameters.get("since", [])) > 1 or len(parameters.get("prefix", [])) > 1:
            return _text("400 Bad Request", "since and prefix may be given once\n")
        since = parameters.get("since", [""])[0] or None
        prefix = parameters.get("prefix", [""])[0] or None
        conditions = [text for text in parameters.get("where", []) if text.strip()]
        try:
            where = parse_where(conditions)
            snapshot = self.changes.snapshot(since, prefix, where)
        except (InvalidQueryError, InvalidKeyError) as error:
            return _json_error("400 Bad Request", str(error), gzip_ok)
        except ResultTrackerError as error:
            return _json_error("502 Bad Gateway", f"the store failed: {error}", gzip_ok)
        status, headers, body = _json(snapshot_payload(snapshot), gzip_ok)
        return status, headers, body

    def _plotly_response(self, gzip_ok: bool) -> tuple[str, list[tuple[str, str]], bytes]:
        if self._plotly is None:
            self._plotly = plotly_script()
            self._plotly_gzip = gzip.compress(self._plotly, compresslevel=6)
        headers = [
            ("Content-Type", "text/javascript; charset=utf-8"),
            ("Cache-Control", "max-age=3600"),
            ("Vary", "Accept-Encoding"),
        ]
        if gzip_ok and self._plotly_gzip is not None:
            return "200 OK", [*headers, ("Content-Encoding", "gzip")], self._plotly_gzip
        return "200 OK", headers, self._plotly


def _text(status: str, message: str) -> tuple[str, list[tuple[str, str]], bytes]:
    return status, [("Content-Type", "text/plain; charset=utf-8")], message.encode()


def _static(content_type: str, body: bytes) -> tuple[str, list[tuple[str, str]], bytes]:
    return "200 OK", [("Content-Type", content_type), ("Cache-Control", "no-cache")], body


def _json(payload: Any, gzip_ok: bool) -> tuple[str, list[tuple[str, str]], bytes]:
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    data = body.encode()
    headers = [
        ("Content-Type", "application/json; charset=utf-8"),
        ("Cache-Control", "no-store"),
        ("Vary", "Accept-Encoding"),
    ]
    if gzip_ok and len(data) >= _GZIP_MINIMUM:
        return "200 OK", [*headers, ("Content-Encoding", "gzip")], gzip.compress(data, 6)
    return "200 OK", headers, data


def _json_error(
    status: str, message: str, gzip_ok: bool
) -> tuple[str, list[tuple[str, str]], bytes]:
    _, headers, body = _json({"error": message}, gzip_ok)
    return status, headers, body


def make_app(
    tracker: ResultTracker, *, refresh: float = 5.0, host: str = "127.0.0.1"
) -> DashboardApp:
    """The dashboard's WSGI application for ``tracker``, as :func:`serve` runs it.

    Parameters
    ----------
    tracker : ResultTracker
        The store to show; only ever read.
    refresh : float, default 5.0
        Seconds between the page's polls.
    host : str, default "127.0.0.1"
        The address the app will be served on; decides which ``Host`` headers
        are accepted.

    Raises
    ------
    ImportError
        plotly is not installed (``pip install 'resulttracker[dashboard]'``).
    """
    return DashboardApp(
        tracker,
        refresh=refresh,
        allowed_hosts=_host_names(host),
        allow_ip_hosts=not _loopback(host),
    )


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def run_server(app: DashboardApp, host: str, port: int) -> _ThreadingServer:
    """Bind ``app`` to ``host:port`` (0: any free port) without serving yet."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET

    class Server(_ThreadingServer):
        address_family = family

    server = make_server(host, port, app, server_class=Server, handler_class=_QuietHandler)
    return server


def page_address(host: str, port: int) -> str:
    """The URL to open for a server on ``host:port``."""
    shown = f"[{host}]" if ":" in host else host
    if host in ("0.0.0.0", "::"):
        shown = "127.0.0.1"
    return f"http://{shown}:{port}/"


def serve_forever(
    tracker: ResultTracker,
    *,
    host: str,
    port: int,
    refresh: float,
    open_browser: bool,
    ready: Callable[[str], None] | None = None,
) -> None:
    """Run the dashboard until interrupted (Ctrl-C)."""
    if not _loopback(host):
        print(
            f"warning: serving on {host}, reachable from other machines; anyone who can "
            "reach it can read every result in the store (there is no login)",
            file=sys.stderr,
        )
    app = make_app(tracker, refresh=refresh, host=host)
    server = run_server(app, host, port)
    bound_port = server.server_address[1]
    address = page_address(host, bound_port)
    print(f"resulttracker dashboard for {tracker!r} at {address} (Ctrl-C to stop)", flush=True)
    if ready is not None:
        ready(address)
    if open_browser:
        threading.Thread(target=webbrowser.open, args=(address,), daemon=True).start()
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
