"""Arguments and options shared by several commands, and shell completion of keys."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .app import DEFAULT_BASE, Settings, parse_storage_options

if TYPE_CHECKING:
    from click.shell_completion import CompletionItem

__all__ = [
    "complete_keys",
    "dest_options",
    "key_argument",
    "prefix_argument",
    "seconds_option",
    "where_option",
]

F = TypeVar("F", bound=Callable[..., Any])


def complete_keys(
    ctx: click.Context, parameter: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Complete a key or prefix from the store named on the command line so far."""
    from click.shell_completion import CompletionItem

    params = ctx.find_root().params
    try:
        found = Settings(
            params.get("base") or DEFAULT_BASE,
            options=parse_storage_options(params.get("storage_option") or ()),
        )
        parent = incomplete.rpartition("/")[0]
        keys = itertools.islice(found.tracker().keys(parent or None), 10_000)
        return [CompletionItem(key) for key in keys if key.startswith(incomplete)]
    except Exception:  # completion must never print a traceback into the shell
        return []


def key_argument(name: str, **kwargs: Any) -> Callable[[F], F]:
    """A key argument, completed from the store."""
    return click.argument(name, shell_complete=complete_keys, **kwargs)


def prefix_argument() -> Callable[[F], F]:
    """The optional PREFIX argument of the commands that read many keys."""
    return click.argument("prefix", required=False, shell_complete=complete_keys)


def seconds_option(
    *names: str, default: float | None, help: str, zero: bool = True
) -> Callable[[F], F]:
    """An option of a duration in seconds, at least 0 (more than 0 unless
    ``zero``); its default is shown unless it is ``None``."""
    return click.option(
        *names,
        type=click.FloatRange(min=0, min_open=not zero),
        default=default,
        show_default=default is not None,
        metavar="SECONDS",
        help=help,
    )


def where_option() -> Callable[[F], F]:
    """``--where COND``, repeatable; the command receives the tuple of conditions."""
    return click.option(
        "--where",
        "-w",
        "where",
        multiple=True,
        metavar="COND",
        help="Keep keys whose results satisfy COND, e.g. 'loss < 0.5' (repeat: all must hold).",
    )


def dest_options() -> Callable[[F], F]:
    """``--dest-option KEY=VALUE``: storage options of a destination."""
    return click.option(
        "--dest-option",
        "dest_option",
        multiple=True,
        metavar="KEY=VALUE",
        help="Storage option for the destination (default: the global -o options).",
    )
