"""Fitting physical parameters to a log: global start, Gauss-Newton refinement, intervals, on `mujoco.sysid`.

1. Latency is an integer number of control steps: every candidate 0..`max_latency` gets a short CMA-ES search
   (`cma`) over the continuous parameters (in log space, on a subset of the windows); all candidates' populations
   run as one batch of replays.
2. `mujoco.sysid.optimize` (optimizer 'scipy_parallel_fd': scipy's box-constrained trust-region least squares with
   MuJoCo's finite-difference Jacobian, batched over the replay's envs) refines every candidate latency's best
   CMA-ES point on the same windows; the latency with the lowest residual is refined again on all windows (exact
   in control steps when the others fit).
3. `mujoco.sysid.calculate_intervals` gives 95 % intervals from the Jacobian at the optimum and the residual
   variance; `unidentifiable_directions` names parameter combinations the log does not constrain.

Residuals are the replay's scaled signals minus the measured ones (`robot_rl.sysid.replay`).
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import cma
import numpy as np
from mujoco import sysid

from robot_rl.robots import RangeSpec
from robot_rl.sysid.replay import WindowedReplay, rebuild

LATENCY = "action_latency_steps"
FIT_EXCLUDED = ("observation_noise_scale", "push_force_n", "wind_force_n", "gust_force_n", LATENCY)
"""Randomized parameters that are not physics of the log (noise level, disturbances) or are searched apart."""
SPREAD_FITTED = ("wheel_slip_fraction",)
"""Parameters that act on the mean motion only together with another and are separated by the spread of the log
(`robot_rl.sysid.slip`), not by least squares."""


MapJobs = Callable[[Callable[..., Any], Sequence[tuple]], list[Any]]
"""Runs `fn(*job)` for every job, anywhere, and returns the results in order."""


class FitError(RuntimeError):
    """The fit did not converge; nothing is written."""


@dataclass
class FitResult:
    """Identified parameters with their uncertainty."""

    values: dict[str, float]
    """Parameter -> identified value (latency as an integer)."""
    ci95: dict[str, float]
    """Parameter -> half-width of the 95 % interval (0 for latency; inf where not identifiable)."""
    std: dict[str, float]
    """Parameter -> standard deviation (sqrt of the covariance diagonal)."""
    bounds: dict[str, tuple[float, float]]
    latency_costs: dict[int, float]
    """Candidate latency -> best cost on the search windows (mean squared scaled residual): refined where refined,
    else CMA-ES's."""
    rms: float
    """RMS scaled residual at the optimum."""
    unidentifiable: list[str] = field(default_factory=list)
    """Parameter combinations the log does not constrain, in words."""
    interval_inflation: dict[str, float] = field(default_factory=dict)
    """Parameter -> variance factor on its interval for residuals correlated in windows (`cluster_inflation`)."""
    wall_s: float = 0.0


def fit_bounds(ranges: Mapping[str, RangeSpec], names: Sequence[str]) -> dict[str, tuple[float, float]]:
    """Search bounds per parameter, wider than the training ranges.

    Scales ('x ...' units) get [low/10, 10 high], others [max(0, low - 3 w), high + 3 w] with w = high - low.

    >>> fit_bounds({"a": RangeSpec(distribution="uniform", low=0.8, high=1.2, unit="x nominal")}, ["a"])
    {'a': (0.08, 12.0)}
    """
    out = {}
    for name in names:
        r = ranges[name]
        if r.unit.startswith("x"):
            out[name] = (r.low / 10, r.high * 10)
        else:
            w = r.high - r.low
            out[name] = (max(0.0, r.low - 3 * w), r.high + 3 * w)
    return {k: (round(lo, 12), round(hi, 12)) for k, (lo, hi) in out.items()}


