"""Quadrotor adapter: `nav_msgs/Odometry` + `sensor_msgs/Imu` in, thrust + body rates out.

Odometry follows REP 105: pose in the world (`odom`) frame, twist in the body (`child_frame_id`) frame; the
observation wants the linear velocity in the world frame, so it is rotated here. Body rates come from the IMU's
gyro. The command goes out as `std_msgs/Float64MultiArray` `[thrust N, roll, pitch, yaw rate rad/s]` or as
`mavros_msgs/AttitudeTarget` (thrust normalized by the maximum thrust, attitude ignored), as the robot asks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from robot_rl.deploy.adapters.base import (
    Rejected,
    decode_command,
    encode_command,
    finite_vector,
    quaternion,
    stamp_ns,
    state_topics,
    wxyz,
    xyz,
)
from robot_rl.deploy.msgs import Imu, Odometry, Point, Vector3, stamp_from_ns
from robot_rl.robots import RobotSpec
from robot_rl.spaces.geometry import quat_to_rotmat
from robot_rl.spaces.observe import observe_quantities

NAV_ODOMETRY, SENSOR_IMU = "nav_msgs/msg/Odometry", "sensor_msgs/msg/Imu"


class QuadrotorAdapter:
    """Odometry (pose, velocity) and IMU (body rates) to the hover task's quantities."""

    goal_size = 3
    """The goal is the hover setpoint, m, world frame."""

    def __init__(self, spec: RobotSpec, command_type: str | None = None) -> None:
        self.spec = spec
        self.state_topics = state_topics(spec, "quadrotor", [NAV_ODOMETRY, SENSOR_IMU])
        self.command_topic = spec.ros.command_topic.name
        self.command_type = command_type or spec.ros.command_topic.type
        self.thrust_max_n = float(spec.command.high[0])
        self.hover = np.array([spec.quadrotor.mass_kg * 9.81, 0.0, 0.0, 0.0])

    def decode(self, key: str, msg: Odometry | Imu) -> tuple[int, dict[str, np.ndarray]]:
        """Stamp (ns) and quantities: odometry gives position, attitude, world velocity; the IMU body rates."""
        topic, msg_type = self.state_topics[key]
        what = f"{topic} ({msg_type})"
        stamp = stamp_ns(msg, what)
        if msg_type == SENSOR_IMU:
            return stamp, {"angular_velocity_rad_s": finite_vector(xyz(msg.angular_velocity), 3, f"{what} gyro")}
        q = finite_vector(wxyz(msg.pose.pose.orientation), 4, f"{what} orientation")
        norm = float(np.linalg.norm(q))
        if abs(norm - 1.0) > 1e-3:
            raise Rejected("quaternion", f"{what}: orientation has norm {norm:.4f}, not a unit quaternion")
        q = q / norm
        v_body = finite_vector(xyz(msg.twist.twist.linear), 3, f"{what} twist.linear")
        return stamp, {"position_m": finite_vector(xyz(msg.pose.pose.position), 3, f"{what} position"),
                       "quat_wxyz": q, "linear_velocity_m_s": quat_to_rotmat(q[None])[0] @ v_body}

    def encode_state(self, state: Mapping[str, np.ndarray], stamp: int) -> dict[str, Any]:
        """Odometry and Imu for the simulated robot from the plant's state (env 0)."""
        q, rate = state["quat_wxyz"][0], state["angular_velocity_rad_s"][0]
        v_body = quat_to_rotmat(q[None])[0].T @ state["linear_velocity_m_s"][0]
        odom = Odometry(child_frame_id="base_link")
        odom.header.frame_id = "odom"
        odom.pose.pose.position = Point(*(float(a) for a in state["position_m"][0]))
        odom.pose.pose.orientation = quaternion(q)
        odom.twist.twist.linear = Vector3(*(float(a) for a in v_body))
        odom.twist.twist.angular = Vector3(*(float(a) for a in rate))
        imu = Imu()
        imu.header.frame_id = "base_link"
        imu.orientation = quaternion(q)
        imu.angular_velocity = Vector3(*(float(a) for a in rate))
        out = {}
        for key, (_, msg_type) in self.state_topics.items():
            msg = odom if msg_type == NAV_ODOMETRY else imu
            msg.header.stamp = stamp_from_ns(stamp)
            out[key] = msg
        return out

    def observation(self, q: Mapping[str, np.ndarray], goal: np.ndarray, last_action: np.ndarray) -> np.ndarray:
        """Observation `[1, 22]` through the task's own spec function."""
        return observe_quantities(self.spec, q, goal, last_action)

    def safety_state(self, q: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The filter's quadrotor state `[1, ...]`."""
        keys = ("position_m", "quat_wxyz", "linear_velocity_m_s", "angular_velocity_rad_s")
        return {k: q[k][None] for k in keys}

    def hold_command(self, q: Mapping[str, np.ndarray]) -> np.ndarray:  # noqa: ARG002 - same signature for all
        """Hover thrust, zero rates (the command a new episode starts from)."""
        return self.hover.copy()

    def encode_command(self, command: np.ndarray, stamp: int = 0) -> Any:  # noqa: ANN401 - the command message
        """The command message for `[thrust N, roll, pitch, yaw rate rad/s]`."""
        return encode_command(self.command_type, command, self.spec.command.names, self.thrust_max_n, stamp)

    def decode_command(self, msg: Any) -> np.ndarray:  # noqa: ANN401 - the robot's command message
        """`[thrust N, rates rad/s]` from a command message (simulated robot side)."""
        return decode_command(self.command_type, msg, 4, self.thrust_max_n)

    def goal_from_task(self, task_info: Mapping[str, np.ndarray]) -> np.ndarray:
        """The simulated episode's setpoint `[3]` m."""
        return task_info["setpoint_m"][0]
