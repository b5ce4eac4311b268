"""Robot descriptions: `RobotSpec` loaded and validated from `sim/<robot>/robot.yaml`, plus override files."""

from robot_rl.robots.kinematics import KinematicChain, arm_chain, chain_from_mjcf, forward_kinematics, link_positions
from robot_rl.robots.overrides import Calibration, load_calibration, load_range_override
from robot_rl.robots.spec import (
    ArmParams,
    ArmSafety,
    CommandSpec,
    JointSpec,
    MobileBaseParams,
    MobileBaseSafety,
    QuadrotorParams,
    QuadrotorSafety,
    RangeSpec,
    RobotSpec,
    RobotSpecError,
    format_validation_error,
    load_robot,
    read_yaml,
    sim_root,
)

ROBOTS = ("arm", "quadrotor", "mobile_base")

__all__ = [
    "ROBOTS",
    "ArmParams",
    "ArmSafety",
    "Calibration",
    "CommandSpec",
    "JointSpec",
    "KinematicChain",
    "MobileBaseParams",
    "MobileBaseSafety",
    "QuadrotorParams",
    "QuadrotorSafety",
    "RangeSpec",
    "RobotSpec",
    "RobotSpecError",
    "arm_chain",
    "chain_from_mjcf",
    "format_validation_error",
    "forward_kinematics",
    "link_positions",
    "load_calibration",
    "load_range_override",
    "load_robot",
    "read_yaml",
    "sim_root",
]