def parameter_dict(start: Mapping[str, float], bounds: Mapping[str, tuple[float, float]]) -> sysid.ParameterDict:
    """`mujoco.sysid` parameters (value, bounds) for the continuous parameters, in the order of `bounds`."""
    return sysid.ParameterDict({
        k: sysid.Parameter(k, float(np.clip(start[k], lo, hi)), lo, hi) for k, (lo, hi) in bounds.items()
    })


def unidentifiable_directions(jac: np.ndarray, names: Sequence[str], width: np.ndarray, rel_tol: float = 1e-6
                              ) -> list[str]:
    """Combinations of parameter changes (in units of their search-box widths) that leave the residual unchanged.

    `jac` `[m, p]` is d residual / d x; directions are eigenvectors of (J D)^T (J D), D = diag(`width`), whose
    eigenvalue is below `rel_tol` times the largest. A pure 2-parameter example: J = [[1, 1]] with unit widths
    leaves 'a - b' free.

    >>> unidentifiable_directions(np.array([[1.0, 1.0]]), ["a", "b"], np.ones(2))
    ['0.71 a -0.71 b']
    """
    js = jac * np.asarray(width)[None]
    lam, vec = np.linalg.eigh(js.T @ js)
    out = []
    for value, v in zip(lam, vec.T, strict=True):
        if value <= rel_tol * max(lam.max(), 1e-300):
            v = v * np.sign(v[np.argmax(np.abs(v))])
            terms = [f"{c:+.2f} {n}" for c, n in zip(v, names, strict=True) if abs(c) > 0.05]
            out.append(" ".join(terms).lstrip("+"))
    return out


def cluster_inflation(jac: np.ndarray, residual: np.ndarray, n_windows: int) -> np.ndarray:
    """Per-parameter variance factors `[p]` (>= 1) that make the intervals robust to correlation inside windows.

    `calculate_intervals` uses s^2 (J^T J)^-1, every residual independent. A window starts from a noisy measured
    state and carries that error through all its ticks, so residuals are correlated within a window (windows are
    independent). The cluster-robust ("sandwich") covariance H^-1 (sum_w g_w g_w^T) H^-1, with H = J^T J and
    g_w = J_w^T r_w the gradient of window w, allows any correlation inside a window; the factor is its diagonal
    over the plain one, floored at 1. `jac` `[m, p]`, `residual` `[m]`, rows in window order (m / n_windows each).

    >>> j = np.ones((4, 1)); r = np.array([1.0, 1.0, -1.0, -1.0])  # two windows, each error held for two ticks
    >>> cluster_inflation(j, r, 2).round(3).tolist()  # plain: s^2 / 4 = 4/3/4; robust: (4 + 4) / 16 = 0.5
    [1.5]
    """
    p = jac.shape[1]
    h_inv = np.linalg.pinv(jac.T @ jac)
    s2 = float(residual @ residual) / max(len(residual) - p, 1)
    g = np.einsum("wkp,wk->wp", jac.reshape(n_windows, -1, p), residual.reshape(n_windows, -1))
    robust = np.diag(h_inv @ (g.T @ g) @ h_inv)
    plain = s2 * np.diag(h_inv)
    return np.maximum(np.divide(robust, plain, out=np.ones(p), where=plain > 0), 1.0)


def _params(names: Sequence[str], x: np.ndarray, latency: int) -> dict[str, float]:
    return dict(zip(names, (float(v) for v in x), strict=True)) | {LATENCY: float(latency)}


