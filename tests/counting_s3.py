"""An S3 endpoint on loopback that counts the requests it serves, by kind.

moto's S3 application behind a WSGI middleware that sorts each request into
``LIST`` (a bucket listing), ``GET`` (an object read), ``HEAD``, ``PUT``,
``DELETE`` or ``OTHER``, so that tests can assert what an operation costs.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from .faulty_s3 import FaultyS3


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


class CountingS3(FaultyS3):
    """moto's S3 on a free loopback port (see :class:`FaultyS3`); ``counts`` maps a
    kind to its requests."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()

    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with self._lock:
            self.counts[request_kind(environ)] += 1
        return super()._wsgi(environ, start_response)

    def reset(self) -> None:
        with self._lock:
            self.counts.clear()

    def snapshot(self) -> dict[str, int]:
        """The counts so far, without the zero ones."""
        with self._lock:
            return {kind: count for kind, count in self.counts.items() if count}
