"""ros2_ws/src/robot_rl_ros: colcon builds and installs it; its wrappers turn ROS 2 arguments into ours.

The build runs the project's own colcon (`.venv/bin/colcon`, from colcon-core + colcon-ros) into a temporary
folder; no ROS 2 installation is needed to build an ament_python package.
"""

import os
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
PACKAGE_DIR = REPO / "ros2_ws" / "src" / "robot_rl_ros"
COLCON = Path(sys.executable).parent / "colcon"
EXECUTABLES = ("controller", "sim_driver", "operator", "recorder")

sys.path.insert(0, str(PACKAGE_DIR))
from robot_rl_ros import nodes  # noqa: E402
from robot_rl_ros.ros_args import node_argv, split_ros_args  # noqa: E402

sys.path.remove(str(PACKAGE_DIR))


@pytest.fixture(scope="module")
def install(tmp_path_factory):
    if not COLCON.exists():
        pytest.skip(f"{COLCON} not installed (pip install -e '.[dev]')")
    tmp = tmp_path_factory.mktemp("colcon")
    start = time.monotonic()
    out = subprocess.run([str(COLCON), "--log-base", str(tmp / "log"), "build", "--base-paths", "ros2_ws/src",
                          "--build-base", str(tmp / "build"), "--install-base", str(tmp / "install")],
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    elapsed = time.monotonic() - start
    assert out.returncode == 0, out.stdout + out.stderr
    assert elapsed < 60, f"colcon build took {elapsed:.1f} s"
    return tmp / "install" / "robot_rl_ros"


@pytest.mark.timeout(150)
def test_colcon_installs_executables_launch_files_and_index(install):
    for exe in EXECUTABLES:
        assert os.access(install / "lib" / "robot_rl_ros" / exe, os.X_OK)
    share = install / "share" / "robot_rl_ros"
    assert (share / "package.xml").is_file()
    assert (install / "share" / "ament_index" / "resource_index" / "packages" / "robot_rl_ros").is_file()
    launch = sorted(p.name for p in (share / "launch").iterdir())
    robots = ("arm", "quadrotor", "mobile_base")
    assert launch == sorted([f"{r}{ext}" for r in robots for ext in (".launch.py", ".yaml")]
                            + ["robot_rl_launch_common.py"])
    assert not (PACKAGE_DIR / "robot_rl_ros.egg-info").exists()  # the source tree stays clean


@pytest.mark.timeout(150)
def test_installed_executable_runs(install):
    site = next((install / "lib").glob("python3*/site-packages"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([str(install / "lib" / "robot_rl_ros" / "sim_driver"), "--help"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "--params" in out.stdout


def test_split_ros_args():
    user, ros = split_ros_args(["--help", "--ros-args", "-r", "__node:=a", "--", "x", "--ros-args", "--log-level",
                                "debug"])
    assert user == ["--help", "x"]
    assert ros == ["-r", "__node:=a", "--log-level", "debug"]


def test_node_argv_as_ros2_launch_passes_them(tmp_path):
    params = tmp_path / "arm.yaml"
    params.write_text(yaml.safe_dump({"controller": {"ros__parameters": {"policy": "policies/a", "safety": {}}},
                                      "/**": {"ros__parameters": {"use_sim_time": True}}}))
    launch_tmp = tmp_path / "launch_params_x"  # what launch_ros writes for parameters=[{...}]
    launch_tmp.write_text(yaml.safe_dump({"/controller": {"ros__parameters": {"policy": "policies/b",
                                                                             "topics": ["/a x/msg/Y"]}},
                                          "/recorder": {"ros__parameters": {"output_dir": "ignored"}}}))
    argv = ["--ros-args", "-r", "__node:=controller", "--params-file", str(params), "--params-file", str(launch_tmp),
            "-p", "controller:auto_enable:=false", "--log-level", "info"]
    assert node_argv("controller", argv) == [
        "--node", "controller", "--middleware", "rclpy", "--params", str(params),
        "--set", "use_sim_time=true",  # the '/**' section of the node's own file
        "--set", "policy=policies/b", "--set", "topics=[/a x/msg/Y]",  # later files win, values as YAML
        "--set", "auto_enable=false",  # -p rules last: they win over files in ROS 2
    ]


def test_node_argv_plain_ros2_run():
    assert node_argv("sim_driver", []) == ["--node", "sim_driver", "--middleware", "rclpy"]
    assert node_argv("sim_driver", ["--help"])[0] == "--help"
    assert node_argv("recorder", ["--ros-args", "--remap", "recorder:__node:=rec2"])[:2] == ["--node", "rec2"]
    assert node_argv("recorder", ["--ros-args", "-p", "output_dir:=''"])[-2:] == ["--set", "output_dir=''"]


def test_entry_points_call_the_robot_rl_node(monkeypatch):
    calls = []
    fake = types.SimpleNamespace(main=lambda argv: calls.append(argv) or 7)
    monkeypatch.setattr(nodes.importlib, "import_module", lambda name: calls.append(name) or fake)
    monkeypatch.setattr(sys, "argv", ["recorder", "--ros-args", "-r", "__node:=recorder"])
    assert nodes.recorder() == 7
    assert calls == ["robot_rl.deploy.nodes.recorder", ["--node", "recorder", "--middleware", "rclpy"]]
