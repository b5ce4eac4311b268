"""The one registry of environments: id -> robot, task, config and reference controller.

Every entry is registered with Gymnasium (`gymnasium.make(env_id, ...)`), built by `make_vec`, listed by
`robot-rl envs`, and built and stepped on every backend by `tests/envs/test_registry.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import gymnasium as gym

from robot_rl.envs.experts import ArmReachExpert, MobileBaseGoalExpert, QuadrotorHoverExpert
from robot_rl.envs.tasks.arm_reach import ArmReachConfig, ArmReachTask
from robot_rl.envs.tasks.mobile_base_goal import MobileBaseGoalConfig, MobileBaseGoalTask
from robot_rl.envs.tasks.quadrotor_hover import QuadrotorHoverConfig, QuadrotorHoverTask
from robot_rl.robots import RobotSpec
from robot_rl.spaces import VectorSpec
from robot_rl.spaces.actions import ActionMap
from robot_rl.spaces.arm import arm_reach_action_map
from robot_rl.spaces.mobile_base import mobile_base_goal_action_map
from robot_rl.spaces.quadrotor import quadrotor_hover_action_map


@dataclass(frozen=True)
class EnvEntry:
    """A registered environment: robot, task and its config dataclass, reference controller."""

    env_id: str
    robot: str
    task: type
    config: type
    description: str
    expert: type
    action_map: Callable[[RobotSpec], ActionMap]
    """Normalized policy action -> command map (part of the exported policy)."""


ENVS: dict[str, EnvEntry] = {
    e.env_id: e
    for e in (
        EnvEntry("robot_rl/ArmReach-v0", "arm", ArmReachTask, ArmReachConfig,
                      "7-DoF arm: TCP to a random target in the workspace and hold", ArmReachExpert,
                      arm_reach_action_map),
        EnvEntry("robot_rl/QuadrotorHover-v0", "quadrotor", QuadrotorHoverTask, QuadrotorHoverConfig,
                      "Crazyflie-class quadrotor: from a random pose, velocity and tilt to a setpoint",
                      QuadrotorHoverExpert, quadrotor_hover_action_map),
        EnvEntry("robot_rl/MobileBaseGoal-v0", "mobile_base", MobileBaseGoalTask, MobileBaseGoalConfig,
                      "differential-drive base: reach a goal among random obstacles using the lidar",
                      MobileBaseGoalExpert, mobile_base_goal_action_map),
    )
}


def entry(env_id: str) -> EnvEntry:
    """The registered environment `env_id`, or a KeyError listing the known ids."""
    if env_id not in ENVS:
        raise KeyError(f"unknown environment '{env_id}'; registered: {sorted(ENVS)}")
    return ENVS[env_id]


def observation_spec(env_id: str, robot: RobotSpec) -> VectorSpec:
    """The observation layout task `env_id` builds for `robot` (what a policy for it takes)."""
    e = entry(env_id)
    if e.robot != robot.name:
        raise ValueError(f"{env_id} is a task for robot '{e.robot}', not '{robot.name}'")
    return e.task(robot, 1, e.config()).observation_spec


for _id in ENVS:
    if _id not in gym.registry:
        gym.register(_id, entry_point="robot_rl.envs.gym_env:RobotEnv", kwargs={"env_id": _id})
