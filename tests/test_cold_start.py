"""Cold start (issue 15, item 6): what a new process imports to read one key.

``resulttracker get`` on a folder, and a job that opens a folder tracker, must
not import fsspec (with its asyncio machinery), rich or SQLAlchemy: they are
imported where first needed. ``benchmarks/cold_start.py`` measures the time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from resulttracker import FsspecResultTracker
from resulttracker.backends.remote import local_root
from resulttracker.backends.remote import open_filesystem as _open_filesystem

#: What a read of one key on a folder has no use for.
HEAVY = ("fsspec", "rich", "asyncio", "sqlalchemy", "pandas", "pyarrow")

PROBE = """
import json, sys
{body}
loaded = sorted({{name.partition(".")[0] for name in sys.modules}} & set({heavy!r}))
print(json.dumps(loaded), file=sys.stderr)
"""


def loaded_after(body: str) -> tuple[list[str], str]:
    """The heavy packages a fresh interpreter has loaded after running ``body``, and
    what it printed on stdout."""
    completed = subprocess.run(
        [sys.executable, "-c", PROBE.format(body=body, heavy=HEAVY)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=dict(os.environ),
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stderr.splitlines()[-1]), completed.stdout


@pytest.fixture
def base(tmp_path: Path) -> Path:
    folder = tmp_path / "results"
    FsspecResultTracker(folder).put("exp/trial1", loss=0.25, seed=1)
    return folder


def test_resulttracker_get_on_a_folder_imports_nothing_heavy(base: Path) -> None:
    loaded, printed = loaded_after(
        "from resulttracker.cli import run\n"
        f"status = run(['-b', {str(base)!r}, 'get', 'exp/trial1'])\n"
        "assert status == 0, status"
    )
    assert json.loads(printed) == {"loss": 0.25, "seed": 1}
    assert loaded == []


@pytest.mark.parametrize("args", [["show", "-f", "jsonl"], ["ls"], ["put", "k", "x=1"]])
def test_other_plain_commands_on_a_folder_import_nothing_heavy(base: Path, args: list[str]) -> None:
    loaded, _ = loaded_after(
        f"from resulttracker.cli import run\nassert run(['-b', {str(base)!r}, *{args!r}]) == 0"
    )
    assert loaded == []


def test_a_table_imports_rich(base: Path) -> None:
    # The probe can fail: a command that draws a table does load rich.
    loaded, _ = loaded_after(
        "from resulttracker.cli import run\n"
        f"assert run(['-b', {str(base)!r}, 'show', '-f', 'table']) == 0"
    )
    assert loaded == ["rich"]


def test_a_job_on_a_folder_imports_nothing_heavy(base: Path) -> None:
    loaded, printed = loaded_after(
        "import resulttracker\n"
        f"tracker = resulttracker.open_tracker({str(base)!r})\n"
        "tracker.put('exp/trial2', loss=0.5)\n"
        "print(tracker['exp/trial2'], sorted(tracker.keys()))"
    )
    assert printed.strip() == "{'loss': 0.5} ['exp/trial1', 'exp/trial2']"
    assert loaded == []


def test_an_fsspec_url_still_imports_fsspec() -> None:
    loaded, _ = loaded_after(
        "import resulttracker\n"
        "tracker = resulttracker.open_tracker('memory://cold/start')\n"
        "tracker.put('k', x=1)\n"
        "assert tracker['k'] == {'x': 1}"
    )
    assert "fsspec" in loaded


LOCAL_BASES = [
    "/",
    "//",
    "/data/results",
    "/data/results/",
    "/data//results//",
    "relative",
    "relative/deeper/",
    "./relative",
    ".",
    "./",
    "~",
    "~/results/",
    "file:///data/results",
    "file://relative",
    "file:/data/results",
    "file:relative",
    "local:///data/results",
    "local:relative",
    "c://one-letter-scheme",
    "with space/and:colon",
]


@pytest.mark.parametrize("base", LOCAL_BASES)
def test_local_root_is_the_root_fsspec_gives(
    base: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert local_root(base) == _open_filesystem(base, {})[1]


@pytest.mark.parametrize(
    "base", ["s3://bucket/exp", "memory://x", "gs://b/p", "simplecache::file:///tmp/x", "data:,x"]
)
def test_other_urls_are_left_to_fsspec(base: str) -> None:
    assert local_root(base) is None


def test_a_protocol_option_is_left_to_fsspec(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    tracker = FsspecResultTracker("cold/start", protocol="memory")
    tracker.put("k", x=1)
    assert tracker.get("k") == {"x": 1}
    assert not (tmp_path / "cold").exists()


def test_the_command_line_knows_every_export_format() -> None:
    from resulttracker.cli.files import EXPORT_FORMATS
    from resulttracker.export import FORMATS

    assert EXPORT_FORMATS == FORMATS
