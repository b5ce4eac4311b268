"""mavros_msgs types as CycloneDDS IDL structs in the ROS 2 wire layout (see `std` for the conventions)."""

from dataclasses import dataclass, field

import cyclonedds.idl.types as t
from cyclonedds.idl import IdlStruct

from robot_rl.deploy.msgs.geometry import Quaternion, Vector3
from robot_rl.deploy.msgs.std import Header

ATTITUDE_TARGET_MSG = """\
# Message for SET_ATTITUDE_TARGET
#
# Some complex system requires all feautures that mavlink
# message provide. See issue #402, #418.

std_msgs/Header header

uint8 type_mask
uint8 IGNORE_ROLL_RATE = 1 # body_rate.x
uint8 IGNORE_PITCH_RATE = 2 # body_rate.y
uint8 IGNORE_YAW_RATE = 4 # body_rate.z
uint8 IGNORE_THRUST = 64
uint8 IGNORE_ATTITUDE = 128 # orientation field

geometry_msgs/Quaternion orientation
geometry_msgs/Vector3 body_rate
float32 thrust
"""
"""mavros_msgs/msg/AttitudeTarget.msg as published by mavros (ros2 branch); not in rosbags' stores."""


@dataclass
class AttitudeTarget(IdlStruct, typename="mavros_msgs::msg::dds_::AttitudeTarget_"):
    """mavros_msgs/msg/AttitudeTarget: attitude and/or body rates (rad/s) plus normalized collective thrust (0..1)."""

    IGNORE_ROLL_RATE = 1
    IGNORE_PITCH_RATE = 2
    IGNORE_YAW_RATE = 4
    IGNORE_THRUST = 64
    IGNORE_ATTITUDE = 128

    header: Header = field(default_factory=Header)
    type_mask: t.uint8 = 0
    orientation: Quaternion = field(default_factory=Quaternion)
    body_rate: Vector3 = field(default_factory=Vector3)
    thrust: t.float32 = 0.0
