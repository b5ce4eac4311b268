"""`robot-rl topic pub|echo`: messages from YAML with named errors, and a real publish over CycloneDDS."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from robot_rl.deploy.msgs import Bool, DiagnosticArray, JointState
from robot_rl.deploy.topic_tools import message_from_mapping, message_to_mapping
from robot_rl.deploy.transport import COMMAND_QOS
from robot_rl.deploy.transport.dds import DdsTransport


def test_nested_fields_sequences_and_defaults() -> None:
    msg = message_from_mapping(JointState, {"header": {"stamp": {"sec": 3}}, "name": ["j1"], "position": [1]})
    assert msg.header.stamp.sec == 3 and msg.header.stamp.nanosec == 0  # left out: default
    assert msg.position == [1.0] and isinstance(msg.position[0], float)
    diag = message_from_mapping(DiagnosticArray, {"status": [{"name": "a", "values": [{"key": "k", "value": "v"}]}]})
    assert diag.status[0].values[0].key == "k"
    assert message_to_mapping(msg)["header"]["stamp"] == {"sec": 3, "nanosec": 0}


@pytest.mark.parametrize(("values", "error"), [
    ({"dta": True}, r"unknown fields \['dta'\]"),
    ({"data": "yes"}, "data: expected bool"),
])
def test_bad_values_name_the_field(values: dict, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        message_from_mapping(Bool, values)


def test_bad_nested_values_name_the_path() -> None:
    with pytest.raises(ValueError, match=r"header\.stamp\.sec: expected int"):
        message_from_mapping(JointState, {"header": {"stamp": {"sec": "x"}}})
    with pytest.raises(ValueError, match=r"position\[1\]: expected float"):
        message_from_mapping(JointState, {"position": [1.0, "a"]})


def test_cli_pub_reaches_a_subscriber(ros_domain_id: str) -> None:
    received: list[Bool] = []
    transport = DdsTransport("test_listener")
    transport.create_subscription("/robot_rl/enable", Bool, received.append, COMMAND_QOS)
    proc = subprocess.Popen([sys.executable, "-m", "robot_rl.cli.main", "topic", "pub", "/robot_rl/enable",
                             "std_msgs/msg/Bool", "{data: true}"], stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while not received and time.monotonic() < deadline:
        transport.spin_once(0.05)
    proc.wait(timeout=20)
    transport.shutdown()
    assert received and received[0].data is True
    assert proc.returncode == 0
