"""The documentation build that ``make test`` runs fails on a broken reference.

``make docs`` builds the site strictly so that a reference to an object that is not
documented, or to a page that does not exist, fails CI. Strict mode is easy to
defeat without noticing (``mkdocs build --strict --quiet`` passes whatever is
broken), so this runs the Makefile's own command on a copy of the sources, with
one broken reference of each kind.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

#: What the site is built from, relative to the root.
SOURCES = [
    "mkdocs.yml",
    "docs",
    "src",
    "scripts",
    "CHANGELOG.md",
    "benchmarks/RESULTS.md",
    # Sections of it are included into the guides (guarantees, tracker API, torchx).
    "README.md",
    # Included into the "Writing a backend" guide (pymdownx.snippets).
    "examples/sqlite3_store.py",
    "tests/test_example_backend.py",
]


def docs_command() -> list[str]:
    """The recipe of the Makefile's ``docs`` target, with ``$(BIN)`` made concrete."""
    recipe = re.search(r"^docs:.*\n\t(.+)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert recipe is not None, "the Makefile has no docs target"
    return recipe[1].replace("$(BIN)", str(BIN)).split()


@pytest.fixture
def site_sources(tmp_path: Path) -> Path:
    if shutil.which("mkdocs", path=str(BIN)) is None:
        pytest.skip("mkdocs is not installed (pip install -e '.[dev]')")
    for name in SOURCES:
        source, target = ROOT / name, tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target)
    return tmp_path


def build(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        docs_command(), cwd=root, capture_output=True, text=True, timeout=300, check=False
    )


#: One breakage of each kind: (file, reference written into it, what the error names).
BREAKAGES = [
    # A cross-reference from a page to an object that is on no page.
    ("docs/guides/stores.md", "[`gone`][resulttracker.api.Gone]", "resulttracker.api.Gone"),
    # A link to a page that does not exist.
    ("docs/guides/sweeps.md", "[gone](gone.md)", "gone.md"),
    # A Sphinx role in a docstring that names nothing.
    ("src/resulttracker/stats.py", ":func:`summarise`", "summarise"),
]


def test_a_broken_reference_fails_the_build(site_sources: Path) -> None:
    # (make test builds the real site; one build here, with every breakage at once.)
    for path, breakage, _ in BREAKAGES:
        broken = site_sources / path
        text = broken.read_text()
        if path.endswith(".py"):  # into the module docstring, which the reference renders
            text = text.replace('"""', f'"""See {breakage}. ', 1)
        else:
            text += f"\nSee {breakage}.\n"
        broken.write_text(text)
    result = build(site_sources)
    assert result.returncode != 0
    for _, _, message in BREAKAGES:
        assert message in result.stderr
