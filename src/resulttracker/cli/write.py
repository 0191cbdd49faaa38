"""Commands that write: ``put``, ``rm`` and ``copy``.

``put`` creates a folder base that does not exist yet (a job's first result
does); an object store's bucket or container is never created.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable

import click

from ..errors import InvalidResultError
from ..model import Results, ResultType
from ..validation import normalize_key, normalize_keys, normalize_prefix
from .app import CommandError, InputError, cli, missing_base, parse_storage_options, settings
from .options import dest_options, key_argument, prefix_argument
from .output import ProgressBar, listing, note, plural

__all__ = ["parse_value"]

_INTEGER = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(
    r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|nan|inf|infinity)",
    re.IGNORECASE,
)


def parse_value(text: str) -> ResultType:
    """A ``put`` value: an int if it reads as one, else a float (``nan``,
    ``inf``, ``-inf`` and exponents included), else the text itself.

    Only plain decimal notation counts as a number: ``1_000``, ``0x10`` and
    ``true`` stay text.

    Raises
    ------
    InvalidResultError
        An integer of more digits than Python converts (4,300), which no
        reader could read back.
    """
    if _INTEGER.fullmatch(text):
        try:
            return int(text)
        except ValueError:  # over the interpreter's digit limit
            raise InvalidResultError(
                f"the integer {text[:12]}... has {len(text.lstrip('+-'))} digits, "
                "more than Python reads back"
            ) from None
    if _FLOAT.fullmatch(text):
        return float(text)
    return text


def _parse_pairs(pairs: Iterable[str], texts: Iterable[str]) -> Results:
    results: Results = {}
    for pair, as_text in itertools.chain(
        ((pair, False) for pair in pairs), ((pair, True) for pair in texts)
    ):
        name, separator, value = pair.partition("=")
        if not separator or not name:
            raise InputError(f"result {pair!r} is not NAME=VALUE")
        if name in results:
            raise InputError(f"result {name!r} is given twice")
        results[name] = value if as_text else parse_value(value)
    return results


@cli.command()
@key_argument("key")
@click.argument("results", nargs=-1, metavar="NAME=VALUE...")
@click.option(
    "--str",
    "texts",
    multiple=True,
    metavar="NAME=VALUE",
    help="A result stored as text even if it reads as a number (repeatable).",
)
def put(key: str, results: tuple[str, ...], texts: tuple[str, ...]) -> None:
    """Write results under KEY, replacing what was there.

    Values read as int, then float (nan, inf, -inf included), else text.

    \b
    Example:
      resulttracker put exp1/trial1 loss=0.12 acc/mean=0.91 acc/sem=0.01 --str seed=007
    """
    parsed = _parse_pairs(results, texts)
    if not parsed:
        raise InputError(f"no results given for key {key!r}: pass NAME=VALUE...")
    name = normalize_key(key)  # checked before the store is even opened
    settings().tracker().put(name, **parsed)


@cli.command(name="rm")
@key_argument("keys", nargs=-1, metavar="[KEY]...")
@click.option("--prefix", "-p", metavar="P", help="Delete every key under P ('/': all keys).")
@click.option("--yes", "-y", is_flag=True, help="Confirm the deletion of a prefix.")
def remove(keys: tuple[str, ...], prefix: str | None, yes: bool) -> None:
    """Delete KEYs, or every key under --prefix (which needs --yes).

    Exit status 1 if a KEY had no results (the others are still deleted).
    """
    if bool(keys) == (prefix is not None):
        raise click.UsageError("give either KEYs or --prefix P")
    tracker = settings().tracker()
    if prefix is None:
        missing = [key for key in normalize_keys(keys) if not tracker.delete(key)]
        if missing:
            raise CommandError(f"no results at {plural(len(missing), 'key')}: {listing(missing)}")
        return
    if not prefix:
        raise InputError("--prefix must not be empty (use --prefix / for every key)")
    doomed = list(tracker.keys(prefix))
    scope = "in the store" if normalize_prefix(prefix) == "" else f"under {prefix!r}"
    if not doomed:
        raise CommandError(f"no keys {scope}")
    if not yes:
        raise InputError(f"not deleting {plural(len(doomed), 'key')} {scope} without --yes")
    deleted = 0
    with ProgressBar("deleting") as bar:
        for number, key in enumerate(doomed, 1):
            deleted += tracker.delete(key)
            bar.update(number, len(doomed))
    note(f"deleted {plural(deleted, 'key')} {scope}")


@cli.command(name="copy")
@click.argument("source", metavar="SRC")
@click.argument("destination", metavar="DEST")
@prefix_argument()
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace keys that DEST already has with other results (default: keep them "
    "and fail, listing them).",
)
@dest_options()
def copy_command(
    source: str,
    destination: str,
    prefix: str | None,
    overwrite: bool,
    dest_option: tuple[str, ...],
) -> None:
    """Copy the results under PREFIX from the store SRC to the store DEST.

    Values are copied exactly (types, NaN, infinities). A key DEST already has
    is kept unless --overwrite: identical results count as unchanged, other
    results make the copy fail with exit status 1 and are listed. The global
    -o options apply to SRC (and to DEST unless --dest-option is given);
    --base is not used. A SRC that does not exist is an error.

    \b
    Example:
      resulttracker -o profile=lab copy ./results s3://bucket/results exp1
    """
    from .._urls import redact_url
    from ..transfer import copy

    found = settings()
    normalize_prefix(prefix)  # checked before any store is opened
    source_tracker = found.open(source)
    options = parse_storage_options(dest_option) if dest_option else None
    destination_tracker = found.open(destination, options)
    if not source_tracker.exists():
        raise missing_base(source)
    with ProgressBar("copying") as bar:
        report = copy(
            source_tracker,
            destination_tracker,
            prefix=prefix,
            overwrite=overwrite,
            progress=lambda so_far: bar.update(so_far.read),
        )
    note(
        f"copied {plural(report.copied, 'key')} to {redact_url(destination)}"
        f" ({report.unchanged} already identical)"
    )
    problems = []
    if report.conflicts:
        problems.append(
            f"{plural(len(report.conflicts), 'key')} already in DEST with other results "
            f"(not copied: {listing(report.conflicts)}; --overwrite replaces them)"
        )
    if report.corrupt:
        problems.append(
            f"{plural(len(report.corrupt), 'corrupt key')} in SRC "
            f"(not copied: {listing(report.corrupt)})"
        )
    if problems:
        raise CommandError("; ".join(problems))
