"""Scale of the reliability suite: full under CI (``CI`` set), lighter locally."""

from __future__ import annotations

import os

FULL = bool(os.environ.get("CI"))


def scale(full: int, light: int) -> int:
    """``full`` under CI, ``light`` otherwise."""
    return full if FULL else light
