"""The swap check on real candidates (a fine-tuned child of the shipped arm policy, damaged copies of it, a policy
of another robot) and the rollback rule with hand-computed cases."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from robot_rl.deploy.policy_swap import rollback_reason
from robot_rl.deploy.swap_check import check_candidate
from robot_rl.learn.finetune_config import FinetuneConfig
from robot_rl.policy.card import DatasetRef
from robot_rl.policy.finetune import Parent, export_child, load_parent

ROOT = Path(__file__).resolve().parents[2]
PARENT = ROOT / "policies" / "arm-reach"


@pytest.fixture(scope="module")
def child(tmp_path_factory):
    """A child of the shipped arm policy: its actor with small weight noise, exported with lineage."""
    card, ckpt, module = load_parent(PARENT)
    torch.manual_seed(0)
    with torch.no_grad():
        for p in module.net.parameters():
            p.add_(0.001 * torch.randn_like(p))
    out = tmp_path_factory.mktemp("swap") / "child"
    ref = DatasetRef(path="test", dataset_id="test", sha256="0" * 64, transitions=0, interventions=0)
    export_child(Parent(PARENT, card, ckpt), module, {}, FinetuneConfig(method="bc"), [ref], {}, out, 0.0)
    return out


@pytest.mark.parametrize(("after", "why"), [
    ([(True, 0.1)] * 5, None),  # as good
    ([(True, 0.1)] * 4, None),  # too few episodes to judge
    ([(True, 0.1)] * 3 + [(False, 0.1)] * 2, "success fell from 100% to 60%"),  # -0.4 > 0.2
    ([(True, 0.1)] * 4 + [(False, 0.1)], None),  # -0.2 is not more than 0.2
    ([(True, 0.4)] * 5, "interventions rose from 10% to 40%"),  # +0.3 > 0.15
    ([(True, 0.2)] * 5, None),
])
def test_rollback_rule(after, why):
    before = [(False, 0.9)] * 3 + [(True, 0.1)] * 5  # only the last window counts
    reason = rollback_reason(before, after, window=5, success_drop=0.2, intervention_rise=0.15)
    assert reason == why if why is None else why in reason


def test_a_checked_child_passes(child):
    result = check_candidate(child, PARENT, episodes=4, seed=0, max_drop=0.25)
    assert result["passed"], result["reasons"]
    assert result["figures"]["episodes"] == 4 and 0 <= result["figures"]["candidate_success"] <= 1


def test_worse_in_randomized_sim_is_rejected(child):
    result = check_candidate(child, PARENT, episodes=4, seed=0, max_drop=-1.0)  # would have to be 100 points better
    assert not result["passed"] and result["reasons"][0].startswith("randomized sim: success")


def test_a_damaged_onnx_file_fails_the_card_contract(child, tmp_path):
    bad = shutil.copytree(child, tmp_path / "bad")
    onnx = bad / "policy.onnx"
    onnx.write_bytes(onnx.read_bytes()[:-1] + b"\x00")
    result = check_candidate(bad, PARENT, episodes=4)
    assert not result["passed"] and "card contract" in result["reasons"][0] and "sha256" in result["reasons"][0]


def test_a_checkpoint_that_is_not_the_onnx_graph_fails_parity(child, tmp_path):
    bad = shutil.copytree(child, tmp_path / "bad")
    shutil.copy(PARENT / "checkpoint.pt", bad / "checkpoint.pt")  # the parent's weights, the child's graph
    result = check_candidate(bad, PARENT, episodes=4)
    assert not result["passed"] and result["reasons"][0].startswith("ONNX parity")


def test_a_policy_of_another_robot_fails_the_card_contract():
    result = check_candidate(ROOT / "policies" / "mobile-base-goal", PARENT, episodes=4)
    assert not result["passed"] and "not for robot 'arm'" in result["reasons"][0]


def test_command_line_writes_the_result(child, tmp_path):
    out = tmp_path / "result.json"
    cmd = [sys.executable, "-m", "robot_rl.deploy.swap_check", str(child), "--current", str(PARENT), "--episodes",
           "2", "--max-drop", "1.0", "--out", str(out)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(out.read_text())["passed"] is True
