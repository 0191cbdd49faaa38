"""An S3 endpoint on loopback whose faults a test can switch on and off.

moto's S3 application runs behind a small WSGI middleware on a werkzeug server.
The server can be stopped and started again on the same port (moto keeps its
data in process memory), answer 503 for the next N requests, or accept requests
and never answer until released.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request

_SLOW_DOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>ServiceUnavailable</Code>'
    b"<Message>injected fault</Message></Error>"
)


class FaultyS3:
    def __init__(self) -> None:
        self._app = DomainDispatcherApplication(create_backend_app)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.failures_left = 0
        self.requests = 0
        self._hang = threading.Event()  # set: requests hang
        self._release = threading.Event()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        self.requests += 1
        if self._hang.is_set():
            self._release.wait(timeout=60)
        if self.failures_left > 0:
            self.failures_left -= 1
            start_response("503 Service Unavailable", [("Content-Type", "application/xml")])
            return [_SLOW_DOWN]
        response: Iterable[bytes] = self._app(environ, start_response)
        return response

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

    def hang(self) -> None:
        self._release.clear()
        self._hang.set()

    def unhang(self) -> None:
        self._hang.clear()
        self._release.set()
