"""Interop with real ROS 2: rclpy on Fast DDS (PyPI wheels in .venv-ros) against our CycloneDDS transport.

Every rclpy side runs as a subprocess in .venv-ros (see conftest.py); the CycloneDDS side runs in this process.
Discovery waits are bounded polls: publishers repeat their messages until the other side has them (or a deadline),
and all entities are on a per-test private ROS domain with per-test topic names, so concurrent runs cannot mix.
"""

import dataclasses
import time

import pytest

from robot_rl.deploy.msgs import MESSAGE_TYPES, JointState, ros_type_name
from robot_rl.deploy.transport.base import COMMAND_QOS, LATCHED_QOS, SENSOR_QOS

pytestmark = [pytest.mark.ros, pytest.mark.timeout(60)]

DISCOVERY_TIMEOUT_S = 15.0


@pytest.fixture
def dds(ros_domain_id):
    """A DdsTransport factory on a private ROS domain (also seen by the .venv-ros processes started afterwards)."""
    from robot_rl.deploy.transport.dds import DdsTransport

    transports = []

    def make(name="dds_peer", parameters=None):
        transports.append(DdsTransport(name, parameters))
        return transports[-1]

    yield make
    for transport in transports:
        transport.shutdown()


def spin_until(transport, done, timeout_s=DISCOVERY_TIMEOUT_S, every=None):
    """Spin `transport` (calling `every()` between spins) until `done()`; returns whether it became true in time."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if every is not None:
            every()
        transport.spin_once(0.02)
        if done():
            return True
    return done()


def as_json(msg):
    return dataclasses.asdict(msg)


# (1) plain rclpy publishes -> DdsTransport receives ----------------------------------------------------------------


@pytest.mark.parametrize("type_name", ["sensor_msgs/msg/JointState", "std_msgs/msg/Float64MultiArray",
                                       "nav_msgs/msg/Odometry"])
@pytest.mark.parametrize("qos", [COMMAND_QOS, SENSOR_QOS], ids=["reliable", "best_effort"])
def test_rclpy_publisher_to_dds_subscriber(ros_venv, ros_samples, dds, unique_topic, type_name, qos):
    build = ros_samples.SAMPLES[type_name]
    expected = [build(0), build(1)]
    topic = unique_topic("state")
    transport = dds()
    received = []
    transport.create_subscription(topic, MESSAGE_TYPES[type_name], received.append, qos)
    peer = ros_venv.start("rclpy_peer.py", stdin_json={
        "mode": "pub", "topic": topic, "type": type_name, "reliable": qos.reliable, "depth": qos.depth,
        "messages": [as_json(m) for m in expected], "timeout_s": DISCOVERY_TIMEOUT_S,
    })  # fmt: skip

    assert spin_until(transport, lambda: all(m in received for m in expected)), (
        f"got {len(received)} messages, not both samples; peer stderr:\n{peer.stderr}"
    )
    assert all(m in expected for m in received)  # nothing else arrived, and every field survived exactly
    peer.stop()


# (2) DdsTransport publishes -> plain rclpy subscriber receives ------------------------------------------------------


@pytest.mark.parametrize("type_name", ["sensor_msgs/msg/JointState", "std_msgs/msg/Float64MultiArray",
                                       "geometry_msgs/msg/Twist", "sensor_msgs/msg/LaserScan"])
def test_dds_publisher_to_rclpy_subscriber(ros_venv, ros_samples, dds, unique_topic, type_name):
    build = ros_samples.SAMPLES[type_name]
    expected = [as_json(build(0)), as_json(build(1))]
    topic = unique_topic("command")
    transport = dds()
    publisher = transport.create_publisher(topic, MESSAGE_TYPES[type_name], COMMAND_QOS)
    peer = ros_venv.start("rclpy_peer.py", stdin_json={
        "mode": "sub", "topic": topic, "type": type_name, "reliable": True, "depth": 10, "count": 4,
        "timeout_s": DISCOVERY_TIMEOUT_S,
    })  # fmt: skip
    peer.wait_event("ready", DISCOVERY_TIMEOUT_S)
    sent = 0

    def publish_next():
        nonlocal sent
        publisher.publish(build(sent % 2))  # alternating, so any 4 consecutive messages hold both samples
        sent += 1

    assert spin_until(transport, lambda: peer.proc.poll() is not None, every=publish_next)
    assert peer.wait(5) == 0, peer.stderr
    got = []
    while not peer._lines.empty():
        event = peer.next_event(1)
        if event["event"] == "msg":
            got.append(event["data"])
    assert len(got) == 4
    assert all(msg in expected for msg in got)
    assert all(msg in got for msg in expected)


def test_latched_dds_publisher_reaches_late_rclpy_subscriber(ros_venv, ros_samples, dds, unique_topic):
    # transient local + keep last 1: the subscriber starts after the only publish and still gets it
    topic = unique_topic("goal")
    transport = dds()
    transport.create_publisher(topic, JointState, LATCHED_QOS).publish(ros_samples.joint_state(5))
    peer = ros_venv.start("rclpy_peer.py", stdin_json={
        "mode": "sub", "topic": topic, "type": "sensor_msgs/msg/JointState", "reliable": True, "depth": 1,
        "transient_local": True, "count": 1, "timeout_s": DISCOVERY_TIMEOUT_S,
    })  # fmt: skip
    assert peer.wait_event("msg", DISCOVERY_TIMEOUT_S + 2)["data"] == as_json(ros_samples.joint_state(5))


# (3) RclpyTransport <-> DdsTransport, our dataclasses on both sides -------------------------------------------------


def test_rclpy_transport_echoes_every_message_type(ros_venv, ros_samples, dds, unique_topic):
    types = list(ros_samples.SAMPLES)
    prefix = unique_topic("echo")
    parameters = {"control": {"rate_hz": 50.0, "joints": ["a", "b"], "gains": [1, 2.5]}, "robot": "arm", "n": 3}
    transport = dds()
    publishers = [transport.create_publisher(f"{prefix}/ping{i}", MESSAGE_TYPES[t], COMMAND_QOS)
                  for i, t in enumerate(types)]
    received = {t: [] for t in types}
    for i, t in enumerate(types):
        transport.create_subscription(f"{prefix}/pong{i}", MESSAGE_TYPES[t], received[t].append, COMMAND_QOS)
    echo = ros_venv.start("transport_echo.py", stdin_json={
        "types": types, "prefix": prefix, "parameters": parameters, "timeout_s": DISCOVERY_TIMEOUT_S,
    })  # fmt: skip
    ready = echo.wait_event("ready", DISCOVERY_TIMEOUT_S)
    assert ready["transport"] == "RclpyTransport"  # make_transport('auto') picks rclpy where it imports
    # nested parameters come back nested; the int in a float list is promoted, as ROS 2 DOUBLE_ARRAY requires
    assert ready["parameters"] == {"control": {"rate_hz": 50.0, "joints": ["a", "b"], "gains": [1.0, 2.5]},
                                   "robot": "arm", "n": 3}
    assert abs(ready["now_ns"] - time.time_ns()) < 60e9  # wall clock (use_sim_time is off)

    def publish_all():
        for publisher, t in zip(publishers, types, strict=True):
            publisher.publish(ros_samples.SAMPLES[t](7))

    missing = lambda: [t for t in types if not received[t]]  # noqa: E731
    assert spin_until(transport, lambda: not missing(), every=publish_all), f"no echo of {missing()}\n{echo.stderr}"
    for t in types:
        assert received[t][0] == ros_samples.SAMPLES[t](7), t
    echo.stop()


def test_dds_clock_drives_rclpy_transport_sim_time(ros_venv, ros_samples, dds, unique_topic):
    # use_sim_time on the rclpy side: /clock from CycloneDDS becomes the node clock (rclpy's TimeSource)
    transport = dds()
    clock = transport.create_publisher("/clock", MESSAGE_TYPES["rosgraph_msgs/msg/Clock"], COMMAND_QOS)
    echo = ros_venv.start("transport_echo.py", stdin_json={
        "types": [], "prefix": unique_topic("clock"), "parameters": {"use_sim_time": True},
        "timeout_s": DISCOVERY_TIMEOUT_S,
    })  # fmt: skip
    ready = echo.wait_event("ready", DISCOVERY_TIMEOUT_S)
    assert ready["parameters"] == {"use_sim_time": True}
    assert ready["now_ns"] == 0  # no /clock yet
    expected_ns = 43 * 10**9 + 5  # samples.clock(1): 42 + 1 s and 5 ns
    deadline = time.monotonic() + DISCOVERY_TIMEOUT_S
    now_ns = 0
    while now_ns != expected_ns and time.monotonic() < deadline:
        clock.publish(ros_samples.clock(1))
        echo.send("now")
        now_ns = echo.wait_event("now", 5)["now_ns"]
    assert now_ns == expected_ns


# (4) RclpyTransport.serialize vs DdsTransport.serialize ------------------------------------------------------------


def differing_positions(ours, theirs):
    return [i for i in range(min(len(ours), len(theirs))) if ours[i] != theirs[i]]


def test_rclpy_serialize_matches_dds_serialize_up_to_padding(ros_venv, ros_samples, dds):
    transport = dds()
    dds_bytes = {name: transport.serialize(build(3)) for name, build in ros_samples.SAMPLES.items()}
    (result,) = ros_venv.run("serialize_samples.py", stdin_json={"dds_hex": {k: v.hex() for k, v in dds_bytes.items()}})
    for name, build in ros_samples.SAMPLES.items():
        ours, theirs = dds_bytes[name], bytes.fromhex(result[name]["rclpy_hex"])
        msg = build(3)
        assert ros_type_name(msg) == name
        # Both decode to the same message on the other implementation ...
        assert result[name]["rclpy_decodes_dds"], name
        assert type(msg).deserialize(theirs) == msg, name
        # ... and the bytes are the same, except alignment padding: CycloneDDS writes zeros there, Fast CDR leaves
        # whatever was in its buffer, and Fast CDR pads the end of the payload to the 8-byte alignment of the type.
        assert theirs[:4] == ours[:4] == b"\x00\x01\x00\x00", name
        assert 0 <= len(theirs) - len(ours) < 8, (name, len(ours), len(theirs))
        assert all(ours[i] == 0 for i in differing_positions(ours, theirs)), name
