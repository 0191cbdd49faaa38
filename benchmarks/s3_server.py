"""A loopback S3 endpoint for the benchmarks: moto's server, twice.

One moto application is served on two ports by werkzeug's threaded server: as
is, and behind :class:`Delay`, a WSGI middleware that holds every request for a
fixed time before moto sees it (a realistic object-store round trip). Both
ports see the same buckets. The servers run in their own process so that moto's
CPU time does not compete with the client for the benchmark process's GIL.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

CREDENTIALS = {"key": "testing", "secret": "testing"}


class Delay:
    """WSGI middleware: sleep ``seconds`` before handing each request to ``app``."""

    def __init__(self, app: Callable[..., Iterable[bytes]], seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        time.sleep(self.seconds)
        return self.app(environ, start_response)


def _serve(delay: float, connection: Any) -> None:
    import logging

    # werkzeug logs every request: thousands of lines, and CPU the client would share.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    app = DomainDispatcherApplication(create_backend_app)
    servers = [
        make_server("127.0.0.1", 0, wsgi_app, threaded=True, request_handler=MotoRequestHandler)
        for wsgi_app in (app, Delay(app, delay))
    ]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    connection.send([server.server_address[1] for server in servers])
    connection.recv()  # any message, or the parent's end closing, stops the servers
    for server in servers:
        server.shutdown()


class S3Endpoints:
    """Start the two endpoints in a child process; ``plain`` and ``delayed`` are URLs."""

    def __init__(self, delay: float) -> None:
        context = multiprocessing.get_context("spawn")
        self._connection, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(delay, child), daemon=True)
        self._process.start()
        plain, delayed = self._connection.recv()
        self.plain = f"http://127.0.0.1:{plain}"
        self.delayed = f"http://127.0.0.1:{delayed}"

    def options(self, endpoint: str) -> dict[str, Any]:
        """s3fs storage options for ``endpoint``."""
        return {**CREDENTIALS, "endpoint_url": endpoint}

    def close(self) -> None:
        with contextlib.suppress(BrokenPipeError, OSError):
            self._connection.send("stop")
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join()
