"""A short `robot-rl hil` loop, for real: evaluate on the hidden reality, deploy over DDS with the simulated
operator, record, build the dataset, fine-tune, evaluate again. The evaluations run as Ray tasks (`--ray auto`)
while the round deploys, with the numbers of an evaluation here. The full runs and their figures are in bench/."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from robot_rl.evaluate.policy_eval import evaluate_policy
from robot_rl.policy import OnnxPolicy
from robot_rl.policy.runner import sha256_file

ROOT = Path(__file__).resolve().parents[2]


def test_one_round_of_the_loop(tmp_path, ros_domain_id):
    out = tmp_path / "hil"
    cmd = [sys.executable, "-m", "robot_rl.cli.main", "hil", "robot_rl/ArmReach-v0", "--out", str(out), "--rounds",
           "1", "--episodes", "3", "--eval-episodes", "4", "--export-episodes", "0", "--method", "hg-dagger",
           "--rule", "rlif", "--set", "updates=20", "--ray", "auto", "--workers", "1",
           "--json"]  # rlif: interventions in 3 episodes whatever happens
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = json.loads(result.stdout)  # the nodes' output goes to stderr
    assert summary == json.loads((out / "hil.json").read_text()) and (out / "hil.png").stat().st_size > 10_000
    first, last = summary["rounds"]
    parent = ROOT / "policies" / "arm-reach"
    assert first["policy_sha256"] == sha256_file(parent / "policy.onnx") and first["eval_episodes"] == 4
    deploy = first["deploy"]
    assert deploy["episodes"] == 3 and deploy["ticks"] > 0 and 0 <= deploy["operator_steps"] <= deploy["ticks"]
    assert deploy["robot_time_s"] == round(deploy["ticks"] / 50.0, 2)  # 50 Hz
    assert 0 <= first["success_ci95"][0] <= first["success"] <= first["success_ci95"][1] <= 1
    child = OnnxPolicy.load(last["policy"])
    assert child.card.lineage.parent_sha256 == first["policy_sha256"] and child.card.lineage.method == "hg-dagger"
    assert not last["deploy"] and summary["operator_steps"] == deploy["operator_steps"]
    assert "hil: round 0: hidden-reality success" in result.stderr
    here = evaluate_policy(parent, 4, reality=summary["reality"], num_envs=16, seed=10_000)  # without Ray
    assert (first["success"], first["steps_to_success"]) == (here.success_rate, here.mean_steps_to_success)
