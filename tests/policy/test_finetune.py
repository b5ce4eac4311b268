"""`robot-rl finetune` on real intervention data: the shipped arm policy deployed over DDS against the hidden
reality with a simulated operator, recorded, turned into a dataset; then each method, the lineage in the card,
and the bad inputs (foreign robot / spec / policy, no interventions, empty, truncated)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from robot_rl.data import DatasetError
from robot_rl.data.dataset import build_dataset
from robot_rl.data.transitions import dataset_sha256, load_transitions
from robot_rl.learn.finetune_config import FinetuneConfig
from robot_rl.policy import OnnxPolicy
from robot_rl.policy.finetune import finetune
from robot_rl.policy.runner import sha256_file
from tests.conftest import fresh_domain_id
from tests.deploy.test_end_to_end import launch

ROOT = Path(__file__).resolve().parents[2]
PARENT = ROOT / "policies" / "arm-reach"
REALITY = ROOT / "sim" / "arm" / "realities" / "weak_actuators.yaml"
DATA = "robot_rl/arm/interventions-v0"
QUICK = {"updates": 40, "critic_warmup": 20, "batch_size": 64}


def _record(out: Path, episodes: int, operator: bool) -> Path:
    """A real deployment of the shipped arm policy (lockstep over DDS on loopback), recorded and made a dataset."""
    extra = ["--set", f"sim_driver.reality_file={REALITY}"]
    if operator:
        extra += ["--operator", "sim-expert", "--set", "operator.sim_expert.quality=expert90"]
    with pytest.MonkeyPatch.context() as mp:  # a module fixture: its own DDS domain, set by hand
        mp.setenv("ROS_DOMAIN_ID", fresh_domain_id())
        _, _, bag = launch("arm", out, episodes, *extra)
    build_dataset([bag], out / "dataset")
    return out / "dataset" / DATA


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    """(with interventions, without any operator), both real."""
    root = tmp_path_factory.mktemp("finetune_data")
    return _record(root / "op", 3, operator=True), _record(root / "plain", 1, operator=False)


def _edit_metadata(src: Path, dst: Path, **changes: object) -> Path:
    shutil.copytree(src, dst)
    meta_path = dst / "data" / "metadata.json"
    meta = json.loads(meta_path.read_text())
    meta["robot_rl"].update(changes)
    meta_path.write_text(json.dumps(meta))
    return dst


def test_transitions_match_the_dataset(datasets):
    data = load_transitions([datasets[0]])
    meta = json.loads((datasets[0] / "data" / "metadata.json").read_text())["robot_rl"]
    assert len(data) == meta["transitions"] and data.obs.shape == data.next_obs.shape
    assert int(data.intervention.sum()) == meta["labels"]["interventions"] > 0
    assert int((data.rlif_reward < 0).sum()) == meta["labels"]["rlif_penalties"]
    assert set(data.policy_sha256) == {sha256_file(PARENT / "policy.onnx")}
    assert data.sources[0].sha256 == dataset_sha256(datasets[0] / "data")
    np.testing.assert_array_equal(data.source == 1, data.intervention)


@pytest.mark.parametrize("method", ["rlif", "hil-serl", "hg-dagger", "bc"])
def test_each_method_exports_a_checked_policy_with_its_lineage(datasets, tmp_path, method):
    out = tmp_path / "child"
    report = finetune(PARENT, [datasets[0]], out, FinetuneConfig(method=method, **QUICK), episodes=0)
    child = OnnxPolicy.load(out)  # hash, spec and card checked as deployment checks them
    lineage = child.card.lineage
    assert lineage.parent_sha256 == sha256_file(PARENT / "policy.onnx")
    assert lineage.parent_card_sha256 == sha256_file(PARENT / "card.yaml")
    assert [d.sha256 for d in lineage.datasets] == [dataset_sha256(datasets[0] / "data")]
    assert lineage.method == method and lineage.settings["updates"] == QUICK["updates"]
    assert lineage.data["interventions"] == report.data["interventions"] > 0
    assert child.card.training.algo == f"finetune-{method}"
    assert child.card.randomization == OnnxPolicy.load(PARENT).card.randomization  # the parent's ranges
    obs = load_transitions([datasets[0]]).obs[:64]
    parent_cmd, child_cmd = OnnxPolicy.load(PARENT).act(obs), child.act(obs)
    assert 0 < np.abs(parent_cmd - child_cmd).max() < 0.5  # trained, from the parent (not from random weights)


def test_a_child_may_be_tuned_again_on_data_of_its_ancestors(datasets, tmp_path):
    quick = FinetuneConfig(method="hg-dagger", **QUICK)
    finetune(PARENT, [datasets[0]], tmp_path / "one", quick, episodes=0)
    finetune(tmp_path / "one", [datasets[0]], tmp_path / "two", quick, episodes=0)
    lineage = OnnxPolicy.load(tmp_path / "two").card.lineage
    assert lineage.parent_sha256 == sha256_file(tmp_path / "one" / "policy.onnx")
    assert lineage.ancestors == [sha256_file(PARENT / "policy.onnx")]


@pytest.mark.parametrize(("field", "value"), [("robot", "mobile_base"), ("env_id", "robot_rl/ArmPush-v0"),
                                              ("observation", "joint_pos:7")])
def test_a_dataset_of_another_robot_task_or_spec_is_refused_naming_the_field(datasets, tmp_path, field, value):
    edited = _edit_metadata(datasets[0], tmp_path / "edited", **{field: value})
    with pytest.raises(DatasetError, match=f"field 'robot_rl.{field}'"):
        finetune(PARENT, [edited], tmp_path / "child", FinetuneConfig(**QUICK), episodes=0)
    assert not (tmp_path / "child").exists()


def test_a_dataset_recorded_with_another_policy_is_refused(datasets, tmp_path):
    meta = json.loads((datasets[0] / "data" / "metadata.json").read_text())["robot_rl"]
    policies = [{**p, "sha256": "ab" * 32} for p in meta["policies"]]
    edited = _edit_metadata(datasets[0], tmp_path / "edited", policies=policies)
    with pytest.raises(DatasetError, match="field 'robot_rl.policies'.*another policy"):
        finetune(PARENT, [edited], tmp_path / "child", FinetuneConfig(**QUICK), episodes=0)


@pytest.mark.parametrize("method", ["rlif", "hg-dagger", "hil-serl"])
def test_no_interventions_under_a_method_that_needs_them_is_refused(datasets, tmp_path, method):
    with pytest.raises(DatasetError, match=f"{method}: no "):
        finetune(PARENT, [datasets[1]], tmp_path / "child", FinetuneConfig(method=method, **QUICK), episodes=0)
    assert not (tmp_path / "child").exists()


def test_an_empty_or_truncated_dataset_is_refused_naming_the_file(datasets, tmp_path):
    truncated = shutil.copytree(datasets[0], tmp_path / "truncated")
    hdf5 = truncated / "data" / "main_data.hdf5"
    hdf5.write_bytes(hdf5.read_bytes()[: hdf5.stat().st_size // 2])
    with pytest.raises(DatasetError, match=r"main_data|truncated or damaged"):
        load_transitions([truncated])
    empty = tmp_path / "empty"
    (empty / "data").mkdir(parents=True)
    with pytest.raises(DatasetError, match="not a dataset"):
        load_transitions([empty])
    with pytest.raises(DatasetError, match="no dataset given"):
        load_transitions([])


def test_cli_finetune_and_its_errors(datasets, tmp_path):
    out = tmp_path / "child"
    cmd = [sys.executable, "-m", "robot_rl.cli.main", "finetune", str(PARENT), "--data", str(datasets[0]),
           "--method", "bc", "--out", str(out), "--episodes", "0", "--json",
           *[a for k, v in QUICK.items() for a in ("--set", f"{k}={v}")]]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout)["lineage"]["method"] == "bc"
    assert yaml.safe_load((out / "card.yaml").read_text())["lineage"]["parent_sha256"] == sha256_file(
        PARENT / "policy.onnx")
    again = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert again.returncode == 2 and "already exists" in again.stderr
    bad = subprocess.run([*cmd[:-6], "--force", "--set", "updates=many"], cwd=ROOT, capture_output=True, text=True,
                         timeout=300, check=False)
    assert bad.returncode == 2 and "updates expects a int value" in bad.stderr
