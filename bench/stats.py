"""Pure helpers for the figures: percentiles, the median and spread of repeated runs, ratios."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


def percentile(values: Sequence[float], fraction: float) -> float:
    """The `fraction` percentile (0..1) by linear interpolation between the closest ranks."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summary(runs: Sequence[float]) -> dict:
    """Median, minimum and maximum of repeated runs, and how many there were."""
    return {
        "median": statistics.median(runs),
        "min": min(runs),
        "max": max(runs),
        "n": len(runs),
        "runs": list(runs),
    }


def ratio(
    figure: float | None, ceiling: float | None, higher_is_better: bool = True
) -> float | None:
    """How much of its ceiling's performance a figure reaches (1.0 = as good), or None.

    Rates (events/s) divide figure by ceiling; times and latencies divide ceiling by figure.
    """
    if not figure or not ceiling:
        return None
    return figure / ceiling if higher_is_better else ceiling / figure
