"""A writer killed with SIGKILL at a random moment never leaves a broken key."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from resulttracker import cli, open_tracker

from .. import workers
from .conftest import scale

REPOSITORY = Path(__file__).resolve().parents[2]


def test_sigkilled_writers_leave_complete_previous_or_new_values(
    shared_base: tuple[str, dict[str, Any]],
) -> None:
    base, options = shared_base
    local = "://" not in base
    tracker = open_tracker(base, **options)
    keys = [f"k{number}" for number in range(5)]
    for number, key in enumerate(keys):
        tracker[key] = workers.consistent_results(0, number, width=400)
    rng = random.Random(1234)
    kills_mid_run = 0
    for _ in range(scale(50, 10) if local else scale(15, 4)):
        writer = subprocess.Popen(
            [sys.executable, "-m", "tests.workers", base, json.dumps(options)],
            cwd=REPOSITORY,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert writer.stdout is not None
        writer.stdout.readline()  # at least one put has completed: the writer is busy
        time.sleep(rng.uniform(0, 0.05))
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait()
        kills_mid_run += writer.returncode == -signal.SIGKILL
        assert list(tracker.keys()) == keys  # no temporary file shows up as a key
        for key, results in tracker.get_many(keys).items():
            assert results == workers.consistent_results(
                results["writer"], results["number"], width=400
            ), key
    assert kills_mid_run > 0
    # Whatever the kills left behind is only temporary files (folders only), which a
    # check removes: the command line's `check --fix` and the library's alike.
    if local:
        stray = tracker.check().temporary_files
        checked = CliRunner().invoke(cli.cli, ["--base", base, "check"])
        assert checked.exit_code == (1 if stray else 0), checked.output
        fixed = CliRunner().invoke(cli.cli, ["--base", base, "check", "--fix", "--min-age", "0"])
        assert fixed.exit_code == 0, fixed.output
    report = tracker.check(fix=True, min_age=0)
    assert report.temporary_files == []
    assert report.corrupt == []
    assert report.checked == len(keys)
    if local:
        assert {path.name for path in Path(base).iterdir()} == set(keys)
    assert tracker.check().ok
