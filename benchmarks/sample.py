"""The results one benchmarked job stores, shared by run.py and scale.py."""

from __future__ import annotations

from typing import Any


def results_for(index: int) -> dict[str, Any]:
    """Five numbers, two of them a statistic, varying with ``index``."""
    return {
        "loss": round(0.5 + (index % 997) / 1000, 6),
        "accuracy/mean": 0.9,
        "accuracy/sem": 0.01,
        "epoch": index % 50,
        "learning_rate": 0.001,
    }
