"""Mobile-base observation for the go-to-goal task, built from named measured quantities."""

from __future__ import annotations

from functools import cache

import numpy as np

from robot_rl.robots import RobotSpec
from robot_rl.spaces.actions import STEP_MARGIN, ActionMap
from robot_rl.spaces.geometry import wrap_angle
from robot_rl.spaces.vector import Quantity, VectorSpec


@cache
def mobile_base_goal_spec(num_beams: int) -> VectorSpec:
    """Observation layout of `robot_rl/MobileBaseGoal-v0` with a `num_beams` lidar."""
    return VectorSpec(
        (
            Quantity("goal_distance_m", 1, "m", "distance from base to goal"),
            Quantity("goal_bearing", 2, "1", "sin and cos of the goal direction in the base frame"),
            Quantity("linear_velocity_m_s", 1, "m/s", "forward speed, base frame"),
            Quantity("angular_velocity_rad_s", 1, "rad/s", "yaw rate"),
            Quantity("lidar_ranges_m", num_beams, "m", "ranges, beam 0 straight ahead, counter-clockwise"),
            Quantity("last_action", 2, "m/s, rad/s", "previous applied command: linear x, angular z"),
        )
    )


def goal_in_base_frame(base_xy: np.ndarray, base_yaw: np.ndarray, goal_xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance `[N]` m and bearing `[N]` rad (counter-clockwise from the heading) of the goal."""
    delta = np.asarray(goal_xy) - np.asarray(base_xy)
    distance = np.linalg.norm(delta, axis=-1)
    bearing = wrap_angle(np.arctan2(delta[:, 1], delta[:, 0]) - base_yaw)
    return distance, bearing


def mobile_base_goal_observation(
    base_xy_m: np.ndarray,
    base_yaw_rad: np.ndarray,
    goal_xy_m: np.ndarray,
    forward_velocity_m_s: np.ndarray,
    yaw_rate_rad_s: np.ndarray,
    lidar_ranges_m: np.ndarray,
    last_action: np.ndarray,
) -> np.ndarray:
    """Observation `[N, 7 + n_beams]` float32 from odometry (`[N,2]`, `[N]`), the goal `[N,2]` and a scan."""
    distance, bearing = goal_in_base_frame(base_xy_m, base_yaw_rad, goal_xy_m)
    return mobile_base_goal_spec(lidar_ranges_m.shape[-1]).build(
        {
            "goal_distance_m": distance[:, None],
            "goal_bearing": np.stack([np.sin(bearing), np.cos(bearing)], -1),
            "linear_velocity_m_s": np.reshape(forward_velocity_m_s, (-1, 1)),
            "angular_velocity_rad_s": np.reshape(yaw_rate_rad_s, (-1, 1)),
            "lidar_ranges_m": lidar_ranges_m,
            "last_action": last_action,
        }
    )


def mobile_base_goal_action_map(robot: RobotSpec) -> ActionMap:
    """Twist commands as increments on the last applied command, at most the command accelerations per period.

    `command = clip(last_action + (accel_max_m_s2, angular_accel_max_rad_s2) * control_dt * (1 - STEP_MARGIN) * a,
    low, high)`: a policy can only change its twist as fast as robot.yaml's safety limits allow (TurtleBot-class
    navigation limits, which the base's wheels can also follow), so the safety filter's acceleration rule never has
    to change its commands.
    """
    if robot.safety is None or not hasattr(robot.safety, "accel_max_m_s2"):
        raise ValueError(f"robot '{robot.name}': the go-to-goal action map needs the mobile base's safety "
                         f"accel_max_m_s2 and angular_accel_max_rad_s2")
    dt = robot.control_dt_s
    step = tuple(x * dt * (1.0 - STEP_MARGIN) for x in (robot.safety.accel_max_m_s2,
                                                        robot.safety.angular_accel_max_rad_s2))
    return ActionMap(offset=(0.0, 0.0), scale=step, low=tuple(robot.command.low), high=tuple(robot.command.high),
                     offset_quantity="last_action")
