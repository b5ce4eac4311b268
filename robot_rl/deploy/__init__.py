"""Deployment runtime (ROS 2 nodes, transports). For now: the localhost network confinement used everywhere."""

from robot_rl.deploy.network import confine_to_localhost

__all__ = ["confine_to_localhost"]
