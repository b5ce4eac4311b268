"""`robot-rl sysid fit`: logs -> identified parameters -> calibration file (+ reality-gap report).

The last `holdout` fraction of the ticks is kept out of the fit and used for the held-out NRMSE;
`search_windows` windows spread over the rest drive the global latency search; all of them drive the refinement.
Nothing is written when the fit does not converge.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import mujoco
import yaml

from robot_rl.robots import Calibration, RobotSpec, load_calibration
from robot_rl.sysid.fit import FIT_EXCLUDED, LATENCY, SPREAD_FITTED, FitResult, MapJobs, fit, fit_bounds
from robot_rl.sysid.gap import gap_table, mean_nrmse
from robot_rl.sysid.logs import SysidError, check_excitation
from robot_rl.sysid.replay import SysidLog, make_replay
from robot_rl.sysid.report import write_report
from robot_rl.sysid.slip import separate_slip

WINDOW_S = 0.5
"""Fit window, s: each starts from the measured state."""
MIN_RANGE_FRACTION = 0.25
"""Training around a calibration keeps a quarter of robot.yaml's range width at least: the intervals measure the
noise of the fit, not what the model leaves out."""


def fit_names(spec: RobotSpec, params: Sequence[str] | None) -> list[str]:
    """The continuous parameters to fit: `params`, or every randomized physical one (latency is always searched)."""
    known = [n for n in spec.randomization if n not in FIT_EXCLUDED]
    if not params:
        return known
    unknown = [p for p in params if p not in known and p != LATENCY]
    if unknown:
        raise SysidError(f"--params: {unknown} are not identifiable parameters of robot '{spec.name}' (known: "
                         f"{known + [LATENCY]})")
    return [p for p in params if p != LATENCY]


def split(log: SysidLog, holdout: float) -> tuple[tuple[int, int], tuple[int, int]]:
    """Tick spans (train, held-out): the last `holdout` fraction of the ticks is held out."""
    cut = int(round(len(log.q) * (1 - holdout)))
    return (0, cut), (cut, len(log.q))


def project_commit() -> str:
    """`git describe --always --dirty` of this checkout ('' outside git)."""
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True, text=True,
                             cwd=Path(__file__).parent, timeout=10, check=False)
    except OSError:
        return ""
    return out.stdout.strip()


def calibration_doc(spec: RobotSpec, result: FitResult, log: SysidLog, nrmse: dict[str, float],
                    settings: dict[str, Any]) -> dict[str, Any]:
    """The calibration file's contents (`robot_rl.robots.overrides.Calibration`)."""
    params, loose = {}, {}
    for name, value in result.values.items():
        half, prior = result.ci95[name], spec.randomization[name]
        # an interval as wide as the training range says nothing the range does not: re-centring on it could
        # only widen the range (and into nonsense: a friction of 0)
        (loose if 2 * half >= prior.high - prior.low > 0 else params)[name] = {
            "mean": value, "std": result.std[name], "unit": prior.unit, "ci95": [value - half, value + half],
            "bounds": list(result.bounds[name])}
    return {"robot": spec.name, "range_sigma": 3.0, "min_range_fraction": MIN_RANGE_FRACTION,
            "source_logs": log.sources, "parameters": params, "not_identified": loose,
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "mujoco_version": mujoco.__version__, "project_commit": project_commit(), "nrmse": nrmse,
            "unidentifiable": result.unidentifiable, "fit": settings}


