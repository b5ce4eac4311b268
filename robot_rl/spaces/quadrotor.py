"""Quadrotor observation for the hover task, built from named measured quantities."""

from __future__ import annotations

import numpy as np

from robot_rl.robots import RobotSpec
from robot_rl.spaces.actions import ActionMap
from robot_rl.spaces.geometry import quat_to_rotmat
from robot_rl.spaces.vector import Quantity, VectorSpec

QUADROTOR_HOVER_SPEC = VectorSpec(
    (
        Quantity("position_error_m", 3, "m", "setpoint minus position, world frame"),
        Quantity("rotation_matrix", 9, "1", "body-to-world rotation, row-major"),
        Quantity("linear_velocity_m_s", 3, "m/s", "world frame"),
        Quantity("angular_velocity_rad_s", 3, "rad/s", "body frame (gyro)"),
        Quantity("last_action", 4, "N, rad/s", "previous applied command: thrust, roll, pitch, yaw rate"),
    )
)


def quadrotor_hover_observation(
    position_m: np.ndarray,
    quat_wxyz: np.ndarray,
    linear_velocity_m_s: np.ndarray,
    angular_velocity_rad_s: np.ndarray,
    setpoint_m: np.ndarray,
    last_action: np.ndarray,
) -> np.ndarray:
    """Observation `[N, 22]` float32 from odometry (`[N,3]`, `[N,4]` wxyz, world velocity, body rates)."""
    rot = quat_to_rotmat(np.asarray(quat_wxyz, dtype=np.float64))
    return QUADROTOR_HOVER_SPEC.build(
        {
            "position_error_m": np.asarray(setpoint_m) - np.asarray(position_m),
            "rotation_matrix": rot.reshape(-1, 9),
            "linear_velocity_m_s": linear_velocity_m_s,
            "angular_velocity_rad_s": angular_velocity_rad_s,
            "last_action": last_action,
        }
    )


def quadrotor_hover_action_map(robot: RobotSpec) -> ActionMap:
    """Thrust around the nominal hover thrust m*g (a = -1..1 spans the thrust range), rates over their range."""
    low, high = np.array(robot.command.low), np.array(robot.command.high)
    hover = robot.quadrotor.mass_kg * 9.81
    offset = (hover, 0.0, 0.0, 0.0)
    scale = (max(hover - low[0], high[0] - hover), *high[1:].tolist())
    return ActionMap(offset=offset, scale=tuple(float(x) for x in scale), low=tuple(low.tolist()),
                     high=tuple(high.tolist()))
