"""Checkpoint files: everything needed to rebuild the policy, continue training, or fine-tune.

Format `robot_rl.checkpoint/1`, a `torch.save` dict::

    format: "robot_rl.checkpoint/1"
    env_id: registered env the policy acts in
    algo: "ppo" | "sac"
    config: the learner's resolved config (dict)
    policy: {hidden: [..], activation: str, squash: "clip"|"tanh", state_dict: DeterministicPolicy.state_dict()}
    algorithm_state: the learner's own state (networks, optimizers, counters, RNG states) for --resume
    progress: {env_steps, iterations, wall_time_s}

Writes are atomic (temporary file in the same folder, fsync, rename): a crash never leaves a half-written file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from robot_rl.envs import entry
from robot_rl.envs.registry import observation_spec
from robot_rl.learn.networks import DeterministicPolicy, RunningNorm, mlp
from robot_rl.robots import load_robot

FORMAT = "robot_rl.checkpoint/1"
REQUIRED = ("format", "env_id", "algo", "config", "policy", "algorithm_state", "progress")


class CheckpointError(ValueError):
    """A checkpoint file is missing, unreadable or not a robot_rl checkpoint; the message names the file."""


def save_atomic(obj: Any, path: str | Path) -> Path:  # noqa: ANN401 - any torch-serializable object
    """`torch.save` to `path` through a temporary file and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | Path) -> dict:
    """Read and check a checkpoint (on CPU)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no checkpoint file")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # noqa: BLE001 - any unpickling failure means a corrupt file
        raise CheckpointError(f"{path}: not a readable checkpoint ({type(e).__name__}: {e})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a {FORMAT} file")
    missing = [k for k in REQUIRED if k not in ckpt]
    if missing:
        raise CheckpointError(f"{path}: missing fields {missing}")
    return ckpt


def build_policy(env_id: str, policy: dict) -> DeterministicPolicy:
    """An untrained-shape `DeterministicPolicy` for `env_id` from a checkpoint's `policy` block, weights loaded."""
    e = entry(env_id)
    robot = load_robot(e.robot)
    spec = observation_spec(env_id, robot)
    n_cmd = len(robot.command.names)
    net = mlp(spec.size, policy["hidden"], n_cmd, policy["activation"])
    module = DeterministicPolicy(RunningNorm(spec.size), net, e.action_map(robot), spec, policy["squash"])
    module.load_state_dict(policy["state_dict"])
    return module.eval()


def yaml_plain(value: Any) -> Any:  # noqa: ANN401 - any nested config value
    """`value` with tuples, paths and numpy scalars turned into YAML-safe builtins (recursively)."""
    if isinstance(value, dict):
        return {str(k): yaml_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [yaml_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)
