"""Arm adapter: `sensor_msgs/JointState` in, joint position targets out.

Targets go out as `std_msgs/Float64MultiArray` (a forward position controller; the simulated arm interpolates
them itself) or as `trajectory_msgs/JointTrajectory` (joint_trajectory_controller on a real Panda/FR3): the
trajectory is the controller's jerk-limited output stage (`joint_trajectory.TrajectoryOutput`, stateful, so not
`encode_command`), and its last point's positions are the target (`decode_command`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from robot_rl.deploy.adapters.base import Rejected, decode_command, encode_command, finite_vector, stamp_ns
from robot_rl.deploy.adapters.joint_trajectory import JOINT_TRAJECTORY, trajectory_target
from robot_rl.deploy.msgs import JointState, stamp_from_ns
from robot_rl.robots import RobotSpec
from robot_rl.spaces.observe import observe_quantities


class ArmAdapter:
    """Joint states by name (any order; the gripper's finger joints are ignored) to the reach task's quantities."""

    goal_size = 3
    """The goal is the reach target, m, robot base frame."""

    def __init__(self, spec: RobotSpec, command_type: str | None = None) -> None:
        self.spec = spec
        self.joint_names = list(spec.command.names)
        self.ignored = set(spec.arm.gripper.finger_joints)
        self.state_topics = {k: (t.name, t.type) for k, t in spec.ros.state_topics.items()}
        self.command_topic = spec.ros.command_topic.name
        self.command_type = command_type or spec.ros.command_topic.type
        self._index = {n: i for i, n in enumerate(self.joint_names)}

    def decode(self, key: str, msg: JointState) -> tuple[int, dict[str, np.ndarray]]:
        """Stamp (ns), `joint_pos_rad` and `joint_vel_rad_s` (command order) from a JointState."""
        what = f"{self.state_topics[key][0]} (sensor_msgs/JointState)"
        stamp = stamp_ns(msg, what)
        names = list(msg.name)
        unknown = [n for n in names if n not in self._index and n not in self.ignored]
        missing = [n for n in self.joint_names if n not in names]
        if unknown or missing:
            raise Rejected("joint_names", f"{what}: unknown joints {unknown}, missing joints {missing}")
        if len(set(names)) != len(names):
            raise Rejected("joint_names", f"{what}: repeated joint names {names}")
        pos = finite_vector(msg.position, len(names), f"{what} position")
        vel = finite_vector(msg.velocity, len(names), f"{what} velocity")
        order = [names.index(n) for n in self.joint_names]
        return stamp, {"joint_pos_rad": pos[order], "joint_vel_rad_s": vel[order]}

    def encode_state(self, state: Mapping[str, np.ndarray], stamp: int) -> dict[str, Any]:
        """JointState for the simulated robot from the plant's state (env 0)."""
        msg = JointState(name=list(self.joint_names), position=state["joint_pos_rad"][0].tolist(),
                         velocity=state["joint_vel_rad_s"][0].tolist(), effort=[])
        msg.header.stamp = stamp_from_ns(stamp)
        msg.header.frame_id = "base_link"
        return {key: msg for key in self.state_topics}

    def observation(self, q: Mapping[str, np.ndarray], goal: np.ndarray, last_action: np.ndarray) -> np.ndarray:
        """Observation `[1, n_obs]` through the task's own spec function (`spaces.observe`).

        The TCP position comes from forward kinematics there, once per tick rather than once per message (joint
        states may arrive much faster than the control rate).
        """
        return observe_quantities(self.spec, q, goal, last_action)

    def safety_state(self, q: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The filter's arm state `[1, ...]`."""
        return {"joint_pos_rad": q["joint_pos_rad"][None], "joint_vel_rad_s": q["joint_vel_rad_s"][None]}

    def hold_command(self, q: Mapping[str, np.ndarray]) -> np.ndarray:
        """Targets that hold the measured position (the command a new episode starts from)."""
        return np.clip(q["joint_pos_rad"], self.spec.command.low, self.spec.command.high)

    def encode_command(self, command: np.ndarray) -> Any:  # noqa: ANN401 - the robot's command message
        """The command message for `command` `[7]` rad (JointTrajectory: see `joint_trajectory.TrajectoryOutput`)."""
        if self.command_type == JOINT_TRAJECTORY:
            raise ValueError(f"{JOINT_TRAJECTORY} commands carry the jerk-limited generator's state: encode them "
                             f"with robot_rl.deploy.adapters.joint_trajectory.TrajectoryOutput")
        return encode_command(self.command_type, command, self.joint_names)

    def decode_command(self, msg: Any) -> np.ndarray:  # noqa: ANN401 - the robot's command message
        """Joint targets `[7]` rad from a command message (simulated robot side).

        A JointTrajectory's target is its last point's positions, checked and reordered by joint name as
        joint_trajectory_controller does.
        """
        if self.command_type == JOINT_TRAJECTORY:
            return trajectory_target(msg, self.joint_names, f"{self.command_topic} ({JOINT_TRAJECTORY})")
        return decode_command(self.command_type, msg, len(self.joint_names))

    def goal_from_task(self, task_info: Mapping[str, np.ndarray]) -> np.ndarray:
        """The simulated episode's reach target `[3]` m."""
        return task_info["target_pos_m"][0]
