"""The release gate on Ray: wall time with 1 and 2 worker processes against the single-process run, same results.

Runs `robot-rl gate` on copies of a shipped policy (its default suite) three times: here in one process (the peer),
then as Ray tasks on a local instance (`--ray auto`, loopback only) of 1 and of 2 worker processes. Printed: wall
times, the speedup of 2 workers over 1 and over the single process, the scaling efficiency of the added worker
(speedup / workers), and whether every case's numbers are identical across the three runs.

    .venv/bin/python bench/gate_ray.py [--policy policies/arm-reach] [--episodes N] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(policy: Path, episodes: int | None, *extra: str) -> tuple[float, dict]:
    """Wall time s and the JSON result of one gate run on `policy`."""
    args = [sys.executable, "-m", "robot_rl.cli.main", "gate", str(policy), "--json", "--quiet", *extra]
    if episodes:
        args += ["--episodes", str(episodes)]
    t0 = time.perf_counter()
    out = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if out.returncode not in (0, 1):
        raise SystemExit(f"gate failed: {out.stderr[-2000:]}")
    return wall, json.loads(out.stdout)


def main() -> None:
    """Run the three gates and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--policy", type=Path, default=ROOT / "policies" / "arm-reach")
    ap.add_argument("--episodes", type=int, help="episodes per case (default: the suite's)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    runs = {"single process": (), "ray 1 worker": ("--ray", "auto", "--workers", "1"),
            "ray 2 workers": ("--ray", "auto", "--workers", "2")}
    walls, results = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, extra in runs.items():
            copy = Path(tmp) / name.replace(" ", "_")
            shutil.copytree(args.policy, copy, ignore=shutil.ignore_patterns("gate"))
            walls[name], results[name] = run(copy, args.episodes, *extra)
            print(f"{name:16s} {walls[name]:7.1f} s  ({len(results[name]['cases'])} cases, "
                  f"{'passed' if results[name]['passed'] else 'failed'})", flush=True)

    def numbers(r: dict) -> list[dict]:
        return [{k: v for k, v in c.items() if k != "wall_s"} for c in r["cases"]]

    identical = all(numbers(r) == numbers(results["single process"]) for r in results.values())
    speedup = walls["ray 1 worker"] / walls["ray 2 workers"]
    summary = {"policy": str(args.policy), "walls_s": walls, "speedup_2_over_1_workers": speedup,
               "efficiency_2_workers": speedup / 2, "speedup_2_workers_over_single_process":
               walls["single process"] / walls["ray 2 workers"], "identical_results": identical}
    print(f"speedup 2 workers / 1 worker: {speedup:.2f}x (efficiency {speedup / 2:.0%}); 2 workers vs the single "
          f"process: {summary['speedup_2_workers_over_single_process']:.2f}x; identical results: {identical}")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
