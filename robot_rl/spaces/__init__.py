"""Observation and action specs per robot + task, shared by the envs and the deployed controller."""

from robot_rl.spaces.vector import Quantity, VectorSpec

__all__ = ["Quantity", "VectorSpec"]
