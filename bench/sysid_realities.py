"""System identification against hidden realities: how well `robot-rl sysid fit` recovers a known robot.

For each of `--realities` robots drawn wider than the training ranges (below), the D-optimal excitation (chosen
once, `robot_rl.sysid.design`) of `--duration` s runs on the simulated robot with sensor noise
(`robot_rl.sysid.logs.SENSOR_NOISE`: arm 1e-4 rad, 1e-3 rad/s; quadrotor 0.2 mm, 2 mm/s, 0.01 rad/s, closed loop
around the hover controller, no wind; mobile base 1 mm, 2 mrad, 0.02 m/s, 0.02 rad/s, random wheel slip) and
the reality's latency; `calibrate` fits every physical parameter and the latency on the first 75 % and scores
the last 25 % (held-out open-loop NRMSE, nominal vs calibrated).
Printed: the median relative error per parameter, the exact-latency rate, the empirical coverage of the 95 %
intervals, the NRMSE reduction. The peer measured in the same run is a random excitation of equal length and
amplitude on the first `--peer` realities: the ratio of posterior standard deviations (random / D-optimal)
per parameter.

    .venv/bin/python bench/sysid_realities.py [--robot arm|quadrotor|mobile_base] [--realities 20] [--peer 6]
        [--duration 30] [--seed 0] [--json FILE] [--plot FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from robot_rl.robots import RobotSpec, load_robot
from robot_rl.sysid.calibrate import calibrate
from robot_rl.sysid.design import choose, score_designs
from robot_rl.sysid.excitation import Excitation
from robot_rl.sysid.fit import FIT_EXCLUDED, SPREAD_FITTED
from robot_rl.sysid.logs import simulate_log
from robot_rl.sysid.schedule import design_candidates, design_commands

WIDE = {  # robot -> name: (low, high, log?) -- training ranges in robot.yaml are narrower
    "arm": {
        "link_mass_scale": (0.7, 1.3, False),  # trained 0.85-1.15
        "payload_mass_kg": (0.0, 1.0, False),  # trained 0-0.5
        "joint_damping_scale": (0.3, 3.0, True),  # trained 0.5-2
        "joint_friction_scale": (0.3, 3.0, True),  # trained 0.5-2
        "actuator_gain_scale": (0.3, 1.5, False),  # trained 0.8-1.2
    },
    "quadrotor": {
        "mass_kg": (0.022, 0.034, False),  # trained 0.0257-0.0284
        "thrust_coefficient_n_per_rpm2": (2.5e-10, 3.8e-10, False),  # trained 2.9e-10-3.4e-10
        "motor_time_constant_s": (0.015, 0.08, True),  # trained 0.02-0.05
    },
    "mobile_base": {
        "wheel_radius_m": (0.072, 0.088, False),  # trained 0.076-0.084
        "wheel_slip_fraction": (0.0, 0.25, False),  # trained 0-0.15
        "chassis_mass_kg": (7.0, 16.0, False),  # trained 9-13
        "ground_friction": (0.35, 1.2, False),  # trained 0.5-1.0
    },
}
LATENCIES = (0, 1, 2, 3)  # trained 0-1
FLOORS = {"payload_mass_kg": 0.05, "wheel_slip_fraction": 0.05}
"""Relative errors of parameters that may be 0 are taken against max(truth, floor)."""


def draw(robot: str, rng: np.random.Generator) -> dict[str, float]:
    """One hidden reality."""
    out = {k: float(np.exp(rng.uniform(np.log(lo), np.log(hi))) if log else rng.uniform(lo, hi))
           for k, (lo, hi, log) in WIDE[robot].items()}
    return out | {"action_latency_steps": float(rng.choice(LATENCIES))}


def rel_error(name: str, fitted: float, truth: float) -> float:
    """|fitted - truth| / truth (payload, slip: over max(truth, FLOORS[name]))."""
    scale = max(truth, FLOORS.get(name, 0.0))
    return abs(fitted - truth) / scale


def fit_one(spec: RobotSpec, design: Excitation, reality: dict, duration: float, seed: int, folder: Path) -> dict:
    """Excite, fit, score one reality."""
    log = simulate_log(spec, design_commands(spec, design, duration), reality, noise=1.0, seed=seed)
    t0 = time.perf_counter()
    doc = calibrate(spec, log, folder / f"{seed}-{design.family}.yaml", seed=seed, progress=lambda _line: None)
    p = doc["parameters"] | doc["not_identified"]
    return {"truth": reality, "fitted": {k: v["mean"] for k, v in p.items()},
            "std": {k: v["std"] for k, v in p.items()}, "ci95": {k: v["ci95"] for k, v in p.items()},
            "nrmse": doc["nrmse"], "wall_s": time.perf_counter() - t0}


def summarize(rows: list[dict], names: list[str]) -> dict:
    """Median relative errors, coverage, latency and NRMSE figures over `rows`."""
    out: dict = {"median_rel_error": {}, "coverage95": {}}
    for n in names:
        out["median_rel_error"][n] = float(np.median([rel_error(n, r["fitted"][n], r["truth"][n]) for r in rows]))
        out["coverage95"][n] = float(np.mean([r["ci95"][n][0] <= r["truth"][n] <= r["ci95"][n][1] for r in rows]))
    out["latency_exact"] = float(np.mean([r["fitted"]["action_latency_steps"] == r["truth"]["action_latency_steps"]
                                          for r in rows]))
    out["coverage95_all"] = float(np.mean(list(out["coverage95"].values())))
    red = [1 - r["nrmse"]["heldout"] / r["nrmse"]["heldout_nominal"] for r in rows]
    out["heldout_nrmse_reduction_median"] = float(np.median(red))
    out["heldout_nrmse_reduction_min"] = float(np.min(red))
    return out


def plot(rows: list[dict], names: list[str], path: Path) -> None:
    """Relative errors per parameter (box) and held-out NRMSE nominal vs calibrated."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4))
    errs = [[max(rel_error(n, r["fitted"][n], r["truth"][n]), 1e-6) for r in rows] for n in names]
    a.boxplot(errs, tick_labels=[n.replace("_", "\n") for n in names])
    a.set_yscale("log")
    a.set_ylabel("relative error")
    a.set_title(f"identified vs true, {len(rows)} hidden realities")
    nom = [r["nrmse"]["heldout_nominal"] for r in rows]
    cal = [max(r["nrmse"]["heldout"], 1e-6) for r in rows]
    b.scatter(nom, cal, label="one hidden reality")
    lo, hi = min(min(nom), min(cal)) / 2, max(max(nom), max(cal)) * 2
    b.plot([lo, hi], [lo, hi], "k--", lw=0.8, label="no improvement")
    b.set_xscale("log")
    b.set_yscale("log")
    b.set_xlim(lo, hi)
    b.set_ylim(lo, hi)
    b.legend(loc="upper left")
    b.set_xlabel("held-out NRMSE, nominal model")
    b.set_ylabel("held-out NRMSE, calibrated")
    b.set_title("open-loop replay, full held-out horizon")
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main() -> None:
    """Run the benchmark and print its figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--robot", choices=sorted(WIDE), default="arm")
    ap.add_argument("--realities", type=int, default=20)
    ap.add_argument("--peer", type=int, default=6, help="realities also fitted from a random excitation")
    ap.add_argument("--duration", type=float, default=30.0, help="excitation length, s")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--plot", type=Path)
    args = ap.parse_args()
    spec = load_robot(args.robot)
    names = [n for n in spec.randomization if n not in FIT_EXCLUDED]
    t0 = time.perf_counter()
    scores = score_designs(spec, design_candidates(spec, args.duration), spec.randomization,
                           [n for n in names if n not in SPREAD_FITTED], args.duration, draws=2, seed=args.seed)
    design = choose(scores).design
    peer = Excitation("random", design.amplitude, design.f_low_hz, design.f_high_hz, seed=args.seed)
    print(f"D-optimal excitation: {design.label()}; peer: {peer.label()}", flush=True)
    rng = np.random.default_rng(args.seed)
    realities = [draw(args.robot, rng) for _ in range(args.realities)]
    rows, peers = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i, reality in enumerate(realities):
            rows.append(fit_one(spec, design, reality, args.duration, args.seed * 1000 + i, Path(tmp)))
            errs = {n: rel_error(n, rows[-1]["fitted"][n], reality[n]) for n in names}
            print(f"reality {i + 1}/{len(realities)}: latency {reality['action_latency_steps']:.0f} -> "
                  f"{rows[-1]['fitted']['action_latency_steps']:.0f}, worst rel. error "
                  f"{max(errs.values()):.3%} ({max(errs, key=errs.get)}), {rows[-1]['wall_s']:.0f} s", flush=True)
            if i < args.peer:
                peers.append(fit_one(spec, peer, reality, args.duration, args.seed * 1000 + i, Path(tmp)))
    summary = summarize(rows, names)
    ratio = {n: float(np.median([p["std"][n] / max(r["std"][n], 1e-300) for p, r in zip(peers, rows, strict=False)]))
             for n in names} if peers else {}
    summary["posterior_std_ratio_random_over_doptimal"] = ratio
    summary["posterior_std_ratio_geomean"] = float(np.exp(np.mean(np.log(list(ratio.values()))))) if ratio else None
    summary |= {"robot": args.robot, "design": design.label(), "peer": peer.label(), "realities": len(rows),
                "duration_s": args.duration,
                "wall_s": time.perf_counter() - t0}
    print(f"\n{'parameter':24s} {'median rel. error':>17s} {'CI95 coverage':>14s} {'std random/D-opt':>17s}")
    for n in names:
        print(f"{n:24s} {summary['median_rel_error'][n]:17.3%} {summary['coverage95'][n]:14.2f} "
              f"{ratio.get(n, float('nan')):17.2f}")
    print(f"latency exact in {summary['latency_exact']:.0%} of realities; coverage over all parameters "
          f"{summary['coverage95_all']:.2f}; held-out NRMSE reduction median "
          f"{summary['heldout_nrmse_reduction_median']:.1%} (min {summary['heldout_nrmse_reduction_min']:.1%}); "
          f"wall {summary['wall_s']:.0f} s")
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "rows": rows, "peers": peers, "scores":
                                         [s.row() for s in scores]}, indent=1))
    if args.plot:
        plot(rows, names, args.plot)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
