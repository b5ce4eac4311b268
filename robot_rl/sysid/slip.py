"""Separating the mobile base's wheel radius from its random wheel slip: a likelihood over per-tick wheel travel.

The simulated base turns each wheel's speed target into ground speed with the factor k = (r / r0) (1 - s U), U ~
U(0, 1) drawn per wheel and control step (r the wheel radius, r0 the nominal one, s `wheel_slip_fraction`). The mean
motion sees only the mean factor (r / r0)(1 - s / 2): least squares on it cannot tell r from s. The spread can: the
factors are uniform on [a (1 - s), a] with a = r / r0, so the upper edge of their distribution is the radius and
its width the slip.

1. `tick_factors`: every tick's factor per wheel, fitted window by window (`WINDOW_TICKS`) to the measured
   states by weighted Gauss-Newton, the replay's finite differences giving each factor's effect on the states.
   One tick at a time is not enough: the wheels' own speeds (not measured) differ from rolling by the contacts'
   creep, which relaxes over tens of milliseconds, so a tick's travel depends on the factors before it (a
   one-tick estimate kept 15 % of the previous tick's factor change, 1.6 % errors without any noise); a window
   carries that state through its ticks.
2. `fit_spread`: maximum likelihood of (a, s, sigma) under k_i = a (1 - s U_i) + e_i, e_i ~ N(0, (sigma c_i)^2),
   c_i the standard error of factor i at the assumed sensor noise (sigma near 1 when that is right): a uniform
   plus a Gaussian, [Phi((k - a (1 - s)) / (sigma c)) - Phi((k - a) / (sigma c))] / (a s). Intervals from the
   inverse Hessian of the negative log likelihood (`scipy.differentiate.hessian`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy.differentiate import hessian
from scipy.optimize import minimize
from scipy.special import ndtr

from robot_rl.robots import RobotSpec
from robot_rl.spaces.geometry import wrap_angle
from robot_rl.sysid.fit import FitError, FitResult
from robot_rl.sysid.logs import SysidError
from robot_rl.sysid.replay import SysidLog
from robot_rl.sysid.replay_mobile_base import MOBILE_BASE_SCALES, FixedDraws, MobileBaseReplay

WINDOW_TICKS = 10
"""Ticks per smoothing window: the factors of a window are fitted together, the state carried through them."""
GAUSS_NEWTON_STEPS = 2
"""Gauss-Newton iterations per window, from the mean ratio (on eight noisy logs a third moved the radius by less
than its standard error, and more iterations drift: each window's warm-up takes the previous window's estimate)."""
PROBE_STEP = 0.05
"""Relative factor change of the finite-difference probes."""
REACH = 2.0
"""Factors the probes can set, up to this (x nominal radius; down to a tenth of it)."""
NOISE = (1e-3, 1e-3, 2e-3, 0.02, 0.02)
"""Residual weights, the sensor noise assumed for x m, y m, yaw rad, forward speed m/s, yaw rate rad/s (only the
weighting: the likelihood fits the actual level as `sigma`)."""
MIN_SLIP = 1e-4
"""Lower bound of the slip fraction in the likelihood (the uniform's width must stay positive)."""
MAX_GAIN = 0.2
"""Factors whose standard error at the assumed noise exceeds this (a wheel barely turning) are left out."""


def wheel_travel(pose0: np.ndarray, pose1: np.ndarray, track_width_m: float) -> np.ndarray:
    """Ground travel of the left and right wheel `[n, 2]` m between planar poses `[n, 3]` (x m, y m, yaw rad).

    The forward displacement along the mid-heading, minus / plus half the track times the heading change.

    >>> wheel_travel(np.zeros((1, 3)), np.array([[1.0, 0.0, 0.2]]), 1.0).round(3).tolist()
    [[0.895, 1.095]]
    """
    mid = pose0[:, 2] + 0.5 * wrap_angle(pose1[:, 2] - pose0[:, 2])
    forward = (pose1[:, 0] - pose0[:, 0]) * np.cos(mid) + (pose1[:, 1] - pose0[:, 1]) * np.sin(mid)
    turn = wrap_angle(pose1[:, 2] - pose0[:, 2]) * track_width_m / 2
    return np.column_stack([forward - turn, forward + turn])


@dataclass
class TickFactors:
    """Per-tick wheel factors (ground speed over the nominal-radius wheel speed) and their noise gains."""

    factor: np.ndarray
    """`[m]` factors k, one per usable (tick, wheel)."""
    gain: np.ndarray
    """`[m]` noise gains c: at the assumed sensor noise (`NOISE`) a factor's standard error is c."""
    tick: np.ndarray | None = None
    """`[m]` the log tick each factor is of."""
    window: np.ndarray | None = None
    """`[m]` the smoothing window each factor was fitted in (factors of one window share its noise)."""


def tick_factors(spec: RobotSpec, log: SysidLog, values: Mapping[str, float], span: tuple[int, int]) -> TickFactors:
    """The factor of every tick inside `span` and each wheel turning enough (`MAX_GAIN`), at the fitted `values`.

    `values` are the mean-motion fit's (its `wheel_radius_m` is the mean ratio r (1 - s / 2) x r0, slip 0). Windows
    of `WINDOW_TICKS` fit their 2 x `WINDOW_TICKS` factors by weighted Gauss-Newton on the measured states, the
    replay carrying the wheels' state from tick to tick; the first tick of a window, whose wheels start from the
    warm-up's estimate, is left out.
    """
    replay = MobileBaseReplay(spec, log, WINDOW_TICKS, span)
    n, w = len(replay.starts), WINDOW_TICKS
    weight = np.array([MOBILE_BASE_SCALES[k] for k in ("position_m", "position_m", "yaw_rad",
                                                        "forward_velocity_m_s", "yaw_rate_rad_s")]) / NOISE
    measured = (replay.measured() * weight).reshape(n, -1)
    every = np.full((len(log.q), 2), values["wheel_radius_m"] / spec.mobile_base.wheel_radius_m)  # per log tick
    for _ in range(GAUSS_NEWTON_STEPS):
        factor = every[replay.starts[:, None] + np.arange(w)]  # [n, w, 2]
        probes = np.repeat(factor[None], 1 + 2 * w, 0)  # set 0 as is, set 1 + 2 j + i: tick j, wheel i lowered
        for j in range(w):
            for i in range(2):
                probes[1 + 2 * j + i, :, j, i] *= 1 - PROBE_STEP
        pred = _predict(replay, values, probes, every[replay.starts - 1]) * weight  # [sets, n, w, 5]
        pred = pred.reshape(1 + 2 * w, n, -1)
        jac = np.moveaxis((pred[1:] - pred[0]) / (-PROBE_STEP * factor.reshape(n, -1).T[:, :, None]), 0, -1)
        hess = np.einsum("nmp,nmq->npq", jac, jac) + 1e-9 * np.eye(2 * w)[None]
        step = np.linalg.solve(hess, np.einsum("nmp,nm->np", jac, measured - pred[0])[..., None])[..., 0]
        every[replay.starts[:, None] + np.arange(w)] = np.clip(factor + step.reshape(n, w, 2), 0.1 * REACH, REACH)
    gain = np.sqrt(np.diagonal(np.linalg.inv(hess), axis1=1, axis2=2)).reshape(n, w, 2)
    ticks = np.broadcast_to(replay.starts[:, None, None] + np.arange(w)[None, :, None], gain.shape)
    keep = (gain < MAX_GAIN) & (np.arange(w)[None, :, None] > 0)
    windows = np.broadcast_to(np.arange(n)[:, None, None], gain.shape)
    return TickFactors(every[ticks[keep], np.broadcast_to([0, 1], gain.shape)[keep]], gain[keep], ticks[keep],
                       windows[keep])


def _predict(replay: MobileBaseReplay, values: Mapping[str, float], factors: np.ndarray, before: np.ndarray
             ) -> np.ndarray:
    """The replay's scaled signals `[sets, n, w, 5]` with per-tick wheel factors `factors` `[sets, n, w, 2]`.

    `before` `[n, 2]` are the factors of each window's warm-up tick.

    A factor f is the plant's (R / r0)(1 - s U) with R = `REACH` r0, s = 0.9 and the draw U = (1 - f / REACH) / 0.9.
    """
    sets = len(factors)
    def draws(f: np.ndarray) -> np.ndarray:
        return np.clip((1 - f / REACH) / 0.9, 0.0, 1.0)
    replay.draws = FixedDraws(draws(np.moveaxis(factors, 2, 0).reshape(factors.shape[2], -1, 2)), per_step=True)
    replay.warmup_draws = FixedDraws(draws(np.tile(before, (sets, 1))))
    params = dict(values, wheel_radius_m=REACH * replay.spec.mobile_base.wheel_radius_m, wheel_slip_fraction=0.9)
    return replay.predict([params] * sets)


def negative_log_likelihood(theta: np.ndarray, factor: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """Mean negative log likelihood of `factor` `[m]` under (a, log s, log sigma) = `theta` `[3, ...]` (batched).

    Each factor is a (1 - s U) + N(0, (sigma gain)^2), U ~ U(0, 1): the density of the uniform on [a (1 - s), a]
    convolved with the Gaussian.

    >>> nll = negative_log_likelihood(np.array([1.0, np.log(0.2), np.log(1e-3)]), np.array([0.9]), np.array([1.0]))
    >>> round(float(nll), 4), round(float(np.log(0.2)), 4)  # inside a wide uniform: its density 1 / (a s)
    (-1.6094, -1.6094)
    """
    return -np.mean(log_density(theta, factor, gain), axis=-1)


def log_density(theta: np.ndarray, factor: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """Log density `[..., m]` of each factor under (a, log s, log sigma) = `theta` `[3, ...]`.

    See `negative_log_likelihood`.
    """
    a, s, sigma = theta[0][..., None], np.exp(theta[1])[..., None], np.exp(theta[2])[..., None]
    scale = sigma * gain
    mass = ndtr((factor - a * (1 - s)) / scale) - ndtr((factor - a) / scale)
    return np.log(np.maximum(mass, 1e-300) / (a * s))


@dataclass
class SpreadFit:
    """Wheel-radius ratio and slip fraction from the spread of the tick factors."""

    ratio: float
    """a = r / r0."""
    ratio_std: float
    slip: float
    """s, fraction."""
    slip_std: float
    """From the inverse Hessian; where no slip is resolved (s at `MIN_SLIP`) the profile likelihood's one-sided
    95 % bound / 1.96."""
    noise_ratio: float
    """sigma: the factors' noise over what the assumed sensor noise (`NOISE`) gives."""
    samples: int


def fit_spread(ticks: TickFactors) -> SpreadFit:
    """Maximum likelihood of the factors' uniform-plus-noise model; covariance from the inverse Hessian.

    Raises:
        SysidError: fewer than 50 usable factors (too little motion).
        FitError: a Hessian that is not positive definite (radius and slip not identifiable).

    """
    k, c = ticks.factor, ticks.gain
    if len(k) < 50:
        raise SysidError(f"only {len(k)} wheel-ticks turned the wheels enough (factor standard error below "
                         f"{MAX_GAIN:g}): too little excitation to separate wheel radius and slip")
    hi, lo = np.quantile(k, 0.98), np.quantile(k, 0.02)
    x0 = np.array([hi, np.log(np.clip(1 - lo / hi, 0.01, 0.5)), 0.0])
    bounds = [(0.5 * lo, 2.0 * hi), (np.log(MIN_SLIP), np.log(0.9)), (np.log(1e-3), np.log(1e3))]
    res = minimize(lambda x: float(negative_log_likelihood(x, k, c)), x0, method="L-BFGS-B", bounds=bounds)
    a, log_s, log_sigma = res.x
    if a * np.exp(log_s) > 0.1 * np.exp(log_sigma) * np.median(c):  # the slip's width shows above the noise
        with contextlib.suppress(FitError):  # else, or where the likelihood is flat in it: as unresolved
            cov = _robust(lambda x: log_density(x, k, c), res.x, ticks.window)
            return SpreadFit(float(a), float(np.sqrt(cov[0, 0])), float(np.exp(log_s)),
                             float(np.exp(log_s) * np.sqrt(cov[1, 1])), float(np.exp(log_sigma)), len(k))
    # no slip resolved: the radius is the factors' upper level (its interval with s held), the slip bounded above

    def held(y: np.ndarray) -> np.ndarray:
        return log_density(np.stack([y[0], np.full_like(y[0], log_s), y[1]]), k, c)

    cov = _robust(held, res.x[[0, 2]], ticks.window)
    return SpreadFit(float(a), float(np.sqrt(cov[0, 0])), float(np.exp(log_s)), _slip_bound(k, c, res.fun) / 1.96,
                     float(np.exp(log_sigma)), len(k))


def _robust(logdens: Callable[[np.ndarray], np.ndarray], x: np.ndarray, clusters: np.ndarray | None) -> np.ndarray:
    """Covariance at the optimum `x` `[p]` from the log densities `logdens(x)` `[..., m]` (batched over x's axes).

    The inverse observed information, widened per parameter (never narrowed) to the cluster-robust ("sandwich")
    covariance over `clusters` `[m]`: factors fitted in one window share that window's noise.
    """
    h = -hessian(lambda y: logdens(y).sum(axis=-1), x, initial_step=1e-3).ddf
    try:
        np.linalg.cholesky(h)
    except np.linalg.LinAlgError:
        raise FitError("the slip likelihood's Hessian is not positive definite: radius and slip not "
                         "identifiable from this log") from None
    plain = np.linalg.inv(h)
    if clusters is None:
        return plain
    eye = 1e-6 * np.eye(len(x))
    score = np.stack([(logdens(x + e) - logdens(x - e)) / 2e-6 for e in eye])  # [p, m] per-sample gradients
    per_cluster = np.stack([np.bincount(clusters, weights=g) for g in score], -1)  # [n_clusters, p]
    robust = plain @ per_cluster.T @ per_cluster @ plain
    widen = np.sqrt(np.maximum(np.diag(robust) / np.diag(plain), 1.0))
    return plain * np.outer(widen, widen)


def _slip_bound(k: np.ndarray, c: np.ndarray, best: float) -> float:
    """The smallest slip fraction the profile likelihood rejects at 95 % (2 n (nll(s) - nll_min) > 3.84)."""
    for s in np.geomspace(1e-3, 0.9, 60):
        res = minimize(lambda y, s=s: float(negative_log_likelihood(np.array([y[0], np.log(s), y[1]]), k, c)),
                       np.array([np.quantile(k, 0.9), 0.0]), method="Nelder-Mead")
        if 2 * len(k) * (res.fun - best) > 3.84:
            return float(s)
    return 0.9


def separate_slip(spec: RobotSpec, log: SysidLog, result: FitResult, span: tuple[int, int],
                  slip_bounds: tuple[float, float]) -> tuple[FitResult, dict[str, Any]]:
    """Replace the mean-motion fit's wheel radius (the mean ratio) by radius and slip from the spread of ticks `span`.

    Returns the updated result and what the separation measured (for the calibration file's `fit` block).

    Raises:
        SysidError: too few ticks with the wheels moving.
        FitError: the likelihood cannot separate them (Hessian not positive definite).

    """
    ticks = tick_factors(spec, log, result.values, span)
    try:
        spread = fit_spread(ticks)
    except (SysidError, FitError) as e:
        raise type(e)(f"wheel slip: {e}") from None
    r0 = spec.mobile_base.wheel_radius_m
    std = {"wheel_radius_m": r0 * spread.ratio_std, "wheel_slip_fraction": spread.slip_std}
    values = {"wheel_radius_m": spread.ratio * r0, "wheel_slip_fraction": spread.slip}
    info = {"samples": spread.samples, "noise_ratio": spread.noise_ratio,
            "mean_ratio_radius_m": result.values["wheel_radius_m"]}
    return replace(result, values=result.values | values, std=result.std | std,
                   ci95=result.ci95 | {k: 1.96 * v for k, v in std.items()},
                   bounds=result.bounds | {"wheel_slip_fraction": slip_bounds}), info
