"""`ros2 launch robot_rl_ros quadrotor.launch.py [policy:=DIR] [params_file:=YAML] [use_sim:=false] [record:=DIR]`.

Also `[operator:=none|joy|keyboard|spacemouse|sim-expert]`: who may take over (the operator node).
The quadrotor's controller, its simulated driver and (with record:=DIR) the recorder;
parameters from quadrotor.yaml.
"""

import sys
from pathlib import Path

from launch import LaunchDescription

sys.path.insert(0, str(Path(__file__).parent))  # launch files are loaded by path: make the shared helper importable
from robot_rl_launch_common import robot_launch_description  # noqa: E402


def generate_launch_description() -> LaunchDescription:
    """Arguments policy, params_file, use_sim, record, operator; nodes sim_driver, controller, operator, recorder."""
    return robot_launch_description("quadrotor", Path(__file__).parent / "quadrotor.yaml")
