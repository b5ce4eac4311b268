"""nav_msgs types as CycloneDDS IDL structs in the ROS 2 wire layout (see `std` for the conventions)."""

from dataclasses import dataclass, field

from cyclonedds.idl import IdlStruct

from robot_rl.deploy.msgs.geometry import PoseWithCovariance, TwistWithCovariance
from robot_rl.deploy.msgs.std import Header


@dataclass
class Odometry(IdlStruct, typename="nav_msgs::msg::dds_::Odometry_"):
    """nav_msgs/msg/Odometry: pose in header.frame_id, twist in child_frame_id."""

    header: Header = field(default_factory=Header)
    child_frame_id: str = ""
    pose: PoseWithCovariance = field(default_factory=PoseWithCovariance)
    twist: TwistWithCovariance = field(default_factory=TwistWithCovariance)
