"""Message classes: defaults, DDS type names, and CDR bytes checked against rosbags (an independent codec)."""

import dataclasses

import numpy as np
import pytest

from robot_rl.deploy import msgs
from robot_rl.deploy.msgs import (
    AttitudeTarget,
    DiagnosticArray,
    DiagnosticStatus,
    Duration,
    Float64MultiArray,
    Header,
    Imu,
    JointState,
    JointTrajectory,
    JointTrajectoryPoint,
    Joy,
    KeyValue,
    LaserScan,
    MultiArrayDimension,
    MultiArrayLayout,
    Odometry,
    Point,
    Pose,
    PoseWithCovariance,
    Quaternion,
    Time,
    Twist,
    TwistWithCovariance,
    Vector3,
)
from robot_rl.deploy.msgs.typestore import type_hash, typestore

CDR_LE = b"\x00\x01\x00\x00"


def plain(value):
    """Nested dicts/lists of a message (ours or rosbags'), numpy arrays as lists, constants (UPPER) dropped."""
    if dataclasses.is_dataclass(value):
        return {
            f.name: plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.name.islower() and not f.name.startswith("_")
        }
    if isinstance(value, (list, tuple, np.ndarray)):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def header(frame: str = "base_link") -> Header:
    return Header(stamp=Time(sec=1_700_000_000, nanosec=123_456_789), frame_id=frame)


# Values are exact in float32 (multiples of 1/8), so float32 fields compare with ==.
POPULATED = {
    "sensor_msgs/msg/JointState": JointState(
        header=header(), name=["j1", "j2", "j3"], position=[0.5, -1.25, 3.0], velocity=[0.0, 0.125, -2.0], effort=[]
    ),
    "nav_msgs/msg/Odometry": Odometry(
        header=header("odom"),
        child_frame_id="base_link",
        pose=PoseWithCovariance(
            pose=Pose(position=Point(1.0, 2.0, 3.0), orientation=Quaternion(0.0, 0.0, 0.6, 0.8)),
            covariance=[float(i) for i in range(36)],
        ),
        twist=TwistWithCovariance(
            twist=Twist(linear=Vector3(0.5, 0.0, 0.0), angular=Vector3(0.0, 0.0, -0.25)),
            covariance=[0.01 * i for i in range(36)],
        ),
    ),
    "sensor_msgs/msg/LaserScan": LaserScan(
        header=header("laser"),
        angle_min=-1.5,
        angle_max=1.5,
        angle_increment=0.75,
        time_increment=0.0,
        scan_time=0.125,
        range_min=0.125,
        range_max=8.0,
        ranges=[1.0, 2.5, float("inf"), 0.25, 7.875],
        intensities=[],
    ),
    "std_msgs/msg/Float64MultiArray": Float64MultiArray(
        layout=MultiArrayLayout(dim=[MultiArrayDimension(label="joints", size=7, stride=7)], data_offset=0),
        data=[0.1, -0.2, 0.3, -0.4, 0.5, -0.6, 0.7],
    ),
    "geometry_msgs/msg/Twist": Twist(linear=Vector3(0.3, 0.0, 0.0), angular=Vector3(0.0, 0.0, 1.2)),
    "sensor_msgs/msg/Imu": Imu(
        header=header("imu"),
        orientation=Quaternion(0.0, 0.0, 0.0, 1.0),
        orientation_covariance=[-1.0] + [0.0] * 8,
        angular_velocity=Vector3(0.01, -0.02, 0.03),
        angular_velocity_covariance=[0.001 * i for i in range(9)],
        linear_acceleration=Vector3(0.0, 0.0, 9.81),
        linear_acceleration_covariance=[0.5] * 9,
    ),
    "diagnostic_msgs/msg/DiagnosticArray": DiagnosticArray(
        header=header(""),
        status=[
            DiagnosticStatus(
                level=DiagnosticStatus.WARN,
                name="controller: safety",
                message="joint velocity clipped",
                hardware_id="arm",
                values=[KeyValue(key="joint", value="j3"), KeyValue(key="count", value="4")],
            ),
            DiagnosticStatus(level=DiagnosticStatus.OK, name="controller: loop", message="ok"),
        ],
    ),
    "mavros_msgs/msg/AttitudeTarget": AttitudeTarget(
        header=header("base_link"),
        type_mask=AttitudeTarget.IGNORE_ATTITUDE,
        orientation=Quaternion(0.0, 0.0, 0.0, 1.0),
        body_rate=Vector3(0.1, -0.2, 0.3),
        thrust=0.625,
    ),
    "sensor_msgs/msg/Joy": Joy(header=header("joy"), axes=[0.0, -1.0, 0.5, 0.25], buttons=[0, 1, 0, 0, 1]),
    "trajectory_msgs/msg/JointTrajectory": JointTrajectory(
        header=header(""),
        joint_names=["joint2", "joint1", "joint3"],
        points=[
            JointTrajectoryPoint(positions=[0.5, -1.25, 3.0], velocities=[0.0, 0.125, -2.0],
                                 accelerations=[1.5, 0.0, -0.25], time_from_start=Duration(sec=0, nanosec=1_000_000)),
            JointTrajectoryPoint(positions=[0.625, -1.0, 2.5], time_from_start=Duration(sec=1, nanosec=20_000_000)),
        ],
    ),
}


