"""RLIF vs HG-DAgger vs BC (and HIL-SERL) at an equal intervention budget, with suboptimal operators.

For each robot, operator quality and seed: one deployment of the shipped policy over DDS in lockstep against the
robot's hidden reality, with the simulated operator of that quality (RLIF rule), recorded and turned into one
dataset. Every method then fine-tunes the same parent on that same dataset (so the same interventions), and each
result is evaluated on the hidden reality (success with its 95 % Wilson interval). The parent's own success on the
hidden reality is the peer measured in the same run.

    .venv/bin/python bench/finetune_methods.py [--robots arm mobile_base] [--qualities expert10 expert40]
        [--seeds 0 1] [--episodes 30] [--eval-episodes 64] [--methods rlif hg-dagger bc] [--json FILE]

The published claim tested (RLIF, Luo et al. 2023): with a suboptimal expert RLIF ends above HG-DAgger. Seeds
differ in the deployment (operator noise and intervention draws, episode starts); the evaluation seed is fixed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from robot_rl.deploy.network import confine_to_localhost

ROOT = Path(__file__).resolve().parents[1]
ENV = {"arm": "robot_rl/ArmReach-v0", "mobile_base": "robot_rl/MobileBaseGoal-v0"}
POLICY = {"arm": "policies/arm-reach", "mobile_base": "policies/mobile-base-goal"}


def run_one(robot: str, quality: str, seed: int, args: argparse.Namespace, work: Path) -> list[dict]:
    """Deploy once, build the dataset, fine-tune with every method, evaluate each on the hidden reality."""
    from robot_rl.data.dataset import build_dataset
    from robot_rl.deploy.hil import DEFAULT_REALITY, HilConfig, deploy_round, launch_file_for
    from robot_rl.evaluate.policy_eval import evaluate_policy
    from robot_rl.evaluate.stats import wilson_interval
    from robot_rl.learn.finetune_config import FinetuneConfig
    from robot_rl.policy.finetune import finetune
    from robot_rl.robots import read_yaml

    _, launch_file = launch_file_for(ENV[robot])
    reality_file = ROOT / DEFAULT_REALITY[robot]
    reality = {k: float(v) for k, v in read_yaml(reality_file).items()}
    folder = work / f"{robot}-{quality}-{seed}"
    config = HilConfig(env_id=ENV[robot], out=str(folder), episodes=args.episodes, quality=quality, seed=seed)
    deploy = deploy_round(ROOT / POLICY[robot], launch_file, reality_file, folder, config, 0)
    build_dataset([folder / "bag"], folder / "dataset")
    data = folder / "dataset" / f"robot_rl/{robot}/interventions-v0"
    rows = []
    for method in ["parent", *args.methods]:
        start = time.perf_counter()
        policy = ROOT / POLICY[robot]
        if method != "parent":
            policy = folder / method
            finetune(ROOT / POLICY[robot], [data], policy, FinetuneConfig(method=method, seed=seed), episodes=0)
        stats = evaluate_policy(policy, args.eval_episodes, reality=reality, num_envs=16, seed=10_000)
        wins = round(stats.success_rate * stats.episodes)
        rows.append({"robot": robot, "quality": quality, "seed": seed, "method": method,
                     "success": stats.success_rate, "ci95": wilson_interval(wins, stats.episodes),
                     "steps_to_success": stats.mean_steps_to_success, "operator_steps": deploy["operator_steps"],
                     "onsets": deploy["onsets"], "deploy_success": deploy["success"],
                     "wall_s": round(time.perf_counter() - start, 1)})
        print(f"{robot} {quality} seed {seed} {method:>9}: hidden-reality success {stats.success_rate:.3f} "
              f"[{rows[-1]['ci95'][0]:.3f}, {rows[-1]['ci95'][1]:.3f}] (operator steps {deploy['operator_steps']}, "
              f"onsets {deploy['onsets']})", flush=True)
    return rows


def table(rows: list[dict], methods: list[str], eval_episodes: int) -> None:
    """Mean success over seeds per robot, quality and method, with the seeds' spread and the pooled interval."""
    from robot_rl.evaluate.stats import wilson_interval

    print("\n| robot | operator | " + " | ".join(["parent", *methods]) + " |")
    print("| --- | --- | " + " | ".join("---" for _ in ["parent", *methods]) + " |")
    for robot in dict.fromkeys(r["robot"] for r in rows):
        for quality in dict.fromkeys(r["quality"] for r in rows if r["robot"] == robot):
            cells = []
            for method in ["parent", *methods]:
                sel = [r for r in rows if (r["robot"], r["quality"], r["method"]) == (robot, quality, method)]
                s = np.array([r["success"] for r in sel])
                n = len(sel) * eval_episodes
                lo, hi = wilson_interval(round(s.mean() * n), n)
                cells.append(f"{s.mean():.3f} (seeds {', '.join(f'{v:.2f}' for v in s)}; pooled [{lo:.3f}, {hi:.3f}])")
            print(f"| {robot} | {quality} | " + " | ".join(cells) + " |")


def main() -> int:
    """Run the grid; print rows as they come and the table at the end."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--robots", nargs="+", default=list(ENV), choices=list(ENV))
    p.add_argument("--qualities", nargs="+", default=["expert10", "expert40"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    p.add_argument("--methods", nargs="+", default=["rlif", "hg-dagger", "bc"])
    p.add_argument("--episodes", type=int, default=30, help="deployed episodes (the intervention budget's source)")
    p.add_argument("--eval-episodes", type=int, default=64)
    p.add_argument("--json", metavar="FILE")
    args = p.parse_args()
    confine_to_localhost()
    os.environ.setdefault("ROS_DOMAIN_ID", "77")
    import torch

    torch.set_num_threads(1)  # one core for learning, the other for the deployment's nodes
    rows: list[dict] = []
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="robot_rl_bench_ft_") as tmp:
        for robot in args.robots:
            for quality in args.qualities:
                for seed in args.seeds:
                    rows += run_one(robot, quality, seed, args, Path(tmp))
    table(rows, args.methods, args.eval_episodes)
    print(f"\n{len(rows)} evaluations in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
