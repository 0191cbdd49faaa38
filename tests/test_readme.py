"""Every ```python block of the README runs as written.

The blocks run in order, in one fresh interpreter started in an empty folder, as
a reader copying them would run them. A block that truly needs a cloud store or
a server starts with a ``# needs: ...`` comment line and is left out here (the
tests of that store exercise the same calls).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def python_blocks(text: str) -> list[str]:
    return BLOCK.findall(text)


def test_the_readme_has_python_examples() -> None:
    blocks = python_blocks(README.read_text(encoding="utf-8"))
    assert len(blocks) >= 3
    assert all(block.strip() for block in blocks)


def test_every_python_block_of_the_readme_runs_in_order(tmp_path: Path) -> None:
    blocks = [
        block
        for block in python_blocks(README.read_text(encoding="utf-8"))
        if not block.startswith("# needs:")
    ]
    # One script, each block compiled on its own so that an error names its block.
    script = "\n".join(
        f"exec(compile({block!r}, 'README.md python block {number}', 'exec'))"
        for number, block in enumerate(blocks, start=1)
    )
    finished = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr


def test_a_failing_block_fails_the_check(tmp_path: Path) -> None:
    """The check above can fail: an undefined name in a block is an error."""
    finished = subprocess.run(
        [sys.executable, "-c", "exec(compile('print(losses)', 'block', 'exec'))"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert finished.returncode != 0
    assert "NameError" in finished.stderr
