"""ament_python package robot_rl_ros: thin rclpy wrappers over robot_rl.deploy.nodes, plus the repository's launch/."""

import os
from pathlib import Path

from setuptools import setup

PACKAGE = "robot_rl_ros"
HERE = Path(__file__).resolve().parent
LAUNCH_DIR = HERE.parents[2] / "launch"  # the repository's launch/, shared with `robot-rl launch`
# data_files must be relative to this folder (colcon asserts it): ../../../launch/...
LAUNCH_FILES = sorted(
    os.path.relpath(p, HERE) for pattern in ("*.launch.py", "*.yaml", "robot_rl_launch_common.py")
    for p in LAUNCH_DIR.glob(pattern)
)
if not LAUNCH_FILES:
    raise FileNotFoundError(f"no launch files in {LAUNCH_DIR}")

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=[PACKAGE],
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", LAUNCH_FILES),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="robot_rl maintainers",
    maintainer_email="robot-rl@example.com",
    description="ROS 2 nodes of robot_rl: controller, sim_driver, operator, recorder (rclpy wrappers over "
                "robot_rl.deploy).",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "controller = robot_rl_ros.nodes:controller",
            "sim_driver = robot_rl_ros.nodes:sim_driver",
            "recorder = robot_rl_ros.nodes:recorder",
            "operator = robot_rl_ros.nodes:operator",
        ],
    },
)
