"""``python -m resulttracker`` and the ``resulttracker`` command.

This module imports neither click nor rich: they are the optional ``cli``
extra, and when one is missing the command says how to install it instead of
failing with a traceback. (The command line imports rich only when it draws a
table, so its presence is checked here, before any command runs.)
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence

__all__ = ["main"]

#: The packages of the ``cli`` extra.
CLI_PACKAGES = ("click", "rich")

INSTALL_HINT = "the resulttracker command needs click and rich: pip install 'resulttracker[cli]'"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments (``sys.argv[1:]`` when ``None``).
    """
    for package in CLI_PACKAGES:
        try:
            found = importlib.util.find_spec(package) is not None
        except ValueError:  # in sys.modules without a spec
            found = True
        if not found:
            print(f"Error: {INSTALL_HINT} (no module named {package!r})", file=sys.stderr)
            return 2
    try:
        from .cli import run
    except ImportError as error:
        if (error.name or "").partition(".")[0] in CLI_PACKAGES:
            print(f"Error: {INSTALL_HINT} ({error})", file=sys.stderr)
            return 2
        raise
    return run(argv)


if __name__ == "__main__":
    sys.exit(main())
