"""The dashboard: ``serve`` a live page for a store, or write it as one HTML ``report``.

Both need the ``dashboard`` extra (``pip install 'resulttracker[dashboard]'``),
which brings plotly (its plotly.js is served or inlined; nothing is copied into
this repository). The server is this package's own small asyncio HTTP server,
bounded by :class:`ServerLimits`; the app is also a WSGI application.

Views, all driven by one filter (a key prefix and ``where`` conditions):
results table, metric over trials with a best-so-far line, scatter,
parallel coordinates (brushing filters the other views) and groups of
replicas with mean ± SEM.
"""

from __future__ import annotations

from ..api import ResultTracker
from .report import write_report
from .server import DashboardApp, ServerLimits, make_app, serve_forever

__all__ = ["DashboardApp", "ServerLimits", "make_app", "serve", "write_report"]


def serve(
    tracker: ResultTracker,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    refresh: float = 5.0,
    open_browser: bool = False,
    limits: ServerLimits | None = None,
) -> None:
    """Serve the dashboard for ``tracker`` until interrupted; print its address.

    Parameters
    ----------
    tracker : ResultTracker
        The store to show; only ever read.
    host : str, default "127.0.0.1"
        Address to bind. Anything but a loopback address makes every result
        readable by whoever can reach the machine; a warning says so on stderr.
    port : int, default 8765
        Port to bind (0: any free port).
    refresh : float, default 5.0
        Seconds between the page's polls for new and changed keys.
    open_browser : bool, default False
        Open the page in the default web browser.
    limits : ServerLimits, optional
        The server's bounds: worker threads, open connections, timeouts for
        receiving a request and sending an answer, request sizes. The
        defaults (:class:`ServerLimits`) are 8 workers, 512 connections, 10 s
        to send a request, 60 s to take an answer.

    Raises
    ------
    ImportError
        plotly is not installed (``pip install 'resulttracker[dashboard]'``).
    OSError
        The address cannot be bound (e.g. the port is in use).
    """
    serve_forever(
        tracker,
        host=host,
        port=port,
        refresh=refresh,
        open_browser=open_browser,
        limits=limits,
    )
