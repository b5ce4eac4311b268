"""Policy fixtures: checkpoints of untrained policies (random weights) until the training runner writes real ones."""

import shutil

import pytest

from robot_rl.learn.checkpoint import save_atomic
from robot_rl.policy.export import export, untrained_checkpoint

ENV_ID = "robot_rl/QuadrotorHover-v0"  # the fastest env on both backends


@pytest.fixture(scope="session")
def exported(tmp_path_factory):
    """One exported quadrotor policy (2x64 MLP, 2 evaluation episodes per backend), shared read-only."""
    root = tmp_path_factory.mktemp("export")
    ckpt = untrained_checkpoint(ENV_ID, hidden=(64, 64), seed=0)
    ckpt["algo"], ckpt["config"]["git_commit"], ckpt["progress"]["env_steps"] = "ppo", "0123abcd", 1000
    save_atomic(ckpt, root / "run" / "checkpoint.pt")
    return export(root / "run", root / "policy", episodes=2, num_envs=2, seed=0)


@pytest.fixture
def policy_copy(exported, tmp_path):
    """A private copy of the exported policy folder, for tests that damage it."""
    return shutil.copytree(exported.out_dir, tmp_path / "policy")
