"""Commands of the dashboard extra: ``serve`` and ``report``."""

from __future__ import annotations

import importlib
from types import ModuleType

import click

from .app import InputError, cli, settings
from .options import prefix_argument, seconds_option, where_option
from .output import note, plural

DASHBOARD_HINT = "the dashboard needs: pip install 'resulttracker[dashboard]'"


def _web() -> ModuleType:
    try:
        return importlib.import_module("resulttracker.web")
    except ImportError as error:
        raise InputError(DASHBOARD_HINT) from error


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True)
@seconds_option(
    "--refresh", default=5.0, zero=False, help="How often the page reloads the results."
)
@click.option("--no-browser", is_flag=True, help="Do not open a web browser.")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="Threads answering requests (reading the store).",
)
@click.option(
    "--max-connections",
    type=click.IntRange(min=1),
    default=512,
    show_default=True,
    help="Open connections; beyond it the slowest sender is dropped.",
)
@seconds_option(
    "--request-timeout",
    default=10.0,
    zero=False,
    help="Time a client has to send its whole request.",
)
def serve(
    host: str,
    port: int,
    refresh: float,
    no_browser: bool,
    workers: int,
    max_connections: int,
    request_timeout: float,
) -> None:
    """Serve a live dashboard of the results (needs the dashboard extra)."""
    web = _web()
    tracker = settings().existing_tracker()
    limits = web.ServerLimits(
        workers=workers, max_connections=max_connections, header_timeout=request_timeout
    )
    web.serve(
        tracker, host=host, port=port, refresh=refresh, open_browser=not no_browser, limits=limits
    )


@cli.command()
@click.argument("destination", metavar="DEST.html")
@prefix_argument()
@where_option()
def report(destination: str, prefix: str | None, where: tuple[str, ...]) -> None:
    """Write a self-contained HTML report of the results (needs the dashboard extra)."""
    from ..query import parse_where

    web = _web()
    parse_where(list(where))  # refuse a bad condition before anything is read
    tracker = settings().existing_tracker()
    rows = web.write_report(tracker, destination, prefix=prefix, where=list(where))
    note(f"wrote {plural(int(rows), 'row')} to {destination}")
