"""Commands on whole stores and files: ``export`` and ``check``."""

from __future__ import annotations

import sys
from typing import Any

import click

from .app import CommandError, cli, parse_storage_options, settings
from .options import dest_options, prefix_argument, seconds_option, where_option
from .output import ProgressBar, note, output_options, plural, write_rows

#: The file formats of ``export``: those of :data:`resulttracker.export.FORMATS`,
#: written out so that the command line starts without importing the export
#: module (a test checks that the two agree).
EXPORT_FORMATS = ("csv", "jsonl", "json", "parquet")


@cli.command(name="export")
@click.argument("destination", metavar="DEST")
@prefix_argument()
@where_option()
@click.option(
    "--format",
    "-f",
    "file_format",
    type=click.Choice(EXPORT_FORMATS),
    default=None,
    help="File format [default: from DEST's suffix].",
)
@dest_options()
def export_command(
    destination: str,
    prefix: str | None,
    where: tuple[str, ...],
    file_format: str | None,
    dest_option: tuple[str, ...],
) -> None:
    """Write the results under PREFIX as a CSV, JSON Lines, JSON or Parquet file.

    DEST is a path, a URL (s3://bucket/results.parquet) or - for stdout
    (then --format is needed). Columns: key, modified, then every result name.
    Nothing is written when the base does not exist.
    """
    from .._urls import redact_url
    from ..query import parse_where

    found = settings()
    options = parse_storage_options(dest_option) if dest_option else found.options
    condition = parse_where(list(where))
    tracker = found.existing_tracker()
    target: Any = sys.stdout.buffer if destination == "-" else destination
    with ProgressBar("reading") as bar:

        def progress(phase: str, done: int, total: int | None) -> None:
            bar.update(done, total, "reading" if phase == "read" else "writing")

        rows = tracker.export(
            target,
            format=file_format,
            prefix=prefix,
            where=condition,
            progress=progress,
            storage_options=None if destination == "-" else options,
        )
    if destination != "-":
        note(f"exported {plural(rows, 'key')} to {redact_url(destination)}")


@cli.command()
@prefix_argument()
@click.option(
    "--fix",
    is_flag=True,
    help="Remove stray temporary files, then empty folders, older than --min-age.",
)
@seconds_option(
    "--min-age",
    default=60.0,
    help="With --fix, leave younger temporary files and folders (a write may be in progress).",
)
@output_options()
def check(prefix: str | None, fix: bool, min_age: float, output_format: str) -> None:
    """Check that every key under PREFIX holds valid results.

    Lists corrupt keys, and the temporary files and empty folders left by
    crashed writers; exit status 1 if there are any (what --fix removed does
    not count), or if the base does not exist.
    Corrupt results are never removed: look at them.
    """
    report = settings().existing_tracker().check(prefix, fix=fix, min_age=min_age)
    removed = set(report.removed)
    rows: list[dict[str, Any]] = [
        {"problem": "corrupt", "key": error.key, "location": error.location, "detail": error.reason}
        for error in report.corrupt
    ]
    leftovers = [("temporary file", location) for location in report.temporary_files]
    leftovers += [("empty folder", location) for location in report.empty_folders]
    for problem, location in leftovers:
        if location in removed:
            detail = "removed"
        elif fix:
            detail = f"kept: younger than {min_age:g} s"
            if problem == "empty folder":
                detail += " or no longer empty"
        else:
            detail = "kept: --fix removes it"
        rows.append({"problem": problem, "key": None, "location": location, "detail": detail})
    for problem in report.snapshot_problems:
        detail = "removed" if fix else "ignored by reads; --fix removes it"
        rows.append({"problem": "snapshot", "key": None, "location": problem, "detail": detail})
    if rows:
        write_rows(rows, output_format, ["problem", "key", "location", "detail"])
    found = (
        f"checked {plural(report.checked, 'key')}: "
        f"{plural(len(report.corrupt), 'corrupt key')}, "
        f"{plural(len(report.temporary_files), 'temporary file')}"
        + (f", {plural(len(report.empty_folders), 'empty folder')}" if report.empty_folders else "")
        + (
            f", {plural(len(report.snapshot_problems), 'damaged snapshot')}"
            if report.snapshot_problems
            else ""
        )
        + f" ({len(report.removed)} removed)"
    )
    if not report.ok:
        raise CommandError(found)
    note(found)
