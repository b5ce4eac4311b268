"""The one launch description behind arm.launch.py, quadrotor.launch.py and mobile_base.launch.py.

Nodes come from package robot_rl_ros (executables controller, sim_driver, operator, recorder), each named as its
section in the parameter YAML it shares with `robot-rl launch` (the ROS-free launcher).
"""

from __future__ import annotations

from pathlib import Path

from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PythonExpression
from launch_ros.actions import Node

from launch import LaunchDescription

PACKAGE = "robot_rl_ros"
OPERATORS = ["none", "joy", "keyboard", "spacemouse", "sim-expert"]
SIM_OPERATOR = {"takeover.sync": True, "takeover.debounce_s": 0.0}
"""What a simulated operator sets on the controller, as `robot-rl launch --operator sim-expert` does."""
REAL_ROBOT = {"require_gate": True}
"""What use_sim:=false sets on the controller, as `robot-rl launch --no-sim` does: only a policy with an intact,
passed release gate drives real hardware (to override, set `gate_override: true` in the YAML's controller section:
it is recorded in the bag)."""


def _when(*tests: tuple[str, str]) -> IfCondition:
    """True when every `(argument, python test)` holds, e.g. `("policy", "!= ''")`."""
    parts: list = []
    for name, test in tests:
        parts += [" and " if parts else "", "'", LaunchConfiguration(name), f"' {test}"]
    return IfCondition(PythonExpression(parts))


def _node(executable: str, **kwargs: object) -> Node:
    """A robot_rl_ros node named as its executable (= its section in the parameter YAML), logging to the screen."""
    return Node(package=PACKAGE, executable=executable, name=executable, output="screen", emulate_tty=True, **kwargs)


def _controllers(params: LaunchConfiguration) -> list[Node]:
    """The controller: the YAML's or the argument's policy, a simulated operator's sync, the real robot's gate."""
    nodes = []
    for policy_test, policy_params in (("== ''", []), ("!= ''", [{"policy": LaunchConfiguration("policy")}])):
        for operator_test, operator_params in (("!= 'sim-expert'", []), ("== 'sim-expert'", [SIM_OPERATOR])):
            for sim_test, sim_params in (("== 'true'", []), ("!= 'true'", [REAL_ROBOT])):
                nodes.append(_node("controller", parameters=[params, *policy_params, *operator_params, *sim_params],
                                   condition=_when(("policy", policy_test), ("operator", operator_test),
                                                   ("use_sim", sim_test))))
    return nodes


def robot_launch_description(robot: str, params_file: Path) -> LaunchDescription:
    """Arguments policy, params_file, use_sim, record, operator; nodes sim_driver, controller, operator, recorder.

    sim_driver starts if use_sim, the operator node unless operator:=none, the recorder if record is set.

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
        DeclareLaunchArgument("operator", default_value="none", choices=OPERATORS,
                              description="who may take over from the policy: a gamepad (joy), the terminal "
                                          "keyboard, a SpaceMouse, or a simulated operator (sim-expert); none: nobody"),
        _node("sim_driver", parameters=[params], condition=IfCondition(LaunchConfiguration("use_sim"))),
        *_controllers(params),
        _node("operator", parameters=[params, {"kind": LaunchConfiguration("operator")}],
              condition=_when(("operator", "!= 'none'"))),
        _node("recorder", parameters=[params, {"output_dir": LaunchConfiguration("record")}],
              condition=_when(("record", "!= ''"))),
    ])
