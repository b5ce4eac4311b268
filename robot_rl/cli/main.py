"""`robot-rl`: argument parsing only; each command calls a function in the module that owns it."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from robot_rl.deploy.network import confine_to_localhost


def _cmd_envs(args: argparse.Namespace) -> int:
    from robot_rl.cli.listing import env_rows, format_table

    rows = env_rows()
    print(json.dumps(rows, indent=2) if args.json else format_table(rows))
    return 0


def _cmd_baseline(args: argparse.Namespace) -> int:
    from robot_rl.evaluate import run_baseline

    randomize = args.randomize_file or args.randomize
    stats = run_baseline(args.env_id, args.episodes, args.backend, randomize, args.num_envs, args.seed,
                         progress=not args.quiet)
    if args.json:
        print(json.dumps(stats.as_dict(), indent=2))
    else:
        for key, value in stats.as_dict().items():
            print(f"{key:>22}: {value:.4g}" if isinstance(value, float) else f"{key:>22}: {value}")
    return 0


def _cmd_crosscheck(args: argparse.Namespace) -> int:
    from robot_rl.evaluate.cross_sim import compare_open_loop
    from robot_rl.evaluate.plots import plot_cross_sim

    result = compare_open_loop(args.env_id, seed=args.seed)
    summary = {"env_id": args.env_id, "quantity": result.quantity, "max_abs_difference": result.max_abs_difference,
               "final_abs_difference": result.final_abs_difference, "backends": list(result.trajectories)}
    if args.plot:
        summary["plot"] = str(plot_cross_sim(result, args.plot))
    print(json.dumps(summary, indent=2) if args.json else "\n".join(f"{k:>20}: {v}" for k, v in summary.items()))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(prog="robot-rl", description="robot_rl: sim-to-real robot learning stack")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("envs", help="list registered environments (robot, task, backends, rates)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=_cmd_envs)
    p = sub.add_parser("baseline", help="run a task's reference controller and report success")
    p.add_argument("env_id", help="registered environment id, e.g. robot_rl/ArmReach-v0")
    p.add_argument("--episodes", type=int, default=50, help="number of episodes (default 50)")
    p.add_argument("--backend", choices=["mujoco", "pybullet"], default="mujoco")
    p.add_argument("--randomize", action="store_true", help="domain randomization from robot.yaml (default nominal)")
    p.add_argument("--randomize-file", metavar="YAML", help="randomize with ranges overridden by this file")
    p.add_argument("--num-envs", type=int, default=16, help="envs stepped as one batch (default 16)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print a JSON object")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=_cmd_baseline)
    p = sub.add_parser("crosscheck", help="same open-loop commands in MuJoCo and PyBullet; print (and plot) the gap")
    p.add_argument("env_id", help="registered environment id")
    p.add_argument("--plot", metavar="PNG", help="write a figure of both trajectories and their difference")
    p.add_argument("--seed", type=int, default=0, help="seed of the task reset that gives the start state")
    p.add_argument("--json", action="store_true", help="print a JSON object")
    p.set_defaults(func=_cmd_crosscheck)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `robot-rl`; returns the exit code. User errors print one line and exit 2."""
    confine_to_localhost(respect_existing=True)
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (KeyError, ValueError, TypeError, FileNotFoundError) as e:
        message = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"robot-rl {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"robot-rl {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
