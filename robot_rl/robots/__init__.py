"""Robot descriptions: `RobotSpec` loaded and validated from `sim/<robot>/robot.yaml`, plus override files."""

from robot_rl.robots.overrides import Calibration, load_calibration, load_range_override
from robot_rl.robots.spec import (
    ArmParams,
    CommandSpec,
    JointSpec,
    MobileBaseParams,
    QuadrotorParams,
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
    "Calibration",
    "CommandSpec",
    "JointSpec",
    "MobileBaseParams",
    "QuadrotorParams",
    "RangeSpec",
    "RobotSpec",
    "RobotSpecError",
    "format_validation_error",
    "load_calibration",
    "load_range_override",
    "load_robot",
    "read_yaml",
    "sim_root",
]
