"""Arm observation for the reach task, built from named measured quantities."""

from __future__ import annotations

from functools import cache

import numpy as np

from robot_rl.robots import RobotSpec
from robot_rl.spaces.actions import STEP_MARGIN, ActionMap
from robot_rl.spaces.vector import Quantity, VectorSpec


@cache
def arm_reach_spec(num_joints: int) -> VectorSpec:
    """Observation layout of `robot_rl/ArmReach-v0` for an arm with `num_joints` commanded joints."""
    return VectorSpec(
        (
            Quantity("joint_pos_rad", num_joints, "rad", "measured joint positions, command order"),
            Quantity("joint_vel_rad_s", num_joints, "rad/s", "measured joint velocities"),
            Quantity("ee_pos_m", 3, "m", "end-effector (TCP) position, robot base frame"),
            Quantity("target_pos_m", 3, "m", "reach target, robot base frame"),
            Quantity("ee_to_target_m", 3, "m", "target minus end-effector position"),
            Quantity("last_action_rad", num_joints, "rad", "previous applied joint position targets"),
        )
    )


def arm_reach_observation(
    joint_pos_rad: np.ndarray,
    joint_vel_rad_s: np.ndarray,
    ee_pos_m: np.ndarray,
    target_pos_m: np.ndarray,
    last_action_rad: np.ndarray,
) -> np.ndarray:
    """Observation `[N, 3*n_joints + 9]` float32 from measured quantities (all `[N, k]`)."""
    spec = arm_reach_spec(joint_pos_rad.shape[-1])
    return spec.build(
        {
            "joint_pos_rad": joint_pos_rad,
            "joint_vel_rad_s": joint_vel_rad_s,
            "ee_pos_m": ee_pos_m,
            "target_pos_m": target_pos_m,
            "ee_to_target_m": np.asarray(target_pos_m) - np.asarray(ee_pos_m),
            "last_action_rad": last_action_rad,
        }
    )


def arm_reach_action_map(robot: RobotSpec) -> ActionMap:
    """Joint targets as increments on the last applied target, at most velocity limit x control period per joint.

    `command = clip(last_action_rad + vmax * control_dt * (1 - STEP_MARGIN) * a, low + margin, high - margin)`
    (`margin` = the safety block's `joint_margin_rad`): the target stream never moves faster than the joints may nor
    into the margin at the joint limits, which are the safety filter's velocity (its reference is the last applied
    target) and position rules, so those rules do not have to change the policy's commands. The jerk-limited
    generator shapes the motion toward the targets.
    """
    margin = robot.safety.joint_margin_rad if robot.safety is not None else 0.0
    step = [j.velocity_max_rad_s * robot.control_dt_s * (1.0 - STEP_MARGIN) for j in robot.arm.joints]
    return ActionMap(offset=(0.0,) * len(step), scale=tuple(step), low=tuple(x + margin for x in robot.command.low),
                     high=tuple(x - margin for x in robot.command.high), offset_quantity="last_action_rad")
