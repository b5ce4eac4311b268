"""`robot-rl sysid design|excite|fit`: excitation, identification, calibration files and the reality-gap report."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path


def _cmd_design(args: argparse.Namespace) -> int:
    from robot_rl.deploy.sysid_excite import design_excitation
    from robot_rl.robots import load_robot

    path = design_excitation(load_robot(args.robot), args.duration, Path(args.out), args.draws, args.seed)
    print(f"robot-rl sysid design: wrote {path}")
    return 0


def _cmd_excite(args: argparse.Namespace) -> int:
    from robot_rl.deploy.sysid_excite import excite

    result = excite(args.params_file, args.duration, args.record, args.design, sim=not args.no_sim,
                    overrides=args.set, middleware=args.middleware, draws=args.draws)
    print(json.dumps(result) if args.json else "\n".join(f"{k:>18}: {v}" for k, v in result.items()))
    return int(result["exit_code"])


def _cmd_fit(args: argparse.Namespace) -> int:
    from robot_rl.evaluate.executor import make_executor
    from robot_rl.robots import load_robot
    from robot_rl.sysid.calibrate import calibrate, summary_lines
    from robot_rl.sysid.fit import FitError
    from robot_rl.sysid.logs import log_from_bags

    spec = load_robot(args.robot)
    out = Path(args.out or f"calibration/{spec.name}/{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%SZ}.yaml")
    if out.exists() and not args.force:
        raise ValueError(f"--out {out}: exists (pass --force to replace it)")
    params = [p for p in (args.params or "").split(",") if p]
    log = log_from_bags(args.bags, spec)
    progress = (lambda line: print(line, file=sys.stderr, flush=True)) if args.json else print
    executor = make_executor(args.ray, args.workers)
    try:
        doc = calibrate(spec, log, out, params, args.report, holdout=args.holdout, max_latency=args.max_latency,
                        seed=args.seed, progress=progress, map_jobs=None if args.ray is None else executor.map)
    except FitError as e:
        print(f"robot-rl sysid fit: {e}; no calibration written", file=sys.stderr)
        return 3
    finally:
        executor.close()
    if args.json:
        print(json.dumps({"calibration": str(out), "report": args.report, **doc}))
    else:
        print("\n".join(summary_lines(doc)))
        print(f"robot-rl sysid fit: wrote {out}" + (f" and {args.report}" if args.report else ""))
    return 0


def add_sysid_command(sub: argparse._SubParsersAction) -> None:
    """Register `robot-rl sysid` and its subcommands."""
    p = sub.add_parser("sysid", help="system identification: excite the robot, fit its parameters, calibrate the sim")
    s = p.add_subparsers(dest="sysid_command", required=True)
    d = s.add_parser("design", help="score the robot's excitations (D-optimal) and write the best as a file")
    d.add_argument("--robot", required=True, help="robot name (sim/<robot>/robot.yaml)")
    d.add_argument("--duration", type=float, default=30.0, help="excitation length, s (default 30)")
    d.add_argument("--out", required=True, help="excitation file to write (YAML)")
    d.add_argument("--draws", type=int, default=2, help="prior draws the information is averaged over (default 2)")
    d.add_argument("--seed", type=int, default=0)
    d.set_defaults(func=_cmd_design)
    e = s.add_parser("excite", help="play an excitation through controller + safety filter and record it")
    e.add_argument("params_file", help="launch/<robot>.yaml")
    e.add_argument("--duration", type=float, default=30.0, help="excitation length, s (default 30)")
    e.add_argument("--record", required=True, help="bag directory to write (must not exist)")
    e.add_argument("--design", help="excitation file (robot-rl sysid design); default: choose the D-optimal one")
    e.add_argument("--draws", type=int, default=2, help="prior draws for the D-optimal choice (default 2)")
    e.add_argument("--set", action="append", default=[], metavar="NODE.KEY=VALUE", help="parameter override")
    e.add_argument("--no-sim", action="store_true", help="a real robot driver runs (no simulated robot)")
    e.add_argument("--middleware", choices=["auto", "dds", "rclpy"], default="auto")
    e.add_argument("--json", action="store_true", help="print the result as JSON")
    e.set_defaults(func=_cmd_excite)
    f = s.add_parser("fit", help="identify physical parameters and latency from bags; write a calibration file")
    f.add_argument("bags", nargs="+", help="bag directories (recorded runs, e.g. of robot-rl sysid excite)")
    f.add_argument("--robot", required=True, help="the robot the bags are of")
    f.add_argument("--params", help="comma-separated parameters to fit (default: every randomized physical one)")
    f.add_argument("--out", help="calibration file (default calibration/<robot>/<UTC stamp>.yaml)")
    f.add_argument("--report", help="also write the reality-gap report (self-contained HTML)")
    f.add_argument("--holdout", type=float, default=0.25, help="fraction of the ticks held out (default 0.25)")
    f.add_argument("--max-latency", type=int, default=4, help="largest latency searched, control steps (default 4)")
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--ray", metavar="auto|HOST:PORT", help="refine the candidate latencies as Ray tasks: 'auto' a "
                   "local instance (loopback only), HOST:PORT a cluster (pip install 'robot_rl[ray]')")
    f.add_argument("--workers", type=int, help="with --ray auto: CPUs of the local instance (default: all)")
    f.add_argument("--force", action="store_true", help="replace an existing --out")
    f.add_argument("--json", action="store_true", help="print the calibration as JSON (progress on stderr)")
    f.set_defaults(func=_cmd_fit)
