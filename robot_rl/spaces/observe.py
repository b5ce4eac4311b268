"""The task observation from named measured quantities, through the same spec functions the envs use.

The deployed controller builds it every tick; a dataset rebuilds it from a log (`robot_rl.data.ticks`).

`q` holds a robot's measured quantities by name, unbatched (the deploy adapters' decoded state):
arm `joint_pos_rad` `[7]`, `joint_vel_rad_s` `[7]`; quadrotor `position_m` `[3]`, `quat_wxyz` `[4]`,
`linear_velocity_m_s` `[3]`, `angular_velocity_rad_s` `[3]`; mobile base `base_xy_m` `[2]`, `base_yaw_rad` `[1]`,
`forward_velocity_m_s` `[1]`, `yaw_rate_rad_s` `[1]`, `lidar_ranges_m` `[n_beams]`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from robot_rl.robots import RobotSpec
from robot_rl.robots.kinematics import arm_chain, forward_kinematics
from robot_rl.spaces.arm import arm_reach_observation
from robot_rl.spaces.mobile_base import mobile_base_goal_observation
from robot_rl.spaces.quadrotor import quadrotor_hover_observation

Quantities = Mapping[str, np.ndarray]


def _arm(robot: RobotSpec, q: Quantities, goal: np.ndarray, last_action: np.ndarray) -> np.ndarray:
    q_rad = np.asarray(q["joint_pos_rad"], dtype=np.float64)[None]
    return arm_reach_observation(q_rad, np.asarray(q["joint_vel_rad_s"])[None],
                                 forward_kinematics(arm_chain(robot), q_rad), goal[None], last_action[None])


def _quadrotor(robot: RobotSpec, q: Quantities, goal: np.ndarray, last_action: np.ndarray) -> np.ndarray:  # noqa: ARG001
    return quadrotor_hover_observation(np.asarray(q["position_m"])[None], np.asarray(q["quat_wxyz"])[None],
                                       np.asarray(q["linear_velocity_m_s"])[None],
                                       np.asarray(q["angular_velocity_rad_s"])[None], goal[None], last_action[None])


def _mobile_base(robot: RobotSpec, q: Quantities, goal: np.ndarray, last_action: np.ndarray) -> np.ndarray:  # noqa: ARG001
    return mobile_base_goal_observation(np.asarray(q["base_xy_m"])[None], np.asarray(q["base_yaw_rad"]), goal[None],
                                        np.asarray(q["forward_velocity_m_s"]), np.asarray(q["yaw_rate_rad_s"]),
                                        np.asarray(q["lidar_ranges_m"])[None], last_action[None])


OBSERVERS: dict[str, Callable[[RobotSpec, Quantities, np.ndarray, np.ndarray], np.ndarray]] = {
    "arm": _arm, "quadrotor": _quadrotor, "mobile_base": _mobile_base}
"""Robot kind -> its task's observation from quantities (one task per robot kind today)."""


def observe_quantities(robot: RobotSpec, q: Quantities, goal: np.ndarray, last_action: np.ndarray) -> np.ndarray:
    """The task observation `[1, n_obs]` float32 of `robot` from measured quantities (see the module docstring).

    Args:
        robot: the robot (its kind picks the task's spec function).
        q: named measured quantities, unbatched.
        goal: the task goal `[goal_size]` m (arm: reach target `[3]`; quadrotor: setpoint `[3]`; base: goal `[2]`).
        last_action: the previous applied command `[n_cmd]` in robot units.

    Raises:
        KeyError: a quantity is missing (names it); ValueError: a size is wrong (names the quantity).

    """
    if robot.kind not in OBSERVERS:
        raise ValueError(f"no observation builder for robot kind '{robot.kind}'; known: {sorted(OBSERVERS)}")
    missing = sorted(set(QUANTITIES[robot.kind]) - set(q))
    if missing:
        raise KeyError(f"{robot.name}: measured quantities {missing} are missing (have {sorted(q)})")
    return OBSERVERS[robot.kind](robot, q, np.asarray(goal, dtype=np.float64),
                                 np.asarray(last_action, dtype=np.float64))


QUANTITIES: dict[str, tuple[str, ...]] = {
    "arm": ("joint_pos_rad", "joint_vel_rad_s"),
    "quadrotor": ("position_m", "quat_wxyz", "linear_velocity_m_s", "angular_velocity_rad_s"),
    "mobile_base": ("base_xy_m", "base_yaw_rad", "forward_velocity_m_s", "yaw_rate_rad_s", "lidar_ranges_m"),
}
"""Robot kind -> the measured quantities its observation needs."""
