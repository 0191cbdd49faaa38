"""The version is written once, in pyproject.toml, and read from the package metadata."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest

import resulttracker
from resulttracker import __main__, _version

EXECUTABLE = Path(sys.executable).with_name("resulttracker")


def test_version_is_the_installed_metadata_version() -> None:
    expected = importlib.metadata.version("resulttracker")
    assert resulttracker.__version__ == expected
    assert "__version__" in resulttracker.__all__


def test_version_of_a_package_that_is_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    def not_installed(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", not_installed)
    _version.version.cache_clear()
    try:
        assert resulttracker.__version__ == "0+unknown"
    finally:
        monkeypatch.undo()
        _version.version.cache_clear()
    assert resulttracker.__version__ == importlib.metadata.version("resulttracker")


def test_unknown_attributes_still_raise() -> None:
    with pytest.raises(AttributeError, match="no attribute 'not_there'"):
        resulttracker.not_there  # noqa: B018


def test_command_line_prints_the_version(capsys: pytest.CaptureFixture[str]) -> None:
    expected = f"resulttracker, version {importlib.metadata.version('resulttracker')}"
    assert __main__.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == expected
    # The installed command, as a user runs it.
    installed = subprocess.run(
        [str(EXECUTABLE), "--version"], capture_output=True, text=True, timeout=60, check=True
    )
    assert installed.stdout.strip() == expected


def test_the_version_is_looked_up_only_when_asked_for() -> None:
    # The lookup costs tens of milliseconds: only asking for the version pays it.
    code = """
import contextlib, io
import resulttracker
from resulttracker import __main__
from resulttracker._version import version

with contextlib.redirect_stdout(io.StringIO()):
    __main__.main(["--help"])  # imports the whole command line
print(version.cache_info().misses)
resulttracker.__version__
print(version.cache_info().misses)
"""
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert output.stdout.split() == ["0", "1"]
