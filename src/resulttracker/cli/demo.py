"""The ``demo`` command: the demo sweep of :mod:`resulttracker.demo`."""

from __future__ import annotations

import click

from .app import CommandError, cli, settings


@cli.command()
@click.option("--trials", type=click.IntRange(min=1), default=12, show_default=True)
@click.option("--seeds", type=click.IntRange(min=1), default=3, show_default=True)
@click.option("--parallel", type=click.IntRange(min=1), default=4, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the search.")
def demo(trials: int, seeds: int, parallel: int, seed: int) -> None:
    """Run the demo sweep: trials as separate processes, results in --base."""
    from ..demo import main as demo_main

    found = settings()
    flags = [flag for pair in found.option_pairs for flag in ("-o", pair)]
    sizes = ["--trials", str(trials), "--seeds", str(seeds), "--parallel", str(parallel)]
    status = demo_main(["--base", found.base, *flags, *sizes, "--seed", str(seed)])
    if status:
        raise CommandError("some trials failed (see above)")