def to_unit(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Box coordinates in [0, 1]: logarithmic where the lower bound is positive, linear otherwise.

    >>> to_unit(np.array([1.0, 0.5]), np.array([0.1, 0.0]), np.array([10.0, 2.0])).tolist()
    [0.5, 0.25]
    """
    log = lo > 0
    safe_lo, safe_hi, safe_x = np.where(log, lo, 1.0), np.where(log, hi, 2.0), np.where(log, x, 1.0)
    return np.where(log, np.log(safe_x / safe_lo) / np.log(safe_hi / safe_lo), (x - lo) / (hi - lo))


def from_unit(u: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Inverse of `to_unit`."""
    log = lo > 0
    safe_lo, safe_hi = np.where(log, lo, 1.0), np.where(log, hi, 2.0)
    return np.where(log, safe_lo * (safe_hi / safe_lo) ** u, lo + u * (hi - lo))


def search_latency(replay: WindowedReplay, bounds: Mapping[str, tuple[float, float]], start: Mapping[str, float],
                   max_latency: int, generations: int, popsize: int, seed: int, progress: Callable[[str], None]
                   ) -> dict[int, tuple[float, np.ndarray]]:
    """CMA-ES in box coordinates (`to_unit`) for every latency 0..max_latency at once, from `start`.

    One parameter alone is searched on a grid of `generations * popsize` values instead.

    Returns latency -> (best cost, best point in parameter units).
    """
    names = list(bounds)
    lo, hi = (np.array([bounds[n][i] for n in names]) for i in (0, 1))
    u0 = to_unit(np.array([start[n] for n in names]), lo, hi).clip(0.05, 0.95)
    measured = replay.measured()
    strategies = {lat: cma.CMAEvolutionStrategy(u0, 0.3, {"bounds": [0, 1], "popsize": popsize,
                                                          "seed": seed + lat + 1, "verbose": -9})
                  for lat in range(max_latency + 1)}
    best: dict[int, tuple[float, np.ndarray]] = {}
    if len(names) == 1:  # CMA-ES needs two dimensions or more: a grid over the box is exact enough in one
        grid = np.linspace(0.0, 1.0, generations * popsize)[:, None]
        batch = [_params(names, from_unit(u, lo, hi), lat) for lat in range(max_latency + 1) for u in grid]
        costs = np.mean((replay.predict(batch) - measured[None]) ** 2, axis=(1, 2, 3)).reshape(max_latency + 1, -1)
        progress(f"  global search: grid of {len(grid)} values x {max_latency + 1} latencies")
        return {lat: (float(c.min()), from_unit(grid[int(np.argmin(c))], lo, hi)) for lat, c in enumerate(costs)}
    for g in range(generations):
        asks = {lat: es.ask() for lat, es in strategies.items()}
        batch = [_params(names, from_unit(np.asarray(u), lo, hi), lat) for lat, us in asks.items() for u in us]
        costs = np.mean((replay.predict(batch) - measured[None]) ** 2, axis=(1, 2, 3))
        i = 0
        for lat, us in asks.items():
            c = costs[i : i + len(us)]
            strategies[lat].tell(us, c.tolist())
            k = int(np.argmin(c))
            if lat not in best or c[k] < best[lat][0]:
                best[lat] = (float(c[k]), from_unit(np.asarray(us[k]), lo, hi))
            i += len(us)
        lead = min(best, key=lambda k: best[k][0])
        progress(f"  global search {g + 1}/{generations}: best latency {lead} steps, cost {best[lead][0]:.4g}")
    return dict(sorted(best.items()))


def refine(replay: WindowedReplay, start: Mapping[str, float], bounds: Mapping[str, tuple[float, float]],
           latency: int, max_iters: int) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
    """Local least squares (`mujoco.sysid.optimize`) from `start`; values, residual at the optimum, Jacobian.

    The optimizer works in units of each parameter's box width (its finite-difference step is absolute: a
    thrust coefficient of 3e-10 N/rpm^2 and a link-mass scale of 1 need the same relative step). Values come back
    in the parameters' own units, the Jacobian `[m, p]` per box width (d residual / d (x / width)).
    """
    names = list(bounds)
    width = np.array([bounds[n][1] - bounds[n][0] for n in names])
    measured = replay.measured().reshape(-1)

    def residual_fn(x: np.ndarray, params: sysid.ParameterDict) -> tuple[list[np.ndarray], None, None]:
        del params
        xs = np.asarray(x, dtype=np.float64)
        cols = xs.reshape(len(names), -1) * width[:, None]
        pred = replay.predict([_params(names, cols[:, k], latency) for k in range(cols.shape[1])])
        r = (pred.reshape(cols.shape[1], -1) - measured[None]).T  # [m, k]
        return [r[:, 0] if xs.ndim == 1 else r], None, None

    unit_start = {n: start[n] / w for n, w in zip(names, width, strict=True)}
    unit_bounds = {n: (lo / w, hi / w) for (n, (lo, hi)), w in zip(bounds.items(), width, strict=True)}
    initial = parameter_dict(unit_start, unit_bounds).move_off_bounds(fraction=0.01)  # it stalls in a box corner
    # scipy's trust-region least squares with MuJoCo's batched finite-difference Jacobian: one replay batch per
    # Jacobian and one per step (MuJoCo's own LM probes its damping one replay at a time: 5x the replays here)
    with contextlib.redirect_stdout(sys.stderr):  # scipy's iteration table: progress for people, never in --json
        opt, result = sysid.optimize(initial, residual_fn, optimizer="scipy_parallel_fd", verbose=False,
                                     max_iters=max_iters, diff_step=1e-6)
    x = opt.as_vector()
    r = residual_fn(x, opt)[0][0]
    return dict(zip(names, (x * width).tolist(), strict=True)), r, np.asarray(result.jac)


def refine_job(recipe: tuple, start: Mapping[str, float], bounds: Mapping[str, tuple[float, float]], latency: int,
               max_iters: int) -> tuple[dict[str, float], float]:
    """`refine` on the replay of `recipe` (`robot_rl.sysid.replay.rebuild`): values and mean squared residual.

    What a Ray worker runs; the same numbers as `refine` on the original replay.
    """
    return refine_job_here(rebuild(recipe), start, bounds, latency, max_iters)


def fit(replay: WindowedReplay, search: WindowedReplay, bounds: Mapping[str, tuple[float, float]], max_latency: int = 4,
        generations: int = 10, popsize: int = 8, max_iters: int = 30, refine_top: int = 0, seed: int = 0,
        progress: Callable[[str], None] = print, map_jobs: MapJobs | None = None) -> FitResult:
    """Identify `bounds`' parameters and the latency from `replay`'s log (`search` is a subset for the global start).

    The `refine_top` latencies with the lowest global-search cost (0: every candidate) are each refined on the
    search windows (a delay and a slower motor or servo trade off, so a short CMA-ES search can rank the true
    latency second), from their own best point and again from the best latency's optimum; the lowest residual
    wins and is refined once more on all windows. `map_jobs(fn, jobs)` (e.g. `robot_rl.evaluate.executor`'s
    Ray `map`) runs those per-latency refinements elsewhere (`refine_job`); without it they run here, in turn.

    Raises:
        FitError: a parameter ends on a bound of its search box, or the residual did not fall below nominal.

    """
    t0 = time.perf_counter()
    names = list(bounds)
    found = search_latency(search, bounds, replay.nominal, max_latency, generations, popsize, seed, progress)
    candidates = sorted(found, key=lambda k: found[k][0])[: refine_top or len(found)]
    costs = {k: v[0] for k, v in found.items()}
    progress(f"  refining {names} at latencies {candidates} on {len(search.starts)} windows (mujoco.sysid.optimize)"
             + ("" if map_jobs is None else ", as Ray tasks"))
    starts = refine_latencies(search, {lat: dict(zip(names, found[lat][1], strict=True)) for lat in candidates},
                              bounds, max_iters, costs, map_jobs)
    latency = min(starts, key=lambda k: costs[k])
    progress(f"  refining at latency {latency} steps on all {len(replay.starts)} windows")
    values, r, jac = refine(replay, starts[latency], bounds, latency, max_iters)
    _check_converged(replay, values, r, bounds)
    # intervals in box-width units (well conditioned whatever the parameters' magnitudes), then in their own
    width = np.array([bounds[n][1] - bounds[n][0] for n in names])
    cov, half = sysid.calculate_intervals([r], jac)
    inflation = cluster_inflation(jac, r, len(replay.starts))
    scale = np.sqrt(inflation) * width
    cov, half = cov * np.outer(scale, scale), half * scale
    return FitResult(
        values=values | {LATENCY: float(latency)},
        ci95=dict(zip(names, half.tolist(), strict=True)) | {LATENCY: 0.0},
        std=dict(zip(names, np.sqrt(np.clip(np.diag(cov), 0, None)).tolist(), strict=True)) | {LATENCY: 0.0},
        bounds=dict(bounds) | {LATENCY: (0.0, float(max_latency))},
        latency_costs=costs, rms=float(np.sqrt(np.mean(r**2))),
        unidentifiable=unidentifiable_directions(jac, names, np.ones(len(names))),
        interval_inflation=dict(zip(names, inflation.round(4).tolist(), strict=True)),
        wall_s=time.perf_counter() - t0)


def refine_latencies(search: WindowedReplay, starts: dict[int, dict[str, float]],
                     bounds: Mapping[str, tuple[float, float]], max_iters: int, costs: dict[int, float],
                     map_jobs: MapJobs | None) -> dict[int, dict[str, float]]:
    """Refine every latency from its start, then every other one again from the best one's optimum.

    A delay and a lag trade off, so a poor global start at the true latency can end in a local minimum that its
    neighbour's optimum avoids (seen on a quadrotor: latency 0 stuck at cost 0.5 from its own start, 0.003 from
    latency 1's optimum). Returns latency -> optimum; `costs` is updated in place (mean squared residual).
    """
    def refine_all(jobs: list[tuple[dict[str, float], int]]) -> list[tuple[dict[str, float], float]]:
        if map_jobs is None:
            return [refine_job_here(search, start, bounds, lat, max_iters) for start, lat in jobs]
        return map_jobs(refine_job, [(search.recipe, start, bounds, lat, max_iters) for start, lat in jobs])

    out: dict[int, dict[str, float]] = {}
    for lat, (values, cost) in zip(starts, refine_all([(s, lat) for lat, s in starts.items()]), strict=True):
        out[lat], costs[lat] = values, cost
    lead = min(out, key=lambda k: costs[k])
    others = [k for k in out if k != lead]
    for lat, (values, cost) in zip(others, refine_all([(out[lead], lat) for lat in others]), strict=True):
        if cost < costs[lat]:
            out[lat], costs[lat] = values, cost
    return out


def refine_job_here(search: WindowedReplay, start: Mapping[str, float], bounds: Mapping[str, tuple[float, float]],
                    latency: int, max_iters: int) -> tuple[dict[str, float], float]:
    """`refine_job` on a replay already built in this process."""
    values, r, _ = refine(search, start, bounds, latency, max_iters)
    return values, float(np.mean(r**2))


def _check_converged(replay: WindowedReplay, values: Mapping[str, float], r: np.ndarray,
                     bounds: Mapping[str, tuple[float, float]]) -> None:
    # a lower bound of 0 is physical (no payload), not an edge of the search: a value there is an answer
    at_bound = [n for n, (lo, hi) in bounds.items()
                if min(values[n] - lo if lo != 0 else np.inf, hi - values[n]) <= 1e-3 * (hi - lo)]
    if at_bound:
        raise FitError(f"the fit did not converge: {', '.join(f'{n} = {values[n]:.4g}' for n in at_bound)} ended on "
                       f"the bound of its search box {[bounds[n] for n in at_bound]}; the log may not excite it, or "
                       f"the robot lies outside the model's reach")
    nominal_rms = float(np.sqrt(np.mean((replay.predict([{}])[0] - replay.measured()) ** 2)))
    rms = float(np.sqrt(np.mean(r**2)))
    if not rms < nominal_rms:
        raise FitError(f"the fit did not converge: residual RMS {rms:.4g} is not below the nominal model's "
                       f"{nominal_rms:.4g}")
