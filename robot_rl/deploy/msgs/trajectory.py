"""trajectory_msgs types as CycloneDDS IDL structs in the ROS 2 wire layout (see `std` for the conventions).

`JointTrajectory` is what ros2_control's joint_trajectory_controller subscribes to (`~/joint_trajectory`): points
with positions, velocities and accelerations are interpolated with quintic splines (docs/deployment.md).
"""

from dataclasses import dataclass, field

import cyclonedds.idl.types as t
from cyclonedds.idl import IdlStruct

from robot_rl.deploy.msgs.std import Duration, Header


@dataclass
class JointTrajectoryPoint(IdlStruct, typename="trajectory_msgs::msg::dds_::JointTrajectoryPoint_"):
    """trajectory_msgs/msg/JointTrajectoryPoint: one timed state of the joints.

    Per joint (in `joint_names` order) position (rad), velocity (rad/s), acceleration (rad/s²), effort (N·m);
    `time_from_start` after the trajectory's `header.stamp`.
    """

    positions: t.sequence[t.float64] = field(default_factory=list)
    velocities: t.sequence[t.float64] = field(default_factory=list)
    accelerations: t.sequence[t.float64] = field(default_factory=list)
    effort: t.sequence[t.float64] = field(default_factory=list)
    time_from_start: Duration = field(default_factory=Duration)


@dataclass
class JointTrajectory(IdlStruct, typename="trajectory_msgs::msg::dds_::JointTrajectory_"):
    """trajectory_msgs/msg/JointTrajectory: named joints and timed points.

    `header.stamp` is the start time (zero: "when received").
    """

    header: Header = field(default_factory=Header)
    joint_names: t.sequence[str] = field(default_factory=list)
    points: t.sequence[JointTrajectoryPoint] = field(default_factory=list)
