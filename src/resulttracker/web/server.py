"""The read-only dashboard server: a WSGI app and a small HTTP server that bounds its clients.

Routes (``GET`` and ``HEAD`` only; every other method is refused with 405):

* ``/`` the page; ``/static/<module>.js`` (the page's ES modules, see
  :data:`PAGE_MODULES`), ``/static/app.css`` and ``/static/plotly.min.js`` its
  scripts and style, from a fixed table (no request ever names a file);
* ``/api/config`` the poll interval and the store's type;
* ``/api/records?since=&prefix=&where=`` records under ``prefix`` matching
  every ``where`` condition (the library's syntax, parsed by
  :func:`resulttracker.query.parse_where`), all of them or only those that
  changed since the cursor ``since``. Unknown parameters are refused (400).
  Answers are cached for as long as the store does not change
  (:class:`ResponseCache`) and carry an ``ETag``; a matching
  ``If-None-Match`` is answered ``304 Not Modified``.

Every response — pages, the API, static files and every error, including the
server's own refusals of malformed or slow requests — passes through
:func:`finish_response`, which adds the security headers: a
Content-Security-Policy that allows scripts from the server only (no inline
script, no ``eval``) and the rest of :data:`SECURITY_HEADERS`. Requests whose
``Host`` header is not one of the names the server was bound for are refused
(DNS rebinding).

The server (:class:`DashboardServer`) reads and writes every connection in one
asyncio event loop and hands complete requests to a bounded pool of threads, so
clients that open connections and never finish a request cost a socket each,
not a thread; :class:`ServerLimits` holds its timeouts and sizes.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import ipaddress
import re
import socket
import sys
import threading
import traceback
import webbrowser
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.utils import formatdate
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, unquote

from ..api import ResultTracker
from ..errors import InvalidKeyError, InvalidQueryError, ResultTrackerError
from ..query import parse_where
from ..validation import normalize_prefix
from ._checker import StoreChecker
from ._records import ChangeLog, InvalidCursorError, json_bytes, snapshot_body

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "PAGE_MODULES",
    "SECURITY_HEADERS",
    "DashboardApp",
    "DashboardServer",
    "ResponseCache",
    "ServerLimits",
    "finish_response",
    "make_app",
    "run_server",
]

#: The served page may load scripts, styles and data from its own origin only.
#: Styles may be inline because plotly.js sets them on the elements it draws;
#: scripts may not.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

#: Sent with every response, whatever its status.
SECURITY_HEADERS = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
)

#: The page's ES modules in ``static/``, one per concern; ``main.js`` is the
#: entry point. Served as they are (``<script type="module">``, no build step);
#: the report inlines them as one script (:func:`resulttracker.web.report.bundle_modules`).
PAGE_MODULES = (
    "main.js",
    "values.js",
    "where.js",
    "statistics.js",
    "dom.js",
    "state.js",
    "table.js",
    "plots.js",
    "trials.js",
    "scatter.js",
    "parallel.js",
    "groups.js",
    "views.js",
    "live.js",
    "downloads.js",
)

_MODULE_PATHS = {f"/static/{name}": name for name in PAGE_MODULES}
_RECORD_PARAMETERS = {"since", "prefix", "where"}
_GZIP_MINIMUM = 1024

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
Environ = dict[str, Any]
Response = tuple[str, list[tuple[str, str]], bytes]


def finish_response(status: str, headers: list[tuple[str, str]], body: bytes) -> Response:
    """The one way out for every response: its length and the security headers.

    A header of the same name set by the caller is replaced, so no response
    can weaken the policy. A 204 or 304 has no body and no ``Content-Length``
    (RFC 9110: a 304's would have to be the length of the 200 it stands for).
    """
    managed = {name.lower() for name, _ in SECURITY_HEADERS} | {"content-length"}
    kept = [(name, value) for name, value in headers if name.lower() not in managed]
    if not any(name.lower() == "cache-control" for name, _ in kept):
        kept.append(("Cache-Control", "no-store"))
    if status.startswith(("204", "304")):
        return status, [*kept, *SECURITY_HEADERS], b""
    return status, [*kept, ("Content-Length", str(len(body))), *SECURITY_HEADERS], body


def _error(status: str, message: str) -> Response:
    return finish_response(*_text(status, message))


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
    """One of the dashboard's own files (a module of :data:`PAGE_MODULES`, ``app.css``,
    ``index.html``)."""
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


class ResponseCache:
    """Finished ``/api/records`` answers for one state of the store.

    Keyed by the change log's generation (:attr:`ChangeLog.generation`), which
    changes whenever an answer would: the cache only ever holds answers of the
    newest generation it has seen, one per variant (filter, cursor position,
    gzip or not), at most ``max_entries`` of them and ``max_bytes`` of bodies
    together, the least recently used leaving first. Safe to use from several
    threads; two threads that miss at once both build the answer, and either
    one is kept (they are the same bytes).

    Parameters
    ----------
    max_entries : int, default 16
        How many answers are kept.
    max_bytes : int, default 64 MiB
        How many bytes of bodies are kept; a larger answer is not kept at all.
    """

    def __init__(self, max_entries: int = 16, max_bytes: int = 64 << 20) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._generation = -1
        self._responses: OrderedDict[Hashable, Response] = OrderedDict()
        self._bytes = 0
        #: Answers served from the cache, and looks that found none.
        self.hits = 0
        self.misses = 0

    def get(self, generation: int, variant: Hashable) -> Response | None:
        """The answer kept for ``variant`` in ``generation``, if any."""
        with self._lock:
            response = self._responses.get(variant) if generation == self._generation else None
            if response is None:
                self.misses += 1
                return None
            self._responses.move_to_end(variant)
            self.hits += 1
            return response

    def put(self, generation: int, variant: Hashable, response: Response) -> None:
        """Keep ``response`` for ``variant`` in ``generation``; the answers of older
        generations are dropped, and one for an older generation is not kept."""
        size = len(response[2])
        with self._lock:
            if generation < self._generation or size > self.max_bytes:
                return
            if generation > self._generation:
                self._responses.clear()
                self._bytes = 0
                self._generation = generation
            replaced = self._responses.pop(variant, None)
            if replaced is not None:
                self._bytes -= len(replaced[2])
            self._responses[variant] = response
            self._bytes += size
            while len(self._responses) > self.max_entries or self._bytes > self.max_bytes:
                _, dropped = self._responses.popitem(last=False)
                self._bytes -= len(dropped[2])

    def __len__(self) -> int:
        return len(self._responses)

    @property
    def size(self) -> int:
        """Bytes of the bodies kept."""
        return self._bytes

    def clear(self) -> None:
        """Forget every answer."""
        with self._lock:
            self._responses.clear()
            self._bytes = 0


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

    Notes
    -----
    While requests come, a daemon thread (``checker``, see
    :mod:`resulttracker.web._checker`) looks at the store and ``/api/records``
    answers from its latest look; it stops a minute after the last request, and
    :meth:`close` (called by the dashboard's server when it shuts down) stops it.
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
        # Looks at the store in a thread of its own while pages poll (a few of
        # their intervals, at least a minute), so that no poll waits for a listing.
        self.checker = StoreChecker(self.changes, idle_after=max(60.0, 4 * self.refresh))
        self.responses = ResponseCache()
        self._plotly: bytes | None = None
        self._plotly_gzip: bytes | None = None
        plotly_script()  # fail at start-up, not on the first page load, when plotly is missing

    # -- WSGI -----------------------------------------------------------------

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        status, headers, body = self.handle(environ)
        start_response(status, headers)
        return [b""] if environ.get("REQUEST_METHOD") == "HEAD" else [body]

    def handle(self, environ: Environ) -> Response:
        """The finished response to one request (a HEAD's body is for its length only).

        Any failure of the app itself is a 500 with a generic message (the
        traceback goes to stderr, never to the client).
        """
        try:
            response = self.respond(environ)
        except Exception:  # a bug must still answer, with the headers
            traceback.print_exc(file=sys.stderr)
            response = _json_error("500 Internal Server Error", "internal error", False)
        return finish_response(*response)

    def respond(self, environ: Environ) -> Response:
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
            return self._records(query, gzip_ok, environ.get("HTTP_IF_NONE_MATCH", ""))
        if query:
            return _text("400 Bad Request", "this resource takes no parameters\n")
        if path == "/":
            return (
                "200 OK",
                [("Content-Type", "text/html; charset=utf-8")],
                static_file("index.html"),
            )
        if path in _MODULE_PATHS:
            return _static("text/javascript; charset=utf-8", static_file(_MODULE_PATHS[path]))
        if path == "/static/app.css":
            return _static("text/css; charset=utf-8", static_file("app.css"))
        if path == "/static/plotly.min.js":
            return self._plotly_response(gzip_ok)
        if path == "/favicon.ico":
            return "204 No Content", [("Cache-Control", "max-age=3600")], b""
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

    def _records(self, query: str, gzip_ok: bool, if_none_match: str) -> Response:
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
            chosen_prefix = normalize_prefix(prefix)
            # From the latest look at the store (the checker's thread keeps looking):
            # a change by any writer is a new generation, never a cached answer.
            generation, after = self.checker.position(since)
            tag = self._entity_tag(generation, gzip_ok)
            if _tag_matches(if_none_match, tag):
                return "304 Not Modified", [*_RECORDS_HEADERS, ("ETag", tag)], b""
            variant = (after, chosen_prefix, tuple(conditions), gzip_ok)
            cached = self.responses.get(generation, variant)
            if cached is not None:
                return cached
            snapshot = self.changes.snapshot(since, chosen_prefix, where, refresh=False)
        except (InvalidQueryError, InvalidKeyError, InvalidCursorError) as error:
            return _json_error("400 Bad Request", str(error), gzip_ok)
        except ResultTrackerError as error:
            return _json_error("502 Bad Gateway", f"the store failed: {error}", gzip_ok)
        status, headers, body = _json_body(snapshot_body(snapshot), gzip_ok)
        # The snapshot may be of a newer generation than the one looked up.
        tag = self._entity_tag(snapshot.generation, gzip_ok)
        response = status, [*headers, ("ETag", tag)], body
        variant = (snapshot.after, chosen_prefix, tuple(conditions), gzip_ok)
        self.responses.put(snapshot.generation, variant, response)
        return response

    def close(self) -> None:
        """Stop looking at the store in the background (the server does this
        when it is closed); later requests look at it themselves."""
        self.checker.close()

    def _entity_tag(self, generation: int, gzip_ok: bool) -> str:
        """The ``ETag`` of an answer: the state it shows (the log's epoch and
        generation) and its coding; the URL says which records it holds."""
        return f'"{self.changes.epoch}.{generation}{"-gzip" if gzip_ok else ""}"'

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


_RECORDS_HEADERS = (
    ("Content-Type", "application/json; charset=utf-8"),
    ("Cache-Control", "no-store"),
    ("Vary", "Accept-Encoding"),
)


def _json(payload: Any, gzip_ok: bool) -> tuple[str, list[tuple[str, str]], bytes]:
    return _json_body(json_bytes(payload), gzip_ok)


def _json_body(data: bytes, gzip_ok: bool) -> tuple[str, list[tuple[str, str]], bytes]:
    headers = list(_RECORDS_HEADERS)
    if gzip_ok and len(data) >= _GZIP_MINIMUM:
        # mtime 0: the same data is the same bytes, whenever it is compressed.
        compressed = gzip.compress(data, 6, mtime=0)
        return "200 OK", [*headers, ("Content-Encoding", "gzip")], compressed
    return "200 OK", headers, data


def _tag_matches(if_none_match: str, tag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``tag`` (weak comparison, RFC 9110)."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    return any(
        candidate.strip().removeprefix("W/") == tag for candidate in if_none_match.split(",")
    )


def _json_error(status: str, message: str, gzip_ok: bool) -> Response:
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


@dataclass(frozen=True)
class ServerLimits:
    """Bounds that keep the server answering whatever its clients do.

    Connections are read and written by one event loop (an idle or slow
    connection holds no thread); only a complete request is handed to one of
    ``workers`` threads, which computes the answer without touching the
    network.

    Parameters
    ----------
    workers : int, default 8
        Threads computing answers (reading the store); further complete
        requests wait for one.
    max_connections : int, default 512
        Open connections. When a new one would exceed it, the connection that
        has been sending its request the longest is dropped (or, if every one
        is being answered, the new one gets a 503).
    header_timeout : float, default 10.0
        Seconds from a connection's opening to the end of its request (head
        and body); a client slower than that gets a 408 and is disconnected.
    write_timeout : float, default 60.0
        Seconds a client has to take the whole answer before it is
        disconnected.
    max_request_line : int, default 8192
        Bytes in the request line (method, target, version); longer is a 414.
    max_header_bytes : int, default 32768
        Bytes in all header lines together; more is a 431 (as is one header
        line longer than ``max_request_line``).
    max_headers : int, default 100
        Header fields; more is a 431.
    max_body_bytes : int, default 65536
        A request body (the dashboard reads none; it is discarded) declared
        longer is a 413, without reading it.
    """

    workers: int = 8
    max_connections: int = 512
    header_timeout: float = 10.0
    write_timeout: float = 60.0
    max_request_line: int = 8192
    max_header_bytes: int = 32768
    max_headers: int = 100
    max_body_bytes: int = 65536

    def __post_init__(self) -> None:
        for name in ("workers", "max_connections", "max_request_line", "max_headers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)!r}")
        for name in ("header_timeout", "write_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0 seconds, got {getattr(self, name)!r}")
        for name in ("max_header_bytes", "max_body_bytes"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")


class _ProtocolError(Exception):
    """A request the server answers itself, without the app: ``status`` and why."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_VERSION = re.compile(r"HTTP/([0-9])\.([0-9])")


