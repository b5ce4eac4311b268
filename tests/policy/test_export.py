"""Export: ONNX graph contract, torch/ONNX parity, card contents, failures that leave nothing behind."""

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

import robot_rl.policy.export as export_module
from robot_rl.envs import ENVS
from robot_rl.learn.checkpoint import CheckpointError, build_policy, save_atomic
from robot_rl.policy.export import (
    PARITY_TOLERANCE,
    ExportError,
    export,
    parity,
    to_onnx,
    trained_ranges,
    untrained_checkpoint,
)
from robot_rl.policy.runner import session_options, sha256_file
from robot_rl.robots import load_robot

ENV_ID = "robot_rl/QuadrotorHover-v0"


def random_module(env_id, hidden=(64, 64), squash="clip", seed=0):
    return build_policy(env_id, untrained_checkpoint(env_id, hidden, squash=squash, seed=seed)["policy"])


def write_checkpoint(run_dir, env_id=ENV_ID, hidden=(64, 64), seed=0):
    """An untrained policy's checkpoint at `run_dir/checkpoint.pt`; returns the torch module it holds."""
    ckpt = untrained_checkpoint(env_id, hidden, seed=seed)
    save_atomic(ckpt, run_dir / "checkpoint.pt")
    return build_policy(env_id, ckpt["policy"])


def test_export_writes_the_artifact(exported):
    report = exported
    out = report.out_dir
    assert sorted(p.name for p in out.iterdir()) == ["card.yaml", "checkpoint.pt", "policy.onnx"]
    assert report.card.onnx.sha256 == sha256_file(out / "policy.onnx")
    assert report.parity_random <= PARITY_TOLERANCE and report.parity_recorded <= PARITY_TOLERANCE
    assert [(e.backend, e.randomized, e.episodes) for e in report.card.evaluation] == [
        ("mujoco", True, 2), ("pybullet", True, 2)]
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temporary folder left


def test_graph_contract(exported):
    model = onnx.load(exported.out_dir / "policy.onnx")
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 17
    (inp,), (out,) = model.graph.input, model.graph.output
    dims = [[d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim] for v in (inp, out)]
    assert (inp.name, out.name) == ("obs", "action")
    assert dims == [["batch", 22], ["batch", 4]]
    assert inp.type.tensor_type.elem_type == onnx.TensorProto.FLOAT == out.type.tensor_type.elem_type
    assert not {n.op_type for n in model.graph.node} & {"If", "Loop", "Scan"}


@pytest.mark.parametrize("squash", ["clip", "tanh"])
@pytest.mark.parametrize("env_id", list(ENVS))
def test_parity_every_task_raw_obs_in_command_out(env_id, squash):
    """Normalization, squash and action map live in the graph: raw obs in, commands (within bounds) out."""
    module = random_module(env_id, hidden=(256, 256), squash=squash)
    n_obs = module.normalizer.mean.numel()
    session = ort.InferenceSession(to_onnx(module, n_obs), session_options())
    obs = (np.random.default_rng(1).standard_normal((1000, n_obs)) * 3).astype(np.float32)
    assert parity(module, session, obs) <= PARITY_TOLERANCE
    command = session.run(["action"], {"obs": obs})[0]
    assert (command >= module.low.numpy()).all() and (command <= module.high.numpy()).all()
    for batch in (1, 7):  # dynamic batch axis
        assert session.run(["action"], {"obs": obs[:batch]})[0].shape == (batch, module.low.numel())


