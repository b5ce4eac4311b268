"""The check a new policy version must pass before the controller swaps to it (run as a separate process).

    python -m robot_rl.deploy.swap_check CANDIDATE --current FOLDER --episodes 16 --seed 0 --max-drop 0.05 --out F

1. the card contract, as for any artifact: `OnnxPolicy.load` (ONNX hash, card, spec) for the controller's robot,
   and the same task and observation layout as the current policy;
2. ONNX parity: the candidate's `checkpoint.pt` rebuilt in torch reproduces its ONNX graph
   (`robot_rl.policy.finetune.load_parent`);
3. a short randomized-sim evaluation: the candidate's success over `episodes` randomized MuJoCo episodes is not
   worse than the current policy's on the same episodes (same seed) by more than `max_drop`.

The result is a JSON object {passed, reasons, candidate, current, figures} written to `--out` (and printed). The
controller runs this out of its tick loop (a subprocess it polls), so a slow check never delays a command.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any


def check_candidate(candidate: str | Path, current: str | Path, episodes: int = 16, seed: int = 0,
                    max_drop: float = 0.05) -> dict[str, Any]:
    """Run the three checks; `passed` is False with the reasons when any fails (later ones are then skipped)."""
    from robot_rl.data.ticks import observation_layout
    from robot_rl.evaluate.policy_eval import evaluate_policy
    from robot_rl.learn.checkpoint import CheckpointError
    from robot_rl.policy import OnnxPolicy, PolicyError
    from robot_rl.policy.finetune import load_parent
    from robot_rl.robots import load_robot

    start = time.perf_counter()
    out: dict[str, Any] = {"passed": False, "reasons": [], "candidate": str(candidate), "current": str(current),
                           "figures": {}}
    try:
        cur = OnnxPolicy.load(current)
        cand = OnnxPolicy.load(candidate, load_robot(cur.card.robot))
    except PolicyError as e:
        out["reasons"].append(f"card contract: {e}")
        return out
    layouts = [observation_layout([(q.name, q.size) for q in p.card.observation.quantities]) for p in (cur, cand)]
    if cand.card.env_id != cur.card.env_id or layouts[0] != layouts[1]:
        out["reasons"].append(f"card contract: task/observation {cand.card.env_id} {layouts[1]} differ from the "
                              f"current policy's {cur.card.env_id} {layouts[0]}")
        return out
    try:
        load_parent(candidate)
    except (PolicyError, CheckpointError) as e:
        out["reasons"].append(f"ONNX parity: {e}")
        return out
    stats = {name: evaluate_policy(folder, episodes, randomize=True, num_envs=min(16, episodes), seed=seed)
             for name, folder in (("current", current), ("candidate", candidate))}
    figures = {f"{name}_success": s.success_rate for name, s in stats.items()}
    figures.update({"episodes": episodes, "seed": seed, "max_drop": max_drop, "wall_s": time.perf_counter() - start})
    out["figures"] = figures
    if figures["candidate_success"] < figures["current_success"] - max_drop:
        out["reasons"].append(f"randomized sim: success {figures['candidate_success']:.0%} is worse than the current "
                              f"policy's {figures['current_success']:.0%} by more than {max_drop:.0%}")
        return out
    out["passed"] = True
    return out


def main(argv: list[str] | None = None) -> int:
    """Command line: check, write the JSON result; exit 0 whether or not the candidate passed (1: crashed)."""
    p = argparse.ArgumentParser(prog="python -m robot_rl.deploy.swap_check", description=__doc__.splitlines()[0])
    p.add_argument("candidate")
    p.add_argument("--current", required=True)
    p.add_argument("--episodes", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-drop", type=float, default=0.05)
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    result = check_candidate(args.candidate, args.current, args.episodes, args.seed, args.max_drop)
    tmp = Path(args.out).with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2))
    tmp.replace(args.out)  # the controller never reads a half-written result
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