class DashboardServer:
    """The dashboard's HTTP server: bound at creation, serving in :meth:`serve_forever`.

    It speaks the part of HTTP/1.1 a browser needs for a read-only page: one
    request per connection (``Connection: close``), no request bodies. Every
    answer, including its own refusals of malformed or slow requests, is built
    by :func:`finish_response`, so each carries the same security headers.

    Parameters
    ----------
    app : DashboardApp
        What answers the requests.
    host, port : str, int
        The address to bind (port 0: any free port).
    limits : ServerLimits, optional
        Timeouts and sizes; :class:`ServerLimits` gives the defaults.
    """

    def __init__(
        self, app: DashboardApp, host: str, port: int, limits: ServerLimits | None = None
    ) -> None:
        self.app = app
        self.limits = limits or ServerLimits()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.socket = socket.create_server((host, port), family=family, backlog=128)
        self.server_address: tuple[str, int] = self.socket.getsockname()[:2]
        self._executor = ThreadPoolExecutor(
            max_workers=self.limits.workers, thread_name_prefix="resulttracker-dashboard"
        )
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._shutdown_requested = False
        self._finished = threading.Event()
        # Every open connection's transport; those still sending their request, oldest first.
        self._connections: set[asyncio.WriteTransport] = set()
        self._reading: dict[asyncio.WriteTransport, None] = {}

    def get_app(self) -> DashboardApp:
        """The application this server runs."""
        return self.app

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        """Serve until :meth:`shutdown` (from another thread) or Ctrl-C.

        ``poll_interval`` is accepted for compatibility with
        :class:`socketserver.BaseServer` and unused: shutdown is immediate.
        """
        del poll_interval
        self._finished.clear()
        try:
            asyncio.run(self._serve())
        finally:
            with self._lock:
                self._loop = self._stop = None
            self._finished.set()

    def shutdown(self) -> None:
        """Stop :meth:`serve_forever` and wait until it has returned."""
        with self._lock:
            self._shutdown_requested = True
            loop, stop = self._loop, self._stop
        self.app.close()
        if loop is None or stop is None:
            return
        try:
            loop.call_soon_threadsafe(stop.set)
        except RuntimeError:  # the loop has just closed
            return
        self._finished.wait()

    def server_close(self) -> None:
        """Close the listening socket and let the worker threads end."""
        self.socket.close()
        self._executor.shutdown(wait=False, cancel_futures=True)
        self.app.close()

    async def _serve(self) -> None:
        with self._lock:
            if self._shutdown_requested:
                return
            self._loop = asyncio.get_running_loop()
            self._stop = stop = asyncio.Event()
        line_limit = max(self.limits.max_request_line, 1024)
        server = await asyncio.start_server(self._connection, sock=self.socket, limit=line_limit)
        try:
            await stop.wait()
        finally:
            server.close()
            for transport in list(self._connections):
                transport.abort()
            await server.wait_closed()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        transport = writer.transport
        limits = self.limits
        method = "GET"
        refused = False  # answered without reading the whole request
        try:
            if not self._admit(transport):
                refused = True
                response = _error("503 Service Unavailable", "too many open connections\n")
            else:
                try:
                    environ = await asyncio.wait_for(
                        self._read_request(reader), limits.header_timeout
                    )
                except asyncio.TimeoutError:
                    refused = True
                    response = _error("408 Request Timeout", "the request took too long\n")
                except _ProtocolError as problem:
                    refused = True
                    response = _error(problem.status, problem.message + "\n")
                else:
                    method = environ["REQUEST_METHOD"]
                    self._reading.pop(transport, None)
                    loop = asyncio.get_running_loop()
                    response = await loop.run_in_executor(self._executor, self.app.handle, environ)
            self._reading.pop(transport, None)
            await asyncio.wait_for(
                self._send(writer, response, method, reader if refused else None),
                limits.write_timeout,
            )
        except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError, OSError):
            transport.abort()  # the client left, or would not take the answer
        except asyncio.CancelledError:
            transport.abort()
            raise
        except Exception:  # a bug here must cost one connection, never the server
            traceback.print_exc(file=sys.stderr)
            transport.abort()
        finally:
            self._reading.pop(transport, None)
            self._connections.discard(transport)

    def _admit(self, transport: asyncio.WriteTransport) -> bool:
        """Count a new connection, dropping the slowest sender when there are too many.

        False when the server is full of connections that are all being answered.
        """
        if len(self._connections) >= self.limits.max_connections:
            if not self._reading:
                return False
            oldest = next(iter(self._reading))
            del self._reading[oldest]
            self._connections.discard(oldest)
            oldest.abort()
        self._connections.add(transport)
        self._reading[transport] = None
        return True

    async def _read_request(self, reader: asyncio.StreamReader) -> Environ:
        limits = self.limits
        line = await self._read_line(reader, "414 URI Too Long", "the request line is too long")
        if not line.strip():  # RFC 9112: ignore one empty line before the request line
            line = await self._read_line(reader, "414 URI Too Long", "the request line is too long")
        method, target, version = _parse_request_line(line)
        headers: list[tuple[str, str]] = []
        total = 0
        while True:
            line = await self._read_line(
                reader, "431 Request Header Fields Too Large", "a header line is too long"
            )
            if line in ("\r\n", "\n"):
                break
            total += len(line)
            if total > limits.max_header_bytes:
                raise _ProtocolError(
                    "431 Request Header Fields Too Large", "the headers are too large"
                )
            if len(headers) >= limits.max_headers:
                raise _ProtocolError(
                    "431 Request Header Fields Too Large",
                    f"more than {limits.max_headers} header fields",
                )
            headers.append(_parse_header(line))
        environ = _environ(method, target, version, headers, self.server_address)
        await self._discard_body(reader, headers)
        return environ

    async def _read_line(self, reader: asyncio.StreamReader, status: str, message: str) -> str:
        try:
            data = await reader.readuntil(b"\n")
        except asyncio.LimitOverrunError:
            raise _ProtocolError(status, message) from None
        if len(data) > self.limits.max_request_line:
            raise _ProtocolError(status, message)
        return data.decode("iso-8859-1")

    async def _discard_body(
        self, reader: asyncio.StreamReader, headers: list[tuple[str, str]]
    ) -> None:
        names = [name for name, _ in headers]
        lengths = {value.strip() for name, value in headers if name == "content-length"}
        if "transfer-encoding" in names:
            if lengths:
                raise _ProtocolError("400 Bad Request", "both Content-Length and Transfer-Encoding")
            raise _ProtocolError(
                "501 Not Implemented", "request bodies with Transfer-Encoding are not accepted"
            )
        if not lengths:
            return
        if len(lengths) > 1 or not all(
            len(v) <= 20 and v.isascii() and v.isdigit() for v in lengths
        ):
            raise _ProtocolError("400 Bad Request", "invalid Content-Length")
        length = int(lengths.pop())
        if length > self.limits.max_body_bytes:
            raise _ProtocolError(
                "413 Content Too Large",
                f"request bodies are limited to {self.limits.max_body_bytes} bytes (and unused)",
            )
        if length:
            await reader.readexactly(length)

    async def _send(
        self,
        writer: asyncio.StreamWriter,
        response: Response,
        method: str,
        unread: asyncio.StreamReader | None,
    ) -> None:
        status, headers, body = response
        head = [f"HTTP/1.1 {status}", *(f"{name}: {value}" for name, value in headers)]
        head += [f"Date: {formatdate(usegmt=True)}", "Connection: close", "", ""]
        writer.transport.set_write_buffer_limits(high=65536)
        writer.write("\r\n".join(head).encode("iso-8859-1"))
        if method != "HEAD":
            writer.write(body)
        await writer.drain()
        if unread is not None:
            # Closing a socket with unread input makes the kernel reset the
            # connection, which can destroy the answer before the client reads
            # it: end our side, then read (and drop) a little of theirs first.
            writer.write_eof()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(_drain_input(unread, 1 << 16), _LINGER_SECONDS)
        writer.close()
        await writer.wait_closed()


