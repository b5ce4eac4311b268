"""Plants: each robot's simulated low-level machinery (servos, rate loops, motors, wheels, sensors)."""

from robot_rl.envs.plants.arm import ArmPlant
from robot_rl.envs.plants.base import CORE_PARAMETERS, Plant
from robot_rl.envs.plants.mobile_base import MobileBasePlant
from robot_rl.envs.plants.quadrotor import QuadrotorPlant

PLANTS = {"arm": ArmPlant, "quadrotor": QuadrotorPlant, "mobile_base": MobileBasePlant}

__all__ = ["CORE_PARAMETERS", "PLANTS", "ArmPlant", "MobileBasePlant", "Plant", "QuadrotorPlant"]
