"""Shared pieces of the robot adapters: rejection, stamps, vectors and the command message codecs.

An adapter turns a robot's ROS 2 messages into the named measured quantities of `robot_rl.spaces` (and back, for the
simulated robot driver). Every check that fails raises `Rejected` with a reason naming the message and field; the
controller counts rejections by reason and never lets a rejected message reach the policy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from robot_rl.deploy.diagnostics import vector_message
from robot_rl.deploy.msgs import (
    AttitudeTarget,
    Point,
    Pose,
    Quaternion,
    Twist,
    Vector3,
    ns_from_stamp,
    stamp_from_ns,
)
from robot_rl.robots import RobotSpec

ATTITUDE_TARGET = "mavros_msgs/msg/AttitudeTarget"
FLOAT64_MULTI_ARRAY = "std_msgs/msg/Float64MultiArray"
TWIST = "geometry_msgs/msg/Twist"
IGNORE_ATTITUDE = 128  # mavros_msgs/AttitudeTarget.IGNORE_ATTITUDE: thrust + body rates only


class Rejected(ValueError):  # noqa: N818 - a rejection of an input message, not a program error
    """An input message failed a check; `reason` is a short key for counting, the message says what and where."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def state_topics(spec: RobotSpec, robot: str, expected_types: Sequence[str]) -> dict[str, tuple[str, str]]:
    """robot.yaml's state topics `{key: (topic, type)}`, checked to be exactly one of each `expected_types`."""
    topics = {k: (t.name, t.type) for k, t in spec.ros.state_topics.items()}
    types = sorted(t for _, t in topics.values())
    if types != sorted(expected_types):
        raise ValueError(f"{spec.path('robot.yaml')}: field 'ros.state_topics': the {robot} adapter reads one each "
                         f"of {sorted(expected_types)}, got {types}")
    return topics


def finite_vector(values: Sequence[float], size: int, what: str) -> np.ndarray:
    """`values` as float64 `[size]`; Rejected('size'|'nonfinite') naming `what` otherwise."""
    v = np.asarray(values, dtype=np.float64)
    if v.shape != (size,):
        raise Rejected("size", f"{what}: {v.size} elements, expected {size}")
    if not np.isfinite(v).all():
        raise Rejected("nonfinite", f"{what}: non-finite element at index {int(np.argmin(np.isfinite(v)))}")
    return v


def stamp_ns(msg: Any, what: str) -> int:  # noqa: ANN401 - any stamped message
    """Header stamp of `msg` in ns; Rejected('stamp') if it is zero (never set)."""
    ns = ns_from_stamp(msg.header.stamp)
    if ns <= 0:
        raise Rejected("stamp", f"{what}: header.stamp is not set")
    return ns


def xyz(v: Vector3 | Point) -> list[float]:
    """`[x, y, z]` of a Vector3 or Point."""
    return [v.x, v.y, v.z]


def wxyz(q: Quaternion) -> list[float]:
    """`[w, x, y, z]` of a ROS quaternion (which stores x, y, z, w)."""
    return [q.w, q.x, q.y, q.z]


def quaternion(q_wxyz: Sequence[float]) -> Quaternion:
    """ROS quaternion from `[w, x, y, z]`."""
    w, x, y, z = (float(a) for a in q_wxyz)
    return Quaternion(x=x, y=y, z=z, w=w)


def pose_from_position(position_m: Sequence[float]) -> Pose:
    """A Pose at `position_m` (2 or 3 elements, m) with identity orientation: how goals travel."""
    p = [float(a) for a in position_m] + [0.0] * (3 - len(position_m))
    return Pose(position=Point(x=p[0], y=p[1], z=p[2]), orientation=Quaternion(x=0.0, y=0.0, z=0.0, w=1.0))


def goal_from_pose(msg: Pose, size: int, what: str) -> np.ndarray:
    """The first `size` coordinates of a goal Pose's position, m."""
    return finite_vector(xyz(msg.position)[:size], size, f"{what} position")


def encode_command(msg_type: str, command: np.ndarray, names: Sequence[str], thrust_max_n: float = 1.0,
                   stamp: int = 0) -> Any:  # noqa: ANN401 - the message type named by msg_type
    """The command message of type `msg_type` carrying `command` `[n]` in robot units.

    Float64MultiArray carries the command in order (ros2_control forward controllers); Twist carries
    `[linear_x m/s, angular_z rad/s]`; AttitudeTarget carries `[thrust N, roll, pitch, yaw rate rad/s]` with thrust
    normalized by `thrust_max_n` (MAVROS' 0..1 collective thrust) and the attitude ignored.
    """
    c = [float(a) for a in command]
    if msg_type == FLOAT64_MULTI_ARRAY:
        return vector_message(c, names)
    if msg_type == TWIST:
        return Twist(linear=Vector3(x=c[0], y=0.0, z=0.0), angular=Vector3(x=0.0, y=0.0, z=c[1]))
    if msg_type == ATTITUDE_TARGET:
        msg = AttitudeTarget(type_mask=IGNORE_ATTITUDE, body_rate=Vector3(x=c[1], y=c[2], z=c[3]),
                             thrust=c[0] / thrust_max_n, orientation=quaternion([1.0, 0.0, 0.0, 0.0]))
        msg.header.stamp = stamp_from_ns(stamp)
        return msg
    raise ValueError(f"command message type '{msg_type}' is not supported; "
                     f"supported: {[FLOAT64_MULTI_ARRAY, TWIST, ATTITUDE_TARGET]}")


def decode_command(msg_type: str, msg: Any, size: int, thrust_max_n: float = 1.0) -> np.ndarray:  # noqa: ANN401
    """Inverse of `encode_command`: the command `[size]` in robot units; Rejected on a bad message."""
    if msg_type == FLOAT64_MULTI_ARRAY:
        return finite_vector(msg.data, size, "command data")
    if msg_type == TWIST:
        return finite_vector([msg.linear.x, msg.angular.z], size, "command twist")
    if msg_type == ATTITUDE_TARGET:
        if not msg.type_mask & IGNORE_ATTITUDE:
            raise Rejected("mode", "AttitudeTarget: only thrust + body-rate commands (IGNORE_ATTITUDE) are supported")
        rates = xyz(msg.body_rate)
        return finite_vector([msg.thrust * thrust_max_n, *rates], size, "AttitudeTarget")
    raise ValueError(f"command message type '{msg_type}' is not supported")


class DirectOutput:
    """The controller's output stage for stateless command types: each certified command is one message."""

    def __init__(self, encode: Callable[[np.ndarray], Any]) -> None:
        self._encode = encode

    def sync(self, q: Mapping[str, np.ndarray], restart: bool) -> None:
        """Nothing to restart (the interface of `joint_trajectory.TrajectoryOutput`)."""

    def encode(self, command: np.ndarray, now_ns: int) -> Any:  # noqa: ANN401, ARG002 - the command message
        """The command message for `command` `[n]` in robot units."""
        return self._encode(command)