@pytest.mark.parametrize("name", sorted(msgs.MESSAGE_TYPES))
def test_every_type_constructs_with_defaults_and_round_trips(name):
    cls = msgs.MESSAGE_TYPES[name]
    msg = cls()
    data = msg.serialize()
    assert data[:4] == CDR_LE  # XCDR1, little endian: what ROS 2 sends and rosbag2 stores
    assert cls.deserialize(data) == msg
    assert msgs.ros_type_name(cls) == msgs.ros_type_name(msg) == name
    assert msgs.message_type(name) is cls


@pytest.mark.parametrize("name", sorted(msgs.MESSAGE_TYPES))
def test_dds_type_name_and_field_layout_match_ros(name):
    cls = msgs.MESSAGE_TYPES[name]
    pkg, _, short = name.split("/")
    assert cls.__idl_typename__ == f"{pkg}::msg::dds_::{short}_"
    ros_fields = [field_name for field_name, _ in typestore().fielddefs[name][1]]
    assert [f.name for f in dataclasses.fields(cls)] == ros_fields
    for const_name, _, value in typestore().fielddefs[name][0]:
        assert getattr(cls, const_name) == value


@pytest.mark.parametrize("name", sorted(POPULATED))
def test_our_bytes_decode_with_rosbags_to_the_same_values(name):
    msg = POPULATED[name]
    decoded = typestore().deserialize_cdr(msg.serialize(), name)
    assert plain(decoded) == plain(msg)


@pytest.mark.parametrize("name", sorted(POPULATED))
def test_rosbags_bytes_deserialize_with_our_classes(name):
    msg = POPULATED[name]
    theirs = typestore().serialize_cdr(typestore().deserialize_cdr(msg.serialize(), name), name)
    assert bytes(theirs) == msg.serialize()  # same bytes, padding included
    assert type(msg).deserialize(bytes(theirs)) == msg


def test_quaternion_defaults_to_identity_and_odometry_has_36_covariances():
    odom = Odometry()
    assert (odom.pose.pose.orientation.w, odom.pose.pose.orientation.x) == (1.0, 0.0)
    assert len(odom.pose.covariance) == len(odom.twist.covariance) == 36
    assert Odometry().pose.covariance is not odom.pose.covariance  # no shared mutable defaults


def test_stamp_helpers_split_seconds_and_nanoseconds():
    # 1_700_000_000.123456789 s -> sec 1_700_000_000, nanosec 123_456_789
    assert msgs.stamp_from_ns(1_700_000_000_123_456_789) == Time(sec=1_700_000_000, nanosec=123_456_789)
    assert msgs.ns_from_stamp(Time(sec=2, nanosec=5)) == 2_000_000_005
    # -1 ns = -1 s + 999_999_999 ns (ROS keeps nanosec in [0, 1e9))
    assert msgs.stamp_from_ns(-1) == Time(sec=-1, nanosec=999_999_999)
    assert msgs.ns_from_stamp(msgs.stamp_from_ns(-1)) == -1


