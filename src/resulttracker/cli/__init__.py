"""The ``resulttracker`` command line, built on click (parsing) and rich (tables, progress).

Commands parse their arguments, call library functions and hand rows to one
formatter; everything else lives in the library.

Layout
------
* :mod:`.app` - the group :data:`cli`, its global options, :class:`Settings`
  (the tracker they name), the errors and their exit statuses, :func:`run`;
* :mod:`.output` - the one ``--format`` option (:func:`output_options`), the
  one formatter (:func:`write_rows`, :func:`write_one`: table, JSON, JSON Lines,
  CSV), :func:`terminal_safe`, progress bars and notes on stderr;
* :mod:`.options` - arguments and options shared by several commands;
* the commands, by what they do: :mod:`.read` (``get``, ``ls``, ``show``,
  ``best``, ``summary``, ``wait``), :mod:`.write` (``put``, ``rm``, ``copy``),
  :mod:`.files` (``export``, ``check``), :mod:`.feed` (``compact``,
  ``watch``), :mod:`.dashboard` (``serve``, ``report``) and :mod:`.demo`.

A command is declared once, in its module, with ``@cli.command()``; the group
gives it the global options (``--base``, ``-o``, ``--cache``, ``--debug``) so that they also
work after the command. A new module of commands is imported below.

Starting fast: this package imports click and the core of the library only;
rich is imported when a table or a progress bar is drawn, and the rest of the
library (queries, statistics, export, copy, the dashboard) by the commands
that use it.
"""

from __future__ import annotations

from ..sorting import natural_key
from . import dashboard, demo, feed, files, read, write  # noqa: F401  (they declare the commands)
from .app import (
    BASE_VARIABLE,
    CACHE_VARIABLE,
    DEFAULT_BASE,
    CommandError,
    InputError,
    ResultTrackerGroup,
    Settings,
    cli,
    exit_status_of,
    parse_storage_options,
    run,
)
from .output import (
    OUTPUT_FORMATS,
    PROGRESS_DELAY,
    ProgressBar,
    output_options,
    terminal_safe,
    write_one,
    write_rows,
)
from .write import parse_value

__all__ = [
    "BASE_VARIABLE",
    "CACHE_VARIABLE",
    "DEFAULT_BASE",
    "OUTPUT_FORMATS",
    "PROGRESS_DELAY",
    "CommandError",
    "InputError",
    "ProgressBar",
    "ResultTrackerGroup",
    "Settings",
    "cli",
    "exit_status_of",
    "natural_key",
    "output_options",
    "parse_storage_options",
    "parse_value",
    "run",
    "terminal_safe",
    "write_one",
    "write_rows",
]
