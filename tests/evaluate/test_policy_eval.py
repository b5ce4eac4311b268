"""Evaluating an exported ONNX policy: episode quota, limit-hit counting, refusal of a bad artifact."""

import numpy as np
import pytest
import torch

from robot_rl.envs.rollout import limit_hits
from robot_rl.evaluate.policy_eval import evaluate_policy
from robot_rl.learn.checkpoint import save_atomic
from robot_rl.policy import PolicyError
from robot_rl.policy.export import export, untrained_checkpoint

ENV_ID = "robot_rl/QuadrotorHover-v0"


@pytest.fixture(scope="module")
def policies(tmp_path_factory):
    """An untrained quadrotor policy, and one whose thrust and rates are always at their upper limits."""
    root = tmp_path_factory.mktemp("eval")
    out = {}
    for name, bias in (("random", None), ("saturated", 50.0)):
        ckpt = untrained_checkpoint(ENV_ID, hidden=(32,), seed=1)
        if bias is not None:  # huge output bias: pre-squash action >> 1, clipped to 1 -> command = upper bound
            state = ckpt["policy"]["state_dict"]
            state["net.2.bias"] = torch.full_like(state["net.2.bias"], bias)
        save_atomic(ckpt, root / name / "checkpoint.pt")
        out[name] = export(root / name, root / f"{name}_policy", episodes=0).out_dir
    return out


def test_limit_hits_hand_computed():
    low, high = np.array([0.0, -6.0]), np.array([0.596, 6.0])
    info = {
        "applied_action": np.array([
            [0.3, 0.0],                   # inside: no hit
            [0.596, 1.0],                 # thrust at its upper bound
            [np.float32(0.596), 0.0],     # float32 rounding of the bound (0.5960000157) still counts
            [0.1, -5.9999999],            # within the 1e-6 x max(1, 6) = 6e-6 margin of the lower bound
            [0.1, 0.0],                   # inside, but the env clipped the proposed command
        ]),
        "action_clipped": np.array([False, False, False, False, True]),
    }
    assert limit_hits(info, low, high).tolist() == [False, True, True, True, True]


def test_evaluate_quota_and_fields(policies):
    stats = evaluate_policy(policies["random"], episodes=3, backend="mujoco", randomize=True, num_envs=2, seed=0)
    assert stats.episodes == 3 and stats.randomized and stats.backend == "mujoco"
    assert stats.controller == "onnx:random_policy" and stats.env_id == ENV_ID
    assert 0.0 <= stats.success_rate <= 1.0 and stats.mean_episode_length > 0


def test_saturated_policy_hits_limits_every_step(policies):
    stats = evaluate_policy(policies["saturated"], episodes=2, backend="pybullet", randomize=False, num_envs=2)
    assert stats.command_clip_fraction == 1.0
    assert stats.success_rate == 0.0 and stats.failure_rate == 1.0  # full thrust: it leaves the 2 m ball


def test_refuses_a_damaged_policy(policies, tmp_path):
    import shutil

    folder = shutil.copytree(policies["random"], tmp_path / "p")
    (folder / "policy.onnx").write_bytes((folder / "policy.onnx").read_bytes()[:-10])
    with pytest.raises(PolicyError, match="sha256"):
        evaluate_policy(folder, episodes=1)
    with pytest.raises(ValueError, match="episodes must be >= 1"):
        evaluate_policy(policies["random"], episodes=0)