def test_unknown_type_name_lists_the_known_ones():
    with pytest.raises(KeyError, match="sensor_msgs/msg/JointState"):
        msgs.message_type("sensor_msgs/msg/PointCloud2")
    with pytest.raises(TypeError):
        msgs.ros_type_name(int)


def test_message_definitions_for_rosbag2():
    for name in msgs.MESSAGE_TYPES:
        assert msgs.msg_definition(name).strip()
        assert type_hash(name).startswith("RIHS01_")
    text = msgs.msg_definition("mavros_msgs/msg/AttitudeTarget")
    assert "uint8 IGNORE_ATTITUDE=128" in text
    assert "MSG: geometry_msgs/Vector3" in text  # dependencies follow, as rosbag2 writes them
    assert msgs.msg_definition("std_msgs/msg/Bool").startswith("bool data")


def test_joint_trajectory_bytes_by_hand():
    msg = JointTrajectory(header=Header(stamp=Time(sec=1, nanosec=2), frame_id=""), joint_names=["a"],
                          points=[JointTrajectoryPoint(positions=[0.5], time_from_start=Duration(0, 4_000_000))])
    # payload offsets: 0 stamp (int32 1, uint32 2) | 8 frame_id: length 1, NUL, pad to 16 | 16 joint_names: count 1
    # | 20 "a": length 2, 'a' NUL, pad to 28 | 28 points: count 1 | 32 positions: count 1, pad to 40, 0.5 at 40
    # | 48, 52, 56 velocities, accelerations, effort: count 0 | 60 time_from_start: int32 0, uint32 4e6 | 68 bytes
    expected = (CDR_LE + (1).to_bytes(4, "little") + (2).to_bytes(4, "little") + (1).to_bytes(4, "little")
                + b"\0" + bytes(3) + (1).to_bytes(4, "little") + (2).to_bytes(4, "little") + b"a\0" + bytes(2)
                + (1).to_bytes(4, "little") + (1).to_bytes(4, "little") + bytes(4) + np.float64(0.5).tobytes()
                + bytes(12) + bytes(4) + (4_000_000).to_bytes(4, "little"))
    assert len(expected) == 4 + 68
    assert msg.serialize() == expected
    assert bytes(typestore().serialize_cdr(typestore().deserialize_cdr(expected, msgs.ros_type_name(msg)),
                                           msgs.ros_type_name(msg))) == expected


# Jazzy's own hashes: share/trajectory_msgs/msg/*.json of the ros-trajectory-msgs 5.3.6 wheel, and
# share/builtin_interfaces/msg/Duration.json of ros-builtin-interfaces 2.0.3 (the ROS 2 build's rosidl output).
OFFICIAL_TYPE_HASHES = {
    "builtin_interfaces/msg/Duration": "RIHS01_e8d009f659816f758b75334ee1a9ca5b5c0b859843261f14c7f937349599d93b",
    "trajectory_msgs/msg/JointTrajectory": "RIHS01_179b33eba59d676f6d967ac71fe35e7ca2f64b2f3928f4a018cec115e213796e",
    "trajectory_msgs/msg/JointTrajectoryPoint":
        "RIHS01_de8907036d8bd45aac6f30cc9044a3d4a329c42cbf719aff7d95a584cfa532d7",
}


@pytest.mark.parametrize("name", sorted(OFFICIAL_TYPE_HASHES))
def test_trajectory_type_hashes_are_the_ros_builds_own(name):
    from robot_rl.deploy.msgs.type_hashes import TYPE_HASHES

    assert type_hash(name) == TYPE_HASHES[name] == OFFICIAL_TYPE_HASHES[name]
