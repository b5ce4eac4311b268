"""ROS 2 message types as CycloneDDS IDL dataclasses, laid out exactly as the ROS 2 `.msg` definitions.

Both transports use these classes; `MESSAGE_TYPES` is the registry keyed by ROS type name ('sensor_msgs/msg/Imu').
Every field has a default, so `Odometry()` is a valid zero message (quaternions default to identity).
The hot types' `serialize`/`deserialize` run through the byte-identical fast XCDR1 codecs of `fastcdr`.
"""

from __future__ import annotations

from typing import Any

from robot_rl.deploy.msgs import fastcdr
from robot_rl.deploy.msgs.diagnostic import DiagnosticArray, DiagnosticStatus, KeyValue
from robot_rl.deploy.msgs.geometry import (
    Point,
    Pose,
    PoseWithCovariance,
    Quaternion,
    Twist,
    TwistStamped,
    TwistWithCovariance,
    Vector3,
)
from robot_rl.deploy.msgs.mavros import AttitudeTarget
from robot_rl.deploy.msgs.nav import Odometry
from robot_rl.deploy.msgs.sensor import Imu, JointState, Joy, LaserScan
from robot_rl.deploy.msgs.std import (
    Bool,
    Clock,
    Duration,
    Float64MultiArray,
    Header,
    MultiArrayDimension,
    MultiArrayLayout,
    Time,
)
from robot_rl.deploy.msgs.trajectory import JointTrajectory, JointTrajectoryPoint

fastcdr.install()

_NS_PER_S = 1_000_000_000


def ros_type_name(cls_or_msg: Any) -> str:
    """'pkg/msg/Name' of a message class or instance (from its DDS type name 'pkg::msg::dds_::Name_')."""
    cls = cls_or_msg if isinstance(cls_or_msg, type) else type(cls_or_msg)
    typename = getattr(cls, "__idl_typename__", None)
    parts = typename.split("::") if isinstance(typename, str) else []
    if len(parts) != 4 or parts[1:3] != ["msg", "dds_"] or not parts[3].endswith("_"):
        raise TypeError(f"{cls.__name__} is not a ROS 2 message type (DDS type name {typename!r})")
    return f"{parts[0]}/msg/{parts[3][:-1]}"


_ALL = (
    Time, Header, Bool, MultiArrayDimension, MultiArrayLayout, Float64MultiArray, Clock,
    Vector3, Point, Quaternion, Pose, PoseWithCovariance, Twist, TwistWithCovariance, TwistStamped,
    JointState, Imu, LaserScan, Joy, Odometry, KeyValue, DiagnosticStatus, DiagnosticArray, AttitudeTarget,
    Duration, JointTrajectoryPoint, JointTrajectory,
)  # fmt: skip

MESSAGE_TYPES: dict[str, type] = {ros_type_name(cls): cls for cls in _ALL}
"""Every message class, keyed by ROS type name ('nav_msgs/msg/Odometry')."""


def message_type(name: str) -> type:
    """The message class for ROS type name `name` ('pkg/msg/Name'); KeyError listing the known names."""
    try:
        return MESSAGE_TYPES[name]
    except KeyError:
        raise KeyError(f"unknown message type {name!r}; known: {', '.join(sorted(MESSAGE_TYPES))}") from None


def stamp_from_ns(ns: int) -> Time:
    """A `Time` from integer nanoseconds (floor semantics: nanosec is always in [0, 1e9))."""
    sec, nanosec = divmod(int(ns), _NS_PER_S)
    return Time(sec=sec, nanosec=nanosec)


def ns_from_stamp(stamp: Time) -> int:
    """Integer nanoseconds of a `Time`."""
    return stamp.sec * _NS_PER_S + stamp.nanosec


def msg_definition(name: str) -> str:
    """The ROS 2 message definition text of `name` for rosbag2/MCAP schemas (loads rosbags on first use)."""
    from robot_rl.deploy.msgs.typestore import msg_definition as _msg_definition

    message_type(name)  # unknown names fail here with the list of known ones
    return _msg_definition(name)


__all__ = [
    "MESSAGE_TYPES",
    "AttitudeTarget",
    "Bool",
    "Clock",
    "DiagnosticArray",
    "DiagnosticStatus",
    "Duration",
    "Float64MultiArray",
    "Header",
    "Imu",
    "JointState",
    "JointTrajectory",
    "JointTrajectoryPoint",
    "Joy",
    "KeyValue",
    "LaserScan",
    "MultiArrayDimension",
    "MultiArrayLayout",
    "Odometry",
    "Point",
    "Pose",
    "PoseWithCovariance",
    "Quaternion",
    "Time",
    "Twist",
    "TwistStamped",
    "TwistWithCovariance",
    "Vector3",
    "message_type",
    "msg_definition",
    "ns_from_stamp",
    "ros_type_name",
    "stamp_from_ns",
]