_LINGER_SECONDS = 2.0


async def _drain_input(reader: asyncio.StreamReader, limit: int) -> None:
    while limit > 0:
        data = await reader.read(min(limit, 65536))
        if not data:
            return
        limit -= len(data)


def _parse_request_line(line: str) -> tuple[str, str, str]:
    parts = line.rstrip("\r\n").split(" ")
    if len(parts) != 3 or not _TOKEN.fullmatch(parts[0]) or not parts[1]:
        raise _ProtocolError("400 Bad Request", "malformed request line")
    method, target, version = parts
    found = _VERSION.fullmatch(version)
    if found is None:
        raise _ProtocolError("400 Bad Request", "malformed HTTP version")
    if found.group(1) != "1":
        raise _ProtocolError("505 HTTP Version Not Supported", "HTTP/1.0 and HTTP/1.1 only")
    if not target.startswith("/") or any(ord(c) <= 32 or ord(c) == 127 for c in target):
        raise _ProtocolError("400 Bad Request", "the request target must be a path")
    return method, target, version


def _parse_header(line: str) -> tuple[str, str]:
    if line[:1] in (" ", "\t"):
        raise _ProtocolError("400 Bad Request", "folded header lines are not accepted")
    name, colon, value = line.partition(":")
    if not colon or not _TOKEN.fullmatch(name):
        raise _ProtocolError("400 Bad Request", "malformed header line")
    value = value.strip(" \t\r\n")
    if any((ord(c) < 32 and c != "\t") or ord(c) == 127 for c in value):
        raise _ProtocolError("400 Bad Request", "a control character in a header")
    return name.lower(), value


