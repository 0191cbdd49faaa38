"""The ``resulttracker`` group: global options, settings, errors and :func:`run`.

* :class:`Settings` holds the global options and opens the tracker on first use
  (:meth:`Settings.tracker`; read commands use :meth:`Settings.existing_tracker`,
  which says so when the base does not exist).
* :class:`ResultTrackerGroup` gives every command the global options (so that
  they also work after the command) and turns every library error into a
  one-line ``Error: ...`` on stderr with the exit status of
  :func:`exit_status_of` (``--debug`` shows the traceback instead).

Exit status: 0 ok; 1 not found, missing base, timeout, check failed, store
failure; 2 bad usage or invalid input (nothing is written then).
"""

from __future__ import annotations

import errno
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click

from .. import _options
from .._urls import redact_url
from ..errors import (
    CorruptResultError,
    ExportError,
    InvalidKeyError,
    InvalidQueryError,
    InvalidResultError,
    MetricNotFoundError,
    ResultTrackerError,
    StatisticsError,
)
from .output import terminal_safe

if TYPE_CHECKING:
    from ..api import ResultTracker

__all__ = [
    "BASE_VARIABLE",
    "CACHE_VARIABLE",
    "DEFAULT_BASE",
    "EXIT_FAILURE",
    "EXIT_USAGE",
    "CommandError",
    "InputError",
    "ResultTrackerGroup",
    "Settings",
    "cli",
    "exit_status_of",
    "parse_storage_options",
    "run",
    "settings",
]

#: Where results are when neither ``--base`` nor ``$RESULTTRACKER_BASE`` says.
DEFAULT_BASE = "./results"
BASE_VARIABLE = "RESULTTRACKER_BASE"
#: The snapshot cache folder when ``--cache`` does not say.
CACHE_VARIABLE = "RESULTTRACKER_CACHE"

#: Exit statuses.
EXIT_FAILURE = 1
EXIT_USAGE = 2


# -- errors --------------------------------------------------------------------------


class CommandError(click.ClickException):
    """A one-line error printed as ``Error: message``; exit status 1."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str) -> None:
        # One line, whatever the library said: the first line carries the message.
        line = message.strip().splitlines()[0] if message.strip() else "failed"
        super().__init__(terminal_safe(line))


class InputError(CommandError):
    """A one-line error about the user's input; exit status 2."""

    exit_code = EXIT_USAGE


def exit_status_of(error: BaseException) -> int:
    """The exit status for a library error: 2 when the user's input is at fault
    (nothing was written), 1 otherwise (not found, timeout, store failure...)."""
    usage = (
        InvalidKeyError,
        InvalidResultError,
        InvalidQueryError,
        MetricNotFoundError,
        ExportError,
        StatisticsError,
        ImportError,
        NotImplementedError,
    )
    return EXIT_USAGE if isinstance(error, usage) else EXIT_FAILURE


def _message_of(error: BaseException) -> str:
    if isinstance(error, InvalidQueryError) and error.condition is not None:
        where = f" (at position {error.position})" if error.position is not None else ""
        return f"invalid --where {error.condition!r}: {error.reason}{where}"
    if isinstance(error, CorruptResultError):
        return f"{error}; 'resulttracker check' lists every corrupt key"
    if isinstance(error, ResultTrackerError):
        return str(error)
    if isinstance(error, (ImportError, NotImplementedError)):
        return str(error)
    if isinstance(error, OSError):
        return f"{type(error).__name__}: {error}"
    return f"unexpected {type(error).__name__}: {error} (run with --debug for the traceback)"


