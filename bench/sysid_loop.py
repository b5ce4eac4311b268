"""The calibration loop, end to end: excite a hidden reality, fit, train with the calibration, compare.

The peer is the same training on the uncalibrated ranges, run in the same benchmark.

1. `robot-rl sysid excite launch/arm.yaml` (D-optimal design, DDS lockstep, controller + safety filter, recorded)
   against `--reality` (default sim/arm/realities/weak_actuators.yaml, actuator gain 0.2 x nominal);
2. `robot-rl sysid fit` -> `--calibration` (default calibration/arm/weak_actuators.yaml) and its HTML report;
3. `robot-rl train robot_rl/ArmReach-v0 --steps S --calibration FILE` and the same without `--calibration`
   (PPO, seed 0, the shipped policy's recipe), both exported;
4. both evaluated on the hidden reality (`--episodes`, Wilson 95 % intervals) and on robot.yaml's ranges.

    .venv/bin/python bench/sysid_loop.py [--out runs/sysid_loop] [--steps 400000] [--episodes 128]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from robot_rl.deploy.network import confine_to_localhost
from robot_rl.deploy.sim_driver import load_reality
from robot_rl.envs import BatchedRobotEnv, entry
from robot_rl.envs.rollout import EpisodeStats
from robot_rl.evaluate.policy_eval import evaluate_policy
from robot_rl.evaluate.stats import wilson_interval

ROOT = Path(__file__).resolve().parents[1]
ENV_ID = "robot_rl/ArmReach-v0"


def _rate(stats: EpisodeStats) -> dict:
    wins = round(stats.success_rate * stats.episodes)
    return {"success": stats.success_rate, "wilson95": list(wilson_interval(wins, stats.episodes)),
            "episodes": stats.episodes, "steps_to_success": stats.mean_steps_to_success}


def main() -> None:
    """Run the loop; print and write its figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "sysid_loop")
    ap.add_argument("--reality", type=Path, default=ROOT / "sim" / "arm" / "realities" / "weak_actuators.yaml")
    ap.add_argument("--calibration", type=Path, default=ROOT / "calibration" / "arm" / "weak_actuators.yaml")
    ap.add_argument("--duration", type=float, default=30.0, help="excitation, s")
    ap.add_argument("--steps", type=int, default=400_000, help="PPO env steps per policy")
    ap.add_argument("--episodes", type=int, default=128, help="evaluation episodes per policy and condition")
    args = ap.parse_args()
    confine_to_localhost()  # before anything imports DDS
    from robot_rl.deploy.sysid_excite import excite
    from robot_rl.learn.runner import train
    from robot_rl.policy.export import export
    from robot_rl.robots import load_robot
    from robot_rl.sysid.calibrate import calibrate, summary_lines
    from robot_rl.sysid.logs import log_from_bags

    t0, out = time.perf_counter(), args.out
    out.mkdir(parents=True, exist_ok=True)
    spec = load_robot("arm")
    bag = out / "excitation_bag"
    if not bag.exists():
        excite(ROOT / "launch" / "arm.yaml", args.duration, bag, middleware="dds",
               overrides=[f"sim_driver.reality_file={args.reality.resolve()}"])
    doc = calibrate(spec, log_from_bags([bag], spec), args.calibration, report=args.calibration.with_suffix(".html"))
    print("\n".join(summary_lines(doc)), flush=True)
    policies = {}
    for name, cal in (("calibrated", str(args.calibration)), ("uncalibrated", None)):
        run = out / f"run_{name}"
        if not (run / "checkpoint.pt").exists():
            train(ENV_ID, "ppo", args.steps, run, seed=0, calibration=cal)
        policies[name] = out / f"policy_{name}"
        export(run, policies[name], episodes=0, overwrite=True)
    reality = load_reality(args.reality, BatchedRobotEnv(entry(ENV_ID), 1).nominal)
    results = {name: {"hidden_reality": _rate(evaluate_policy(p, args.episodes, reality=reality, seed=10_000)),
                      "training_ranges": _rate(evaluate_policy(p, args.episodes, seed=10_000))}
               for name, p in policies.items()}
    summary = {"calibration": str(args.calibration), "fit": doc["parameters"], "nrmse": doc["nrmse"],
               "results": results, "steps": args.steps, "wall_s": time.perf_counter() - t0}
    (out / "sysid_loop.json").write_text(json.dumps(summary, indent=1))
    for name, r in results.items():
        h, t = r["hidden_reality"], r["training_ranges"]
        print(f"{name:13s} hidden reality {h['success']:.3f} [{h['wilson95'][0]:.2f}, {h['wilson95'][1]:.2f}] "
              f"steps to success {h['steps_to_success']:.1f}; robot.yaml ranges {t['success']:.3f}", flush=True)
    print(f"wall {summary['wall_s']:.0f} s")


if __name__ == "__main__":
    main()
