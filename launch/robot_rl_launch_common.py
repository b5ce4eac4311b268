"""The one launch description behind arm.launch.py, quadrotor.launch.py and mobile_base.launch.py.

Nodes come from package robot_rl_ros (executables controller, sim_driver, recorder), each named as its section in
the parameter YAML it shares with `robot-rl launch` (the ROS-free launcher).
"""

from __future__ import annotations

from pathlib import Path

from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PythonExpression
from launch_ros.actions import Node

from launch import LaunchDescription

PACKAGE = "robot_rl_ros"


def _is_set(name: str) -> IfCondition:
    """True when launch argument `name` is not the empty string."""
    return IfCondition(PythonExpression(["'", LaunchConfiguration(name), "' != ''"]))


def _is_empty(name: str) -> IfCondition:
    """True when launch argument `name` is the empty string."""
    return IfCondition(PythonExpression(["'", LaunchConfiguration(name), "' == ''"]))


def _node(executable: str, **kwargs: object) -> Node:
    """A robot_rl_ros node named as its executable (= its section in the parameter YAML), logging to the screen."""
    return Node(package=PACKAGE, executable=executable, name=executable, output="screen", emulate_tty=True, **kwargs)


def robot_launch_description(robot: str, params_file: Path) -> LaunchDescription:
    """Arguments policy, params_file, use_sim, record; nodes sim_driver (if use_sim), controller, recorder (if record).

    Args:
        robot: robot name (arm, quadrotor, mobile_base), used in the argument descriptions.
        params_file: default parameter YAML (the one next to the launch file).

    """
    params = LaunchConfiguration("params_file")
    return LaunchDescription([
        DeclareLaunchArgument("params_file", default_value=str(params_file),
                              description=f"ROS 2 parameter YAML, one section per node (default: {params_file.name})"),
        DeclareLaunchArgument("policy", default_value="",
                              description=f"policy folder (policies/NAME) of the {robot} controller; empty: the "
                                          "controller.policy of params_file"),
        DeclareLaunchArgument("use_sim", default_value="true", choices=["true", "false"],
                              description=f"start sim_driver, the simulated {robot}; false when the real robot's "
                                          "driver runs"),
        DeclareLaunchArgument("record", default_value="",
                              description="bag directory: start the recorder (rosbag2 MCAP) writing there; empty: "
                                          "no recorder"),
        _node("sim_driver", parameters=[params], condition=IfCondition(LaunchConfiguration("use_sim"))),
        _node("controller", parameters=[params], condition=_is_empty("policy")),
        _node("controller", parameters=[params, {"policy": LaunchConfiguration("policy")}],
              condition=_is_set("policy")),
        _node("recorder", parameters=[params, {"output_dir": LaunchConfiguration("record")}],
              condition=_is_set("record")),
    ])