def test_arm_policy_with_observation_offset(tmp_path):
    """The arm's joint targets are increments on the last applied target (offset quantity in the graph)."""
    module = write_checkpoint(tmp_path / "run", "robot_rl/ArmReach-v0")
    report = export(tmp_path / "run", tmp_path / "arm", episodes=0)
    assert report.card.evaluation == [] and report.parity_recorded <= PARITY_TOLERANCE
    obs = np.zeros((1, 30), np.float32)
    obs[0, :7] = [0.5, 0.5, 0.5, -1.0, 0.5, 0.5, 0.5]  # joint_pos_rad: not the offset
    obs[0, 23:30] = [0.1, -0.5, 0.2, -2.0, 0.3, 1.5, 0.7]  # last_action_rad: the offset
    session = ort.InferenceSession(str(tmp_path / "arm" / "policy.onnx"))
    got = session.run(["action"], {"obs": obs})[0]
    with torch.no_grad():
        expected = module(torch.from_numpy(obs)).numpy()
    np.testing.assert_allclose(got, expected, atol=PARITY_TOLERANCE)
    # increments are at most 2.61 rad/s x 0.02 s = 0.0522 rad around the last target
    assert np.abs(got - obs[:, 23:30]).max() <= 0.0522 + 1e-6


def test_parity_failure_leaves_nothing(tmp_path, monkeypatch):
    write_checkpoint(tmp_path / "run")
    monkeypatch.setattr(export_module, "parity", lambda *a: 1e-3)
    with pytest.raises(ExportError, match="differ by 0.001"):
        export(tmp_path / "run", tmp_path / "policies" / "p", episodes=0)
    assert list((tmp_path / "policies").iterdir()) == []


def test_run_folder_without_checkpoint(tmp_path):
    (tmp_path / "run").mkdir()
    with pytest.raises(CheckpointError, match=r"run/checkpoint.pt: no checkpoint file"):
        export(tmp_path / "run", tmp_path / "out", episodes=0)
    assert not (tmp_path / "out").exists()


def test_corrupt_and_mismatched_checkpoints(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "checkpoint.pt").write_bytes(b"\x80\x04garbage")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        export(tmp_path / "run", tmp_path / "out", episodes=0)
    write_checkpoint(tmp_path / "run2", hidden=(32,))
    ckpt = torch.load(tmp_path / "run2" / "checkpoint.pt", weights_only=False)
    ckpt["policy"]["hidden"] = [64]  # state dict is for a 32-unit layer
    torch.save(ckpt, tmp_path / "run2" / "checkpoint.pt")
    with pytest.raises(CheckpointError, match="cannot rebuild the policy"):
        export(tmp_path / "run2", tmp_path / "out", episodes=0)
    assert not (tmp_path / "out").exists()


def test_existing_output_needs_overwrite(exported, tmp_path):
    write_checkpoint(tmp_path / "run", seed=3)
    out = tmp_path / "out"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    with pytest.raises(ExportError, match="already exists"):
        export(tmp_path / "run", out, episodes=0)
    export(tmp_path / "run", out, episodes=0, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == ["card.yaml", "checkpoint.pt", "policy.onnx"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_nominal_training_run_records_no_randomization(tmp_path):
    write_checkpoint(tmp_path / "run")
    (tmp_path / "run" / "config.yaml").write_text("env: {randomize: false}\ngit_commit: feedbeef\n")
    card = export(tmp_path / "run", tmp_path / "out", episodes=0).card
    assert card.randomization is None
    assert (card.action_latency_steps.low, card.action_latency_steps.high) == (0, 0)
    assert card.training.git_commit == "feedbeef" and card.training.config["env"] == {"randomize": False}
    assert card.env_id == ENV_ID


def test_trained_ranges_follow_the_run_config(tmp_path):
    robot = load_robot("quadrotor")
    (tmp_path / "ranges.yaml").write_text(
        "randomization:\n  mass_kg: {distribution: uniform, low: 0.026, high: 0.030, unit: kg}\n")
    ranges = trained_ranges({"env": {"randomize": "ranges.yaml"}}, robot, tmp_path)  # relative to the run folder
    assert (ranges["mass_kg"].low, ranges["mass_kg"].high) == (0.026, 0.030)
    assert ranges["action_latency_steps"] == robot.randomization["action_latency_steps"]
    assert trained_ranges({}, robot, tmp_path) == dict(robot.randomization)  # training randomizes by default
    assert trained_ranges({"randomize": False}, robot, tmp_path) is None
