"""sensor_msgs types as CycloneDDS IDL structs in the ROS 2 wire layout (see `std` for the conventions)."""

from dataclasses import dataclass, field

import cyclonedds.idl.types as t
from cyclonedds.idl import IdlStruct

from robot_rl.deploy.msgs.geometry import Quaternion, Vector3
from robot_rl.deploy.msgs.std import Header


def _zeros9() -> list[float]:
    return [0.0] * 9


@dataclass
class JointState(IdlStruct, typename="sensor_msgs::msg::dds_::JointState_"):
    """sensor_msgs/msg/JointState: per named joint position (rad or m), velocity, effort (N·m or N)."""

    header: Header = field(default_factory=Header)
    name: t.sequence[str] = field(default_factory=list)
    position: t.sequence[t.float64] = field(default_factory=list)
    velocity: t.sequence[t.float64] = field(default_factory=list)
    effort: t.sequence[t.float64] = field(default_factory=list)


@dataclass
class Imu(IdlStruct, typename="sensor_msgs::msg::dds_::Imu_"):
    """sensor_msgs/msg/Imu: orientation, angular velocity (rad/s), linear acceleration (m/s²), 3x3 covariances."""

    header: Header = field(default_factory=Header)
    orientation: Quaternion = field(default_factory=Quaternion)
    orientation_covariance: t.array[t.float64, 9] = field(default_factory=_zeros9)
    angular_velocity: Vector3 = field(default_factory=Vector3)
    angular_velocity_covariance: t.array[t.float64, 9] = field(default_factory=_zeros9)
    linear_acceleration: Vector3 = field(default_factory=Vector3)
    linear_acceleration_covariance: t.array[t.float64, 9] = field(default_factory=_zeros9)


@dataclass
class LaserScan(IdlStruct, typename="sensor_msgs::msg::dds_::LaserScan_"):
    """sensor_msgs/msg/LaserScan: planar range scan; angles in rad, times in s, ranges in m."""

    header: Header = field(default_factory=Header)
    angle_min: t.float32 = 0.0
    angle_max: t.float32 = 0.0
    angle_increment: t.float32 = 0.0
    time_increment: t.float32 = 0.0
    scan_time: t.float32 = 0.0
    range_min: t.float32 = 0.0
    range_max: t.float32 = 0.0
    ranges: t.sequence[t.float32] = field(default_factory=list)
    intensities: t.sequence[t.float32] = field(default_factory=list)


@dataclass
class Joy(IdlStruct, typename="sensor_msgs::msg::dds_::Joy_"):
    """sensor_msgs/msg/Joy: joystick axes (-1..1) and buttons (0/1)."""

    header: Header = field(default_factory=Header)
    axes: t.sequence[t.float32] = field(default_factory=list)
    buttons: t.sequence[t.int32] = field(default_factory=list)
