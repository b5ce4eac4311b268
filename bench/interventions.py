"""Operator takeover end to end, per robot: the figures of issue 8's "done when", measured from the bags.

For each robot it runs, as separate processes over CycloneDDS on loopback, in lockstep against the hidden reality:

    robot-rl launch launch/<robot>.yaml --middleware dds --operator sim-expert --record DIR \
        --set sim_driver.episodes=N [--set operator.sim_expert.quality=Q ...]

and, as the peer in the same run, the same launch without an operator. From each bag it reports success, controller
ticks, the share of operator ticks, intervention onsets in the bag against the operator's own count, recorded
commands beyond a limit (the filter's static box; for the arm also the joint speed implied by consecutive targets;
for the mobile base also the acceleration step, handovers included), the dataset's transitions against the ticks,
and wall time (with the ratio to the peer); for the peer, the share of policy commands the safety filter changed.

    .venv/bin/python bench/interventions.py [--robots arm quadrotor mobile_base] [--episodes 20 10 12]
        [--set operator.sim_expert.quality=expert40 ...] [--out DIR] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from robot_rl.deploy.network import confine_to_localhost

ROOT = Path(__file__).resolve().parents[1]
ROBOTS = ("arm", "quadrotor", "mobile_base")
EPISODES = (20, 10, 12)
TOLERANCE = 1e-9


def launch(robot: str, out: Path, episodes: int, operator: bool, sets: list[str]) -> tuple[dict, dict, float]:
    """One `robot-rl launch` run: (sim driver summary, operator summary or {}, wall seconds)."""
    out.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "robot_rl.cli.main", "launch", str(ROOT / "launch" / f"{robot}.yaml"),
           "--middleware", "dds", "--record", str(out / "bag"), "--duration", "900",
           "--set", f"sim_driver.episodes={episodes}", "--set", f"sim_driver.summary_file={out / 'sim.json'}"]
    if operator:
        cmd += ["--operator", "sim-expert", "--set", f"operator.summary_file={out / 'operator.json'}"]
        cmd += [a for s in sets for a in ("--set", s)]
    start = time.perf_counter()
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        tail = result.stdout[-3000:] + result.stderr[-2000:]
        raise SystemExit(f"{robot}: launch failed ({result.returncode}):\n{tail}")
    op = json.loads((out / "operator.json").read_text()) if operator else {}
    return json.loads((out / "sim.json").read_text()), op, wall


def violations(robot: str, records: list) -> dict[str, int]:
    """Recorded (applied) commands beyond a limit: the static box, and per robot the step between ticks."""
    from robot_rl.robots import load_robot
    from robot_rl.safety import SafetyFilter

    limits = SafetyFilter.for_robot(load_robot(robot)).limits
    applied = np.array([r.applied for r in records])
    same = np.diff([r.episode for r in records]) == 0
    step = np.abs(np.diff(applied, axis=0))[same]
    if robot == "arm":
        low, high = limits.target_min_rad, limits.target_max_rad
        steps = int((step > limits.velocity_max_rad_s * limits.control_dt_s + TOLERANCE).any(axis=1).sum())
    else:
        low, high = limits.command_low, limits.command_high
        steps = 0
        if robot == "mobile_base":
            faster = (np.abs(applied[1:]) > np.abs(applied[:-1]))[same]
            steps = int((faster & (step > limits.command_step + TOLERANCE)).any(axis=1).sum())
    box = int(((applied < low - TOLERANCE) | (applied > high + TOLERANCE)).any(axis=1).sum())
    return {"box": box, "step": steps}


def filter_changed(records: list, bag: Path) -> tuple[int, int, dict[str, int]]:
    """(policy ticks whose command the safety filter changed, policy ticks, ticks per safety event in the bag)."""
    from collections import Counter

    from robot_rl.data.bag import read_bag

    policy = [r for r in records if r.source == "policy"]
    kinds = Counter(e for _, _, _, msg in read_bag(bag, topics=["/robot_rl/safety_events"])
                    for kv in msg.status[0].values if kv.key == "events" for e in kv.value.split(","))
    return sum(not np.array_equal(r.applied, r.proposed) for r in policy), len(policy), dict(kinds)


def measure(robot: str, episodes: int, out: Path, sets: list[str]) -> dict:
    """Run the sim-expert launch and its no-operator peer for one robot; the figures from both bags."""
    from robot_rl.data.bag import read_bag
    from robot_rl.data.dataset import build_dataset
    from robot_rl.data.intervention_log import read_log

    sim, op, wall = launch(robot, out / "operator", episodes, True, sets)
    peer, _, peer_wall = launch(robot, out / "peer", episodes, False, [])
    bag = out / "operator" / "bag"
    records = read_log(bag, str(bag)).records
    events = [kv.value for _, _, _, msg in read_bag(bag, topics=["/robot_rl/intervention"])
              for kv in msg.status[0].values if kv.key == "kind"]
    report = build_dataset([bag], out / "dataset")
    peer_records = read_log(out / "peer" / "bag", "peer").records
    return {"robot": robot, "episodes": sim["episodes"], "success": sim["success_rate"],
            "peer_success": peer["success_rate"], "ticks": len(records), "commands_sent": sim["commands_received"],
            "operator_ticks": sum(r.source == "operator" for r in records), "operator_steps": op["operator_steps"],
            "onsets_ticks": sum(r.onset for r in records), "onset_events": events.count("onset"),
            "operator_count": op["interventions"], "rule_onsets": op["rule_onsets"],
            "violations": violations(robot, records), "peer_violations": violations(robot, peer_records),
            "peer_filter_changed": filter_changed(peer_records, out / "peer" / "bag"),
            "transitions": report.transitions, "rlif_penalties": report.labels["rlif_penalties"],
            "wall_s": wall, "peer_wall_s": peer_wall, "wall_ratio": wall / peer_wall}


def print_row(r: dict) -> None:
    """One robot's figures on a few lines."""
    v, pv = r["violations"], r["peer_violations"]
    changed, policy, kinds = r["peer_filter_changed"]
    print(f"{r['robot']:<12} episodes {r['episodes']}  success {r['success']:.2f} (peer, no operator: "
          f"{r['peer_success']:.2f})  ticks {r['ticks']} (commands sent {r['commands_sent']})\n"
          f"{'':<12} operator ticks {r['operator_ticks']} ({r['operator_ticks'] / r['ticks']:.1%}; operator says "
          f"{r['operator_steps']})  onsets: ticks {r['onsets_ticks']}, events {r['onset_events']}, operator says "
          f"{r['operator_count']} (rule fired {r['rule_onsets']})\n"
          f"{'':<12} peer: the safety filter changed {changed} of {policy} policy commands ({changed / policy:.1%}; "
          f"events {kinds})\n"
          f"{'':<12} beyond a limit: box {v['box']}, step {v['step']} (peer {pv['box']}, {pv['step']})  "
          f"transitions {r['transitions']}  RLIF -1 labels {r['rlif_penalties']}  wall {r['wall_s']:.1f} s "
          f"(peer {r['peer_wall_s']:.1f} s, ratio {r['wall_ratio']:.2f})", flush=True)


def main() -> None:
    """Measure every requested robot and print its figures (plus JSON with `--json`)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--robots", nargs="+", default=list(ROBOTS), choices=ROBOTS)
    parser.add_argument("--episodes", nargs="+", type=int, default=list(EPISODES), help="per robot, in order")
    parser.add_argument("--set", action="append", default=[], dest="sets", help="operator override KEY=VALUE")
    parser.add_argument("--out", type=Path, default=None, help="keep the bags and datasets here (default: temp)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    confine_to_localhost()
    episodes = dict(zip(args.robots, args.episodes if len(args.episodes) > 1 else args.episodes * 3, strict=False))
    with tempfile.TemporaryDirectory() as tmp:
        root = args.out or Path(tmp)
        rows = []
        for robot in args.robots:
            print(f"{robot}: {episodes[robot]} episodes with a simulated operator, then without ...", flush=True)
            rows.append(measure(robot, episodes[robot], root / robot, args.sets))
            print_row(rows[-1])
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