class ResultTrackerGroup(click.Group):
    """A click group whose commands all take the global options, and that turns
    exceptions into one-line errors with an exit status.

    With ``--debug`` the exception propagates, traceback and all.
    """

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        # The global options are accepted after the command too (`resulttracker
        # show --base s3://...`), as git- and kubectl-style commands allow: every
        # command gets copies that update the group's Settings.
        cmd.params.extend(_global_options_for_commands())
        super().add_command(cmd, name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as error:
            found = ctx.find_object(Settings)
            if found is not None and found.debug:
                raise
            if isinstance(error, OSError) and error.errno == errno.EPIPE:
                raise  # click quiets a closed pipe (`resulttracker show | head`)
            status = exit_status_of(error)
            message = _message_of(error)
            raise (InputError(message) if status == EXIT_USAGE else CommandError(message)) from (
                error
            )


# -- global settings -----------------------------------------------------------------


def parse_storage_options(pairs: Iterable[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs to storage options, read as
    :func:`resulttracker._options.parse_storage_options` reads them (the demo too).

    Raises
    ------
    InputError
        A pair has no ``=`` or an empty key (exit status 2).
    """
    try:
        return _options.parse_storage_options(pairs)
    except ValueError as error:
        raise InputError(str(error)) from None


@dataclass
class Settings:
    """The global options, and the tracker they name (opened on first use)."""

    base: str
    option_pairs: tuple[str, ...] = ()
    debug: bool = False
    options: dict[str, Any] = field(default_factory=dict)
    #: ``--cache``: the snapshot cache folder of the tracker at ``--base``, if any.
    cache: str | None = None
    _tracker: ResultTracker | None = None

    def tracker(self) -> ResultTracker:
        """The tracker at ``--base`` (with the snapshot cache of ``--cache``)."""
        if self._tracker is None:
            options = self.options
            if self.cache:
                options = {**options, "snapshot_cache": self.cache}
            self._tracker = self.open(self.base, options)
        return self._tracker

    def existing_tracker(self) -> ResultTracker:
        """The tracker at ``--base``, which must exist: a mistyped base is said,
        not read as an empty store.

        Raises
        ------
        CommandError
            The base (a folder, a bucket, a container) does not exist (exit status 1).
        """
        tracker = self.tracker()
        if not tracker.exists():
            raise missing_base(self.base)
        return tracker

    def open(self, url: str, options: Mapping[str, Any] | None = None) -> ResultTracker:
        """Open the tracker at ``url`` with ``options`` (default: the ``-o`` options)."""
        from ..registry import open_tracker

        try:
            return open_tracker(url, **(self.options if options is None else options))
        except ImportError:
            raise
        except (TypeError, ValueError) as error:
            raise InputError(f"cannot open {redact_url(url)!r}: {error}") from error


def missing_base(url: str) -> CommandError:
    """The error of a read from a base that does not exist (exit status 1)."""
    return CommandError(
        f"the base {redact_url(url)!r} does not exist (check --base or ${BASE_VARIABLE})"
    )


def settings() -> Settings:
    """The settings of the command being run."""
    return click.get_current_context().find_object(Settings) or Settings(DEFAULT_BASE)


# -- the group -----------------------------------------------------------------------

_EPILOG = """\b
Shell completion (bash; use zsh_source or fish_source for those shells):
  eval "$(_RESULTTRACKER_COMPLETE=bash_source resulttracker)"

Exit status: 0 ok, 1 not found (a key, the base) / timeout / check failed,
2 bad usage or input.
"""


def print_version(ctx: click.Context, _parameter: click.Parameter, value: bool) -> None:
    """Print ``resulttracker, version X`` and exit, as click's ``version_option`` would.

    The version is read from the package metadata only here, when ``--version``
    is given: the lookup would otherwise lengthen the start of every command.
    """
    if value and not ctx.resilient_parsing:
        from .._version import version

        click.echo(f"resulttracker, version {version()}")
        ctx.exit()


@click.group(cls=ResultTrackerGroup, epilog=_EPILOG)
@click.option(
    "--base",
    "-b",
    envvar=BASE_VARIABLE,
    default=DEFAULT_BASE,
    show_default=True,
    metavar="URL",
    help=f"Where results live: a folder or a URL such as s3://bucket/exp [env: {BASE_VARIABLE}].",
)
@click.option(
    "--storage-option",
    "-o",
    multiple=True,
    metavar="KEY=VALUE",
    help="Storage option for the store, e.g. -o endpoint_url=http://localhost:9000 (repeatable).",
)
@click.option(
    "--cache",
    envvar=CACHE_VARIABLE,
    metavar="DIR",
    help=(
        "Keep a snapshot of the store in the local folder DIR, so that repeated reads "
        "fetch only what changed (for read-only credentials; ignored for stores "
        f"without version tags) [env: {CACHE_VARIABLE}]."
    ),
)
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=print_version,
    help="Show the version and exit.",
)
@click.pass_context
def cli(
    ctx: click.Context,
    base: str,
    storage_option: tuple[str, ...],
    cache: str | None,
    debug: bool,
) -> None:
    """Read and write job results in a shared store (a folder, S3, GCS...).

    \b
    Examples:
      resulttracker put exp1/trial1 loss=0.12 acc/mean=0.91 acc/sem=0.01
      resulttracker show exp1 --where 'loss < 0.5' --sort loss
      resulttracker -b s3://bucket/runs best acc --max
    """
    ctx.obj = Settings(base, storage_option, debug, cache=cache or None)
    ctx.obj.options = parse_storage_options(storage_option)


# The copies of the global options every command gets: a value given after the
# command updates the group's Settings, and wins.


def _override_base(ctx: click.Context, _: click.Parameter, value: str | None) -> None:
    found = ctx.find_object(Settings)
    if value is not None and found is not None:
        found.base = value
        found._tracker = None


def _add_storage_options(ctx: click.Context, _: click.Parameter, value: tuple[str, ...]) -> None:
    found = ctx.find_object(Settings)
    if value and found is not None:
        found.option_pairs = (*found.option_pairs, *value)
        found.options = {**found.options, **parse_storage_options(value)}
        found._tracker = None


def _override_cache(ctx: click.Context, _: click.Parameter, value: str | None) -> None:
    found = ctx.find_object(Settings)
    if value is not None and found is not None:
        found.cache = value or None
        found._tracker = None


def _enable_debug(ctx: click.Context, _: click.Parameter, value: bool) -> None:
    found = ctx.find_object(Settings)
    if value and found is not None:
        found.debug = True


def _global_options_for_commands() -> list[click.Parameter]:
    shown = "(global option; may also come before the command)"
    return [
        click.Option(
            ["--base", "-b"],
            metavar="URL",
            expose_value=False,
            callback=_override_base,
            help=f"Where results live {shown}.",
        ),
        click.Option(
            ["--storage-option", "-o"],
            multiple=True,
            metavar="KEY=VALUE",
            expose_value=False,
            callback=_add_storage_options,
            help=f"Storage option for the store {shown}.",
        ),
        click.Option(
            ["--cache"],
            metavar="DIR",
            expose_value=False,
            callback=_override_cache,
            help=f"Snapshot cache folder {shown}.",
        ),
        click.Option(
            ["--debug"],
            is_flag=True,
            expose_value=False,
            callback=_enable_debug,
            help=f"Show tracebacks {shown}.",
        ),
    ]


def run(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv``; return the exit status."""
    try:
        cli.main(args=None if argv is None else list(argv), prog_name="resulttracker")
    except SystemExit as exit:
        code = exit.code
        return code if isinstance(code, int) else (0 if code is None else EXIT_FAILURE)
    return 0
