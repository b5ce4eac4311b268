"""Mobile-base adapter: `nav_msgs/Odometry` + `sensor_msgs/LaserScan` in, `geometry_msgs/Twist` out."""

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
from robot_rl.deploy.msgs import LaserScan, Odometry, Point, Vector3, stamp_from_ns
from robot_rl.robots import RobotSpec
from robot_rl.spaces.geometry import quat_from_euler, yaw_from_quat
from robot_rl.spaces.observe import observe_quantities

NAV_ODOMETRY, SENSOR_SCAN = "nav_msgs/msg/Odometry", "sensor_msgs/msg/LaserScan"
ANGLE_TOLERANCE_RAD = 1e-3


class MobileBaseAdapter:
    """Odometry (planar pose, body speeds) and the lidar scan to the go-to-goal task's quantities."""

    goal_size = 2
    """The goal is a point on the floor, m, odometry frame."""

    def __init__(self, spec: RobotSpec, command_type: str | None = None) -> None:
        self.spec, self.lidar = spec, spec.mobile_base.lidar
        self.state_topics = state_topics(spec, "mobile-base", [NAV_ODOMETRY, SENSOR_SCAN])
        self.command_topic = spec.ros.command_topic.name
        self.command_type = command_type or spec.ros.command_topic.type
        self.increment_rad = self.lidar.fov_rad / self.lidar.num_beams

    def decode(self, key: str, msg: Odometry | LaserScan) -> tuple[int, dict[str, np.ndarray]]:
        """Stamp (ns) and quantities: odometry gives pose and body speeds; the scan gives `lidar_ranges_m`."""
        topic, msg_type = self.state_topics[key]
        what = f"{topic} ({msg_type})"
        stamp = stamp_ns(msg, what)
        if msg_type == SENSOR_SCAN:
            return stamp, {"lidar_ranges_m": self._ranges(msg, what)}
        q = finite_vector(wxyz(msg.pose.pose.orientation), 4, f"{what} orientation")
        p = finite_vector(xyz(msg.pose.pose.position), 3, f"{what} position")
        twist = msg.twist.twist
        speeds = finite_vector([twist.linear.x, twist.angular.z], 2, f"{what} twist")
        return stamp, {"base_xy_m": p[:2], "base_yaw_rad": yaw_from_quat(q[None]),
                       "forward_velocity_m_s": speeds[:1], "yaw_rate_rad_s": speeds[1:]}

    def _ranges(self, msg: LaserScan, what: str) -> np.ndarray:
        n = self.lidar.num_beams
        off = max(abs(msg.angle_min), abs(msg.angle_increment - self.increment_rad))
        if off > ANGLE_TOLERANCE_RAD:
            raise Rejected("scan_geometry", f"{what}: angle_min {msg.angle_min:.4f}, angle_increment "
                           f"{msg.angle_increment:.4f} rad; the policy needs 0 and {self.increment_rad:.4f}")
        r = np.asarray(msg.ranges, dtype=np.float64)
        if r.shape != (n,):
            raise Rejected("size", f"{what}: {r.size} ranges, expected {n}")
        if np.isnan(r).any():
            raise Rejected("nonfinite", f"{what}: NaN range at beam {int(np.argmax(np.isnan(r)))}")
        return np.clip(r, self.lidar.range_min_m, self.lidar.range_max_m)  # +inf = no return = max range (REP 117)

    def encode_state(self, state: Mapping[str, np.ndarray], stamp: int) -> dict[str, Any]:
        """Odometry and LaserScan for the simulated robot from the plant's state (env 0)."""
        yaw = state["base_yaw_rad"][:1]
        odom = Odometry(child_frame_id="base_link")
        odom.header.frame_id = "odom"
        x, y = (float(a) for a in state["base_xy_m"][0])
        odom.pose.pose.position = Point(x=x, y=y, z=0.0)
        odom.pose.pose.orientation = quaternion(quat_from_euler(np.zeros(1), np.zeros(1), yaw)[0])
        odom.twist.twist.linear = Vector3(x=float(state["forward_velocity_m_s"][0]), y=0.0, z=0.0)
        odom.twist.twist.angular = Vector3(x=0.0, y=0.0, z=float(state["yaw_rate_rad_s"][0]))
        scan = LaserScan(angle_min=0.0, angle_max=self.increment_rad * (self.lidar.num_beams - 1),
                         angle_increment=self.increment_rad, range_min=self.lidar.range_min_m,
                         range_max=self.lidar.range_max_m, ranges=state["lidar_ranges_m"][0].tolist())
        scan.header.frame_id = "laser"
        out = {}
        for key, (_, msg_type) in self.state_topics.items():
            msg = odom if msg_type == NAV_ODOMETRY else scan
            msg.header.stamp = stamp_from_ns(stamp)
            out[key] = msg
        return out

    def observation(self, q: Mapping[str, np.ndarray], goal: np.ndarray, last_action: np.ndarray) -> np.ndarray:
        """Observation `[1, 7 + n_beams]` through the task's own spec function."""
        return observe_quantities(self.spec, q, goal, last_action)

    def safety_state(self, q: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The filter's mobile-base state `[1, ...]`."""
        return {"forward_velocity_m_s": q["forward_velocity_m_s"], "yaw_rate_rad_s": q["yaw_rate_rad_s"],
                "lidar_ranges_m": q["lidar_ranges_m"][None]}

    def hold_command(self, q: Mapping[str, np.ndarray]) -> np.ndarray:  # noqa: ARG002 - same signature for all
        """Zero twist (the command a new episode starts from)."""
        return np.zeros(2)

    def encode_command(self, command: np.ndarray) -> Any:  # noqa: ANN401 - the robot's command message
        """Twist for `[linear_x m/s, angular_z rad/s]`."""
        return encode_command(self.command_type, command, self.spec.command.names)

    def decode_command(self, msg: Any) -> np.ndarray:  # noqa: ANN401 - the robot's command message
        """`[linear_x, angular_z]` from a command message (simulated robot side)."""
        return decode_command(self.command_type, msg, 2)

    def goal_from_task(self, task_info: Mapping[str, np.ndarray]) -> np.ndarray:
        """The simulated episode's goal `[2]` m."""
        return task_info["goal_xy_m"][0]
