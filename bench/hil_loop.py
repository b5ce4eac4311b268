"""Closing the loop against the hidden reality, per robot: `robot-rl hil` rounds, figures per round.

    .venv/bin/python bench/hil_loop.py [--robots arm mobile_base] [--rounds 3] [--episodes 30] [--method hg-dagger]
        [--rule margin] [--json FILE]

Per robot it runs `robot-rl hil ENV --rounds R` (deploy over DDS in lockstep with the simulated operator, record,
dataset, fine-tune, evaluate on the hidden reality) and prints, per round, the success of the policy alone on the
hidden reality with its 95 % Wilson interval (round 0 = the shipped policy, the peer), the operator's share of the
deployed ticks, operator steps, mean steps to success, and the simulated robot time the round cost.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = {"arm": "robot_rl/ArmReach-v0", "mobile_base": "robot_rl/MobileBaseGoal-v0",
       "quadrotor": "robot_rl/QuadrotorHover-v0"}


def main() -> int:
    """Run the loop per robot and print the table."""
    from robot_rl.deploy.hil import HilConfig, run_hil
    from robot_rl.deploy.network import confine_to_localhost
    from robot_rl.learn.finetune_config import FinetuneConfig

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--robots", nargs="+", default=["arm", "mobile_base"], choices=list(ENV))
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--episodes", type=int, default=30)
    p.add_argument("--method", default="hg-dagger")
    p.add_argument("--rule", default="margin")
    p.add_argument("--quality", default="expert90")
    p.add_argument("--json", metavar="FILE")
    args = p.parse_args()
    confine_to_localhost()
    os.environ.setdefault("ROS_DOMAIN_ID", "78")
    results = {}
    with tempfile.TemporaryDirectory(prefix="robot_rl_bench_hil_") as tmp:
        for robot in args.robots:
            config = HilConfig(env_id=ENV[robot], out=str(Path(tmp) / robot), rounds=args.rounds,
                               episodes=args.episodes, quality=args.quality, rule=args.rule,
                               finetune=FinetuneConfig(method=args.method))
            results[robot] = run_hil(config, lambda line: print(line, file=sys.stderr, flush=True))
    print("\n| robot | round | success alone [95 % CI] | operator share | operator steps | steps to success "
          "| robot time s |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for robot, summary in results.items():
        for r in summary["rounds"]:
            d = r["deploy"]
            cycle = "-" if r["steps_to_success"] is None else f"{r['steps_to_success']:.1f}"
            share = f"{d['intervention_rate']:.1%}" if d else "-"
            print(f"| {robot} | {r['round']} | {r['success']:.3f} [{r['success_ci95'][0]:.3f}, "
                  f"{r['success_ci95'][1]:.3f}] | {share} | {d.get('operator_steps', '-')} | {cycle} | "
                  f"{d.get('robot_time_s', '-')} |")
        print(f"| {robot} | total | | | {summary['operator_steps']} | | {summary['robot_time_s']} |")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
