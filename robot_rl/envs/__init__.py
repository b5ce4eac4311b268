"""Gymnasium environments = robot x task x backend x randomization, single and batched.

import gymnasium as gym, robot_rl.envs
env = gym.make("robot_rl/ArmReach-v0", backend="pybullet", randomize=True)
venv = robot_rl.envs.make_vec("robot_rl/QuadrotorHover-v0", num_envs=64)
"""

from __future__ import annotations

from typing import Any

from robot_rl.envs.backends import BACKENDS
from robot_rl.envs.core import BatchedRobotEnv
from robot_rl.envs.gym_env import RobotEnv, RobotVectorEnv
from robot_rl.envs.registry import ENVS, entry


def make(env_id: str, **kwargs: Any) -> RobotEnv:  # noqa: ANN401
    """One environment without Gymnasium's wrappers (see `RobotEnv` for the keyword arguments)."""
    return RobotEnv(env_id, **kwargs)


def make_vec(env_id: str, num_envs: int, **kwargs: Any) -> RobotVectorEnv:  # noqa: ANN401
    """`num_envs` environments stepped as one batch, as a Gymnasium `VectorEnv` (same-step auto-reset)."""
    return RobotVectorEnv(env_id, num_envs, **kwargs)


__all__ = ["BACKENDS", "ENVS", "BatchedRobotEnv", "RobotEnv", "RobotVectorEnv", "entry", "make", "make_vec"]
