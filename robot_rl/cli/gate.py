"""`robot-rl gate`: the release gate of an exported policy in simulation; verdict into its card."""

from __future__ import annotations

import argparse
import json
import sys


def _cmd_gate(args: argparse.Namespace) -> int:
    from robot_rl.evaluate.gate import run_gate

    quiet = args.json or args.quiet
    result = run_gate(args.policy_dir, args.suite, args.episodes,
                      progress=(lambda line: print(line, file=sys.stderr)) if not quiet else (lambda _line: None),
                      ray=args.ray, workers=args.workers)
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print(f"robot-rl gate: {'PASSED' if result['passed'] else 'FAILED'}: {args.policy_dir}")
        for reason in result["reasons"]:
            print(f"  {reason}")
    return 0 if result["passed"] else 1


def add_gate_command(sub: argparse._SubParsersAction) -> None:
    """Register `robot-rl gate`."""
    p = sub.add_parser("gate", help="release gate: nominal, randomized, cross-sim, sweeps beyond the trained ranges "
                       "and stress cases; report and verdict into the card (exit 1 when it fails)")
    p.add_argument("policy_dir", help="policy folder (policies/NAME)")
    p.add_argument("--suite", help="gate suite YAML (default: sim/<robot>/gate.yaml)")
    p.add_argument("--episodes", type=int, help="episodes per case (default: the suite's)")
    p.add_argument("--ray", metavar="auto|HOST:PORT", help="run the cases as Ray tasks: 'auto' starts a local Ray "
                   "instance (loopback only), HOST:PORT joins a cluster (pip install 'robot_rl[ray]')")
    p.add_argument("--workers", type=int, help="with --ray auto: CPUs of the local instance (default: all)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--quiet", action="store_true", help="no per-case progress")
    p.set_defaults(func=_cmd_gate)
