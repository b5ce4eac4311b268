"""Success rate of each simulated-operator quality preset, the expert alone in the randomized MuJoCo env.

For every task and preset of `robot_rl.teleop.sim_operator.QUALITY_PRESETS` the degraded expert
(`SuboptimalExpert`) drives `num_envs` randomized envs until `episodes` episodes finished (the same per-env quota
loop as `robot-rl baseline`); the success rate is printed with its 95 % Wilson score interval and the target the
preset is named for. The peer measured in the same run is the undegraded reference controller (`reference`).

    .venv/bin/python bench/sim_operator_quality.py [--episodes 256] [--num-envs 16] [--seed 0] [--json FILE]
        [--envs robot_rl/ArmReach-v0 ...] [--qualities expert90 expert40 expert10]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from robot_rl.envs import make_vec
from robot_rl.envs.rollout import run_episodes
from robot_rl.evaluate.stats import wilson_interval
from robot_rl.teleop.sim_operator import QUALITIES, QUALITY_PRESETS, SuboptimalExpert

TARGETS = {"reference": None, "expert90": 0.9, "expert40": 0.4, "expert10": 0.1}
"""Success rate each preset is named for (the presets aim within +-0.10 of it)."""


def measure(env_id: str, quality: str, episodes: int, num_envs: int, seed: int) -> dict:
    """Run one preset's expert for `episodes` randomized episodes; return its figures as a dict."""
    knobs = QUALITY_PRESETS[env_id][quality]
    env = make_vec(env_id, num_envs, backend="mujoco", randomize=True)
    expert = SuboptimalExpert(env_id, env.core.spec, knobs, num_envs, np.random.default_rng(seed))
    start = time.perf_counter()
    try:
        results = run_episodes(env, expert.act, episodes, seed, expert.reset)
    finally:
        env.close()
    successes = sum(r[1] for r in results)
    low, high = wilson_interval(successes, len(results))
    return {"env_id": env_id, "quality": quality, "knobs": knobs.__dict__, "episodes": len(results),
            "successes": int(successes), "success_rate": successes / len(results), "wilson95": [low, high],
            "failure_rate": float(np.mean([r[2] for r in results])), "target": TARGETS[quality],
            "wall_s": time.perf_counter() - start}


def main() -> None:
    """Measure the requested presets and print one row each (plus JSON with `--json`)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=256, help="episodes per preset and task")
    parser.add_argument("--num-envs", type=int, default=16, help="envs stepped as one batch")
    parser.add_argument("--seed", type=int, default=0, help="env and expert seed")
    parser.add_argument("--envs", nargs="+", default=sorted(QUALITY_PRESETS), choices=sorted(QUALITY_PRESETS))
    parser.add_argument("--qualities", nargs="+", default=list(QUALITIES), choices=list(QUALITIES))
    parser.add_argument("--json", type=Path, help="also write the rows to this file")
    args = parser.parse_args()
    rows = []
    print(f"{'env':28s} {'quality':10s} {'knobs (noise, delay, bias)':28s} {'success':>8s} {'95% Wilson':>15s} "
          f"{'target':>6s} {'fail':>6s}")
    for env_id in args.envs:
        for quality in args.qualities:
            row = measure(env_id, quality, args.episodes, args.num_envs, args.seed)
            rows.append(row)
            k = row["knobs"]
            knobs = f"{k['noise_frac']:g}, {k['delay_steps']}, {k['bias_frac']:g}"
            target = "-" if row["target"] is None else f"{row['target']:.2f}"
            print(f"{env_id:28s} {quality:10s} {knobs:28s} {row['success_rate']:8.3f} "
                  f"[{row['wilson95'][0]:.3f}, {row['wilson95'][1]:.3f}] {target:>6s} {row['failure_rate']:6.3f}",
                  flush=True)
    print(f"episodes per row: {args.episodes} (MuJoCo, randomized, seed {args.seed}, {args.num_envs} envs)")
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
