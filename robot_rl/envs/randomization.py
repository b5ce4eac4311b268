"""Domain randomization as pure functions: sample parameters from `(ranges, rng)`; re-centre ranges on calibration.

Applying sampled parameters to an engine is the plant's job (`robot_rl.envs.plants`), through the backend.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from robot_rl.robots import RangeSpec


def sample_from_unit(spec: RangeSpec, u: np.ndarray) -> np.ndarray:
    """Map uniform draws `u` in [0, 1) to samples of `spec`'s distribution (same shape as `u`).

    uniform:      low + u * (high - low)
    log_uniform:  exp(log low + u * (log high - log low))
    uniform_int:  low + floor(u * (high - low + 1)), inclusive of both ends
    constant:     low
    """
    u = np.asarray(u, dtype=np.float64)
    if spec.distribution == "constant":
        return np.full(u.shape, spec.low)
    if spec.distribution == "uniform":
        return spec.low + u * (spec.high - spec.low)
    if spec.distribution == "log_uniform":
        lo, hi = np.log(spec.low), np.log(spec.high)
        return np.exp(lo + u * (hi - lo))
    return np.minimum(spec.low + np.floor(u * (spec.high - spec.low + 1)), spec.high)


def sample_parameters(ranges: Mapping[str, RangeSpec], rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Draw `n` independent samples `[n]` of every parameter, in sorted name order (reproducible per seed).

    A `constant` parameter takes no draw, so adding one leaves every other parameter's samples as they were.
    """
    return {name: np.full(n, ranges[name].low) if ranges[name].distribution == "constant"
            else sample_from_unit(ranges[name], rng.random(n)) for name in sorted(ranges)}


def recentre_ranges(
    ranges: Mapping[str, RangeSpec], calibration: Mapping[str, tuple[float, float]], range_sigma: float,
    min_fraction: float = 0.0,
) -> dict[str, RangeSpec]:
    """Centre each calibrated parameter's range on its identified mean: `mean +- h`.

    `h = max(range_sigma * std, min_fraction * (high - low) / 2)`: at least that share of the old half-width.

    `calibration` maps parameter name to `(mean, std)` in the parameter's unit. The distribution is kept;
    log-uniform lower ends stay positive; a parameter whose robot.yaml range is non-negative (masses, latency)
    stays non-negative; integer ranges are rounded outward. Unknown names are an error.
    """
    unknown = sorted(set(calibration) - set(ranges))
    if unknown:
        raise KeyError(f"calibrated parameters {unknown} are not randomized for this robot")
    out = dict(ranges)
    for name, (mean, std) in calibration.items():
        spec = ranges[name]
        half = max(range_sigma * std, min_fraction * (spec.high - spec.low) / 2)
        low, high = mean - half, mean + half
        if spec.distribution == "log_uniform":
            low = max(low, mean * 1e-3)
        if spec.low >= 0:
            low = max(low, 0.0)
        if spec.distribution == "uniform_int":
            low, high = float(np.floor(low)), float(np.ceil(high))
        out[name] = spec.model_copy(update={"low": low, "high": high})
    return out
