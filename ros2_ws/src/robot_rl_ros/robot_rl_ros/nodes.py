"""Console entry points `controller`, `sim_driver`, `operator`, `recorder`: run the robot_rl node with rclpy.

`ros2 run robot_rl_ros controller --ros-args --params-file launch/arm.yaml` and `ros2 launch` call these with ROS 2
arguments; `ros_args.node_argv` turns them into the node's own command line (`--params FILE --node NAME
--middleware rclpy ...`). The node code lives in `robot_rl.deploy.nodes`, identical on both transports.
"""

from __future__ import annotations

import importlib
import sys

from robot_rl_ros.ros_args import node_argv


def run(node: str) -> int:
    """Run `robot_rl.deploy.nodes.<node>.main` on this process's ROS 2 command line; returns its exit code."""
    module = importlib.import_module(f"robot_rl.deploy.nodes.{node}")
    return module.main(node_argv(node, sys.argv[1:]))


def controller() -> int:
    """`ros2 run robot_rl_ros controller`: policy (ONNX) + safety filter."""
    return run("controller")


def sim_driver() -> int:
    """`ros2 run robot_rl_ros sim_driver`: the simulated robot."""
    return run("sim_driver")


def recorder() -> int:
    """`ros2 run robot_rl_ros recorder`: rosbag2 MCAP logger."""
    return run("recorder")


def operator() -> int:
    """`ros2 run robot_rl_ros operator`: a gamepad, keyboard or SpaceMouse, or a simulated operator."""
    return run("operator")