def calibrate(spec: RobotSpec, log: SysidLog, out: str | Path, params: Sequence[str] | None = None,
              report: str | Path | None = None, holdout: float = 0.25, search_windows: int = 16, max_latency: int = 4,
              generations: int = 8, seed: int = 0, truth: dict[str, float] | None = None,
              progress: Callable[[str], None] = print, map_jobs: MapJobs | None = None) -> dict[str, Any]:
    """Fit `log`, write the calibration file `out` (and `report`); returns the calibration document.

    `map_jobs`: runs the per-latency refinements elsewhere (Ray; `robot_rl.sysid.fit.fit`), same results.

    Raises:
        SysidError: too little excitation, an unknown parameter.
        FitError: the fit did not converge (nothing written).

    """
    names = fit_names(spec, params)
    window = max(1, round(WINDOW_S / log.dt_s))
    train, heldout = split(log, holdout)
    check_excitation(log, spec, window, 2.0, train)
    still = check_excitation(log, spec, window, 1.0, heldout)
    if still:
        progress(f"warning: joints {still} barely move; their parameters rest on the other joints")
    spread = [n for n in names if n in SPREAD_FITTED]
    # the slip separates from the wheel radius by the spread only: the mean motion fits their product (the radius)
    mean_names = [n for n in names if n not in SPREAD_FITTED] + (["wheel_radius_m"] if spread else [])
    bounds = fit_bounds(spec.randomization, list(dict.fromkeys(mean_names)))
    progress(f"sysid fit: {spec.name}, {train[1] * log.dt_s:.1f} s to fit, {(heldout[1] - heldout[0]) * log.dt_s:.1f}"
             f" s held out, parameters {names} + latency 0..{max_latency} steps")
    result = fit(make_replay(spec, log, window, train), make_replay(spec, log, window, train, search_windows), bounds,
                 max_latency=max_latency, generations=generations, seed=seed, progress=progress, map_jobs=map_jobs)
    separated: dict[str, Any] = {}
    if spread:
        progress("  separating wheel radius and slip by the spread of per-tick wheel travel")
        result, separated = separate_slip(spec, log, result, train, fit_bounds(spec.randomization, spread)[spread[0]])
    models = {"nominal": {}, "calibrated": dict(result.values)}
    table, nrmse = held_out_gap(spec, log, train, heldout, models)
    settings = {"window_s": WINDOW_S, "holdout": holdout, "search_windows": search_windows,
                "max_latency": max_latency, "cma_generations": generations, "seed": seed,
                "optimizer": "mujoco.sysid.optimize (scipy_parallel_fd)",
                "rms_scaled_residual": result.rms, "interval_inflation": result.interval_inflation,
                "wall_s": round(result.wall_s, 1)} | (
        {"slip_separation": separated, "slip_method": "likelihood of per-tick wheel factors (robot_rl.sysid.slip)"}
        if separated else {})
    doc = calibration_doc(spec, result, log, nrmse, settings)
    Calibration.model_validate(doc)  # what we write must be what the env reads
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    header = f"# Identified by `robot-rl sysid fit` from {len(log.sources)} log(s); see docs/sysid.md.\n"
    out.write_text(header + yaml.safe_dump(doc, sort_keys=False))
    load_calibration(out, spec)
    if report is not None:
        write_report(report, spec, doc, log, heldout, table, models, result.latency_costs, truth)
    return doc


def held_out_gap(spec: RobotSpec, log: SysidLog, train: tuple[int, int], heldout: tuple[int, int],
                 models: dict[str, dict[str, float]]) -> tuple[dict[str, dict[str, list[float]]], dict[str, float]]:
    """The held-out gap table of `models` and the calibration's `nrmse` block (train at the window, held out full)."""
    table = gap_table(spec, log, heldout, models)
    train_table = gap_table(spec, log, train, {"calibrated": models["calibrated"]}, (WINDOW_S,))
    return table, {"train": mean_nrmse(train_table["calibrated"])[f"{WINDOW_S:g} s"],
                   "heldout": mean_nrmse(table["calibrated"])["full"],
                   "heldout_nominal": mean_nrmse(table["nominal"])["full"]}


def summary_lines(doc: dict[str, Any]) -> list[str]:
    """Human-readable result lines."""
    lines = [f"{'parameter':26s} {'identified':>11s}  95 % interval"]
    for name, p in doc["parameters"].items():
        lines.append(f"{name:26s} {p['mean']:11.4g}  [{p['ci95'][0]:.4g}, {p['ci95'][1]:.4g}] {p['unit']}")
    for name, p in doc.get("not_identified", {}).items():
        lines.append(f"{name:26s} {p['mean']:11.4g}  [{p['ci95'][0]:.4g}, {p['ci95'][1]:.4g}] {p['unit']}: not "
                     f"identified (interval as wide as the training range; not applied)")
    n = doc["nrmse"]
    lines.append(f"held-out NRMSE (full horizon): nominal {n['heldout_nominal']:.4f} -> calibrated {n['heldout']:.4f} "
                 f"({(n['heldout'] - n['heldout_nominal']) / max(n['heldout_nominal'], 1e-12):+.0%})")
    for u in doc["unidentifiable"]:
        lines.append(f"not identifiable: {u}")
    return lines

