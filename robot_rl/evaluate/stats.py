"""Statistics of evaluation results."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

Z95 = 1.959964
"""Two-sided 95 % standard-normal quantile."""


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """95 % Wilson score interval `(low, high)` of a binomial proportion `successes / n` (n >= 1)."""
    if n < 1 or not 0 <= successes <= n:
        raise ValueError(f"wilson_interval: need 0 <= successes <= n and n >= 1, got {successes}/{n}")
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    # exactly 0 / 1 at the extremes (centre -+ half equals them only up to rounding)
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    return low, 1.0 if successes == n else min(1.0, centre + half)


def cvar(values: Sequence[float], alpha: float = 0.5) -> float:
    """Conditional value at risk of a cost: the mean of its worst (largest) `alpha` share of `values`.

    The worst ceil(alpha n) values count (at least one); NaN values are left out; NaN when none is left.

    >>> cvar([1.0, 2.0, 3.0, 4.0], 0.5)
    3.5
    >>> cvar([1.0, 2.0, 3.0], 0.5)  # ceil(1.5) = 2 worst
    2.5
    """
    v = np.asarray(values, dtype=np.float64)
    v = np.sort(v[~np.isnan(v)])
    if len(v) == 0:
        return float("nan")
    return float(v[-max(1, int(np.ceil(alpha * len(v)))):].mean())