def _environ(
    method: str,
    target: str,
    version: str,
    headers: list[tuple[str, str]],
    address: tuple[str, int],
) -> Environ:
    path, _, query = target.partition("?")
    environ: Environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": unquote(path, "iso-8859-1"),
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": version,
        "SERVER_NAME": address[0],
        "SERVER_PORT": str(address[1]),
        "SCRIPT_NAME": "",
    }
    for name, value in headers:
        if name == "host" and "HTTP_HOST" in environ:
            raise _ProtocolError("400 Bad Request", "more than one Host header")
        variable = {"content-length": "CONTENT_LENGTH", "content-type": "CONTENT_TYPE"}.get(
            name, "HTTP_" + name.upper().replace("-", "_")
        )
        environ[variable] = f"{environ[variable]},{value}" if variable in environ else value
    return environ


def run_server(
    app: DashboardApp, host: str, port: int, limits: ServerLimits | None = None
) -> DashboardServer:
    """Bind ``app`` to ``host:port`` (0: any free port) without serving yet."""
    return DashboardServer(app, host, port, limits)


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
    limits: ServerLimits | None = None,
) -> None:
    """Run the dashboard until interrupted (Ctrl-C)."""
    if not _loopback(host):
        print(
            f"warning: serving on {host}, reachable from other machines; anyone who can "
            "reach it can read every result in the store (there is no login)",
            file=sys.stderr,
        )
    app = make_app(tracker, refresh=refresh, host=host)
    server = run_server(app, host, port, limits)
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
