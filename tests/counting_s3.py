"""An S3 endpoint on loopback that counts the requests it serves, by kind.

moto's S3 application behind a WSGI middleware that sorts each request into
``LIST`` (a bucket listing), ``GET`` (an object read), ``HEAD``, ``PUT``,
``DELETE`` or ``OTHER``, so that tests can assert what an operation costs.
"""

from __future__ import annotations

import collections
import logging
import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

logging.getLogger("werkzeug").setLevel(logging.ERROR)


def request_kind(environ: dict[str, Any]) -> str:
    """``LIST``, ``GET``, ``HEAD``, ``PUT``, ``DELETE`` or ``OTHER``."""
    method = environ["REQUEST_METHOD"]
    path = environ.get("PATH_INFO", "").strip("/")
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    if method == "GET":
        if "/" not in path and ("list-type" in query or "prefix" in query or not query):
            return "LIST"
        return "GET" if "/" in path else "OTHER"
    if method in ("HEAD", "PUT", "DELETE"):
        return method
    return "OTHER"


class CountingS3:
    """moto's S3 on a free loopback port; ``counts`` maps a kind to its requests."""

    def __init__(self) -> None:
        self._app = DomainDispatcherApplication(create_backend_app)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.counts: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with self._lock:
            self.counts[request_kind(environ)] += 1
        response: Iterable[bytes] = self._app(environ, start_response)
        return response

    def reset(self) -> None:
        with self._lock:
            self.counts.clear()

    def snapshot(self) -> dict[str, int]:
        """The counts so far, without the zero ones."""
        with self._lock:
            return {kind: count for kind, count in self.counts.items() if count}

    def start(self) -> None:
        self._server = make_server("127.0.0.1", self.port, self._wsgi, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        assert self._server is not None
        assert self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        self._server = None
