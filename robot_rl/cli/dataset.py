"""`robot-rl dataset BAG... --out DIR`: intervention logs -> a labelled Minari dataset (`robot_rl.data.dataset`)."""

from __future__ import annotations

import argparse
import json
import sys


def add_dataset_command(sub: argparse._SubParsersAction) -> None:
    """Register `robot-rl dataset` on the top-level subparsers."""
    p = sub.add_parser("dataset", help="turn intervention logs (rosbag2 MCAP bags) into a Minari dataset: one "
                       "transition per controller tick, with RLIF, HIL-SERL and HG-DAgger labels")
    p.add_argument("bags", nargs="+", metavar="BAG", help="bag directories recorded by `robot-rl launch` (one robot, "
                   "task and observation layout)")
    p.add_argument("--out", required=True, metavar="DIR", help="Minari datasets root to write into; open the result "
                   "with MINARI_DATASETS_PATH=DIR and minari.load_dataset(ID)")
    p.add_argument("--dataset-id", default="", metavar="ID",
                   help="Minari dataset id (default robot_rl/<robot>/interventions-v0)")
    p.add_argument("--no-recover", action="store_true", help="refuse a bag left unfinished by a killed recorder "
                   "(default: read a recovered temporary copy and count the damaged bytes skipped)")
    p.add_argument("--author", default="", help="recorded as the dataset's author")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress lines (one per bag, on stderr)")
    p.set_defaults(func=run_dataset)


def run_dataset(args: argparse.Namespace) -> int:
    """Build the dataset; print the report (exit 0) or one error line naming the bag, topic and field (exit 2)."""
    from robot_rl.data import BagError, DatasetConfig, DatasetError, build_dataset

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    try:
        report = build_dataset(args.bags, args.out, DatasetConfig(args.dataset_id, not args.no_recover, args.author),
                               None if args.quiet else progress)
    except (BagError, DatasetError) as e:
        print(f"robot-rl dataset: error: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
        return 0
    lines = {"dataset": report.dataset_id, "path": report.data_path, "robot": f"{report.robot} ({report.env_id})",
             "transitions": f"{report.transitions} (one per controller tick)", "episodes": report.episodes,
             "outcomes": report.outcomes, "labels": report.labels,
             "policies": ", ".join(f"{p['sha256']} ({p['ticks']} ticks)" for p in report.policies)}
    for key, value in lines.items():
        print(f"{key:>12}: {value}")
    print(f"open with: MINARI_DATASETS_PATH={args.out} python -c \"import minari; "
          f"ds = minari.load_dataset('{report.dataset_id}')\"")
    return 0
