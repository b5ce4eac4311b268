"""Reference controllers per task: baselines, proof of solvability, and simulated experts for interventions."""

from robot_rl.envs.experts.arm_ik import ArmReachExpert
from robot_rl.envs.experts.mobile_base_pursuit import MobileBaseGoalExpert
from robot_rl.envs.experts.quadrotor_cascade import QuadrotorHoverExpert

__all__ = ["ArmReachExpert", "MobileBaseGoalExpert", "QuadrotorHoverExpert"]
