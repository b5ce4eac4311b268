import os
import subprocess
import sys
from pathlib import Path

from robot_rl.deploy.network import confine_to_localhost


def _config_path() -> Path:
    uri = os.environ["CYCLONEDDS_URI"]
    assert uri.startswith("file://")
    return Path(uri.removeprefix("file://"))


def test_conftest_confined_dds_to_loopback():
    # conftest ran confine_to_localhost() before any test module was imported
    text = _config_path().read_text()
    assert '<NetworkInterface address="127.0.0.1"/>' in text
    assert "<AllowMulticast>false</AllowMulticast>" in text
    assert '<Peer address="127.0.0.1"/>' in text
    assert "<IgnoreTypeInformation>1.15</IgnoreTypeInformation>" in text
    assert os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST"
    assert os.environ["ROS_LOCALHOST_ONLY"] == "1"


def test_no_other_interface_or_peer_in_config():
    text = _config_path().read_text()
    assert text.count("address=") == 2  # one interface, one peer, both loopback


def test_cli_entry_point_confines_before_running(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("CYCLONEDDS_URI", "ROS_LOCALHOST_ONLY",
                                                            "ROS_AUTOMATIC_DISCOVERY_RANGE")}
    code = (
        "import os, sys; from robot_rl.cli.main import main; main(['envs', '--json']) ;"
        "sys.stderr.write(os.environ['CYCLONEDDS_URI'] + ' ' + os.environ['ROS_LOCALHOST_ONLY'])"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    uri, localhost_only = out.stderr.split()
    assert localhost_only == "1"
    assert "127.0.0.1" in Path(uri.removeprefix("file://")).read_text()


def test_operator_config_is_respected_on_request(monkeypatch):
    monkeypatch.setenv("CYCLONEDDS_URI", "file:///etc/robot/cyclonedds.xml")
    confine_to_localhost(respect_existing=True)
    assert os.environ["CYCLONEDDS_URI"] == "file:///etc/robot/cyclonedds.xml"
    confine_to_localhost(respect_existing=False)
    assert "robot_rl_cyclonedds_localhost" in os.environ["CYCLONEDDS_URI"]


def _node_environment(*node_args: str) -> dict[str, str]:
    """What a node's main has set when it opens its transport (started with no DDS/ROS variables at all)."""
    env = {k: v for k, v in os.environ.items() if k not in ("CYCLONEDDS_URI", "ROS_LOCALHOST_ONLY",
                                                            "ROS_AUTOMATIC_DISCOVERY_RANGE")}
    code = (
        "import json, os, sys\n"
        "import robot_rl.deploy.transport as t\n"
        "def probe(middleware, name, params):\n"
        "    assert 'cyclonedds' not in sys.modules and 'rclpy' not in sys.modules\n"
        "    keys = ('CYCLONEDDS_URI', 'ROS_LOCALHOST_ONLY', 'ROS_AUTOMATIC_DISCOVERY_RANGE')\n"
        "    print(json.dumps({k: os.environ.get(k) for k in keys})); sys.exit(0)\n"
        "t.make_transport = probe\n"
        "from robot_rl.deploy.nodes.sim_driver import main\n"
        f"main(['--params', 'launch/arm.yaml', *{list(node_args)!r}])\n"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, check=True)
    return __import__("json").loads(out.stdout.strip().splitlines()[-1])


def test_node_entry_points_confine_before_opening_a_transport():
    seen = _node_environment()
    assert seen["ROS_LOCALHOST_ONLY"] == "1" and seen["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST"
    config = Path(seen["CYCLONEDDS_URI"].removeprefix("file://")).read_text()
    assert '<NetworkInterface address="127.0.0.1"/>' in config and "<AllowMulticast>false" in config


def test_network_system_leaves_the_operators_configuration_alone():
    seen = _node_environment("--network", "system")
    assert seen == {"CYCLONEDDS_URI": None, "ROS_LOCALHOST_ONLY": None, "ROS_AUTOMATIC_DISCOVERY_RANGE": None}
