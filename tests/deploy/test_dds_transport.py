"""DdsTransport: ROS 2 wire conventions and pub/sub between nodes over loopback (conftest confines DDS to it)."""

import os
import subprocess
import sys
import textwrap
import time
import uuid

import pytest
from cyclonedds.core import InstanceState, SampleState, ViewState
from cyclonedds.domain import DomainParticipant
from cyclonedds.sub import DataReader
from cyclonedds.topic import Topic

from robot_rl.deploy.msgs import Clock, Float64MultiArray, JointState, Odometry, Time, Twist, Vector3
from robot_rl.deploy.transport import make_transport
from robot_rl.deploy.transport.base import COMMAND_QOS, LATCHED_QOS, SENSOR_QOS
from robot_rl.deploy.transport.dds import CDR_LE_HEADER, DdsTransport, dds_qos, dds_topic_name

DEADLINE_S = 5.0


@pytest.fixture
def nodes():
    """Factory of DdsTransports that are all shut down after the test."""
    made = []

    def make(name, parameters=None):
        made.append(DdsTransport(name, parameters))
        return made[-1]

    yield make
    for node in made:
        node.shutdown()


def unique(topic):
    """A topic name no concurrent test run (pytest-xdist workers share the domain) can collide with."""
    return f"{topic}_{uuid.uuid4().hex[:8]}"


def spin_until(condition, *spinning, publish=None, deadline_s=DEADLINE_S):
    """Spin `spinning` nodes (and call `publish`) until `condition()`; bounded by `deadline_s`."""
    end = time.monotonic() + deadline_s
    while not condition():
        assert time.monotonic() < end, "timed out waiting for delivery"
        if publish is not None:
            publish()
        for node in spinning:
            node.spin_once(0.02)


def test_topic_names_follow_ros2_rt_prefix():
    assert dds_topic_name("/odom") == "rt/odom"
    assert dds_topic_name("/forward_position_controller/commands") == "rt/forward_position_controller/commands"
    assert dds_topic_name("cmd_vel") == "rt/cmd_vel"
    with pytest.raises(ValueError):
        dds_topic_name("/")


def test_sensor_qos_pub_sub(nodes):
    topic = unique("/joint_states")
    pub_node, sub_node = nodes("driver"), nodes("controller")
    received = []
    pub = pub_node.create_publisher(topic, JointState, SENSOR_QOS)
    sub_node.create_subscription(topic, JointState, received.append, SENSOR_QOS)
    msg = JointState(name=["j1", "j2"], position=[0.5, -0.5], velocity=[0.0, 0.0], effort=[])
    spin_until(lambda: received, sub_node, publish=lambda: pub.publish(msg))
    assert received[0] == msg


def test_command_qos_delivers_every_message_in_order(nodes):
    topic = unique("/forward_position_controller/commands")
    pub_node, sub_node = nodes("controller"), nodes("driver")
    received = []
    pub = pub_node.create_publisher(topic, Float64MultiArray, COMMAND_QOS)
    sub_node.create_subscription(topic, Float64MultiArray, received.append, COMMAND_QOS)
    spin_until(lambda: received, sub_node, publish=lambda: pub.publish(Float64MultiArray(data=[-1.0])))
    received.clear()
    for i in range(10):  # depth 10, reliable: none dropped
        pub.publish(Float64MultiArray(data=[float(i)] * 7))
    spin_until(lambda: len(received) >= 10, sub_node)
    assert [m.data[0] for m in received] == [float(i) for i in range(10)]


def test_transient_local_late_joiner_gets_the_last_value(nodes):
    topic = unique("/goal")
    pub_node = nodes("goal_source")
    pub = pub_node.create_publisher(topic, Twist, LATCHED_QOS)
    pub.publish(Twist(linear=Vector3(x=1.0)))
    pub.publish(Twist(linear=Vector3(x=2.0)))  # depth 1: only this one is kept for late joiners
    late_node = nodes("late")
    received = []
    late_node.create_subscription(topic, Twist, received.append, LATCHED_QOS)
    spin_until(lambda: received, late_node)
    late_node.spin_once(0.1)  # nothing else may arrive
    assert [m.linear.x for m in received] == [2.0]


def test_spin_once_honours_its_timeout(nodes):
    idle = nodes("idle")
    start = time.monotonic()
    idle.spin_once(0.05)  # no subscriptions at all
    assert 0.04 <= time.monotonic() - start < 0.5
    idle.create_subscription(unique("/nobody_publishes"), Odometry, lambda _: None, SENSOR_QOS)
    start = time.monotonic()
    idle.spin_once(0.1)
    assert 0.09 <= time.monotonic() - start < 0.6
    start = time.monotonic()
    idle.spin_once(0.0)
    assert time.monotonic() - start < 0.05


def test_now_follows_clock_with_use_sim_time(nodes, ros_domain_id):
    # /clock cannot be renamed, so this test gets a domain of its own
    domain_id = int(ros_domain_id)
    wall, sim = nodes("wall"), nodes("sim", {"use_sim_time": True, "control": {"rate_hz": 100}})
    assert sim.domain_id == domain_id
    assert abs(wall.now_ns() - time.time_ns()) < 1_000_000_000
    assert sim.now_ns() == 0  # no /clock yet (as in ROS)
    assert sim.parameters() == {"use_sim_time": True, "control": {"rate_hz": 100}}
    clock_pub = nodes("simulator").create_publisher("/clock", Clock, SENSOR_QOS)
    # 12 s + 500 ms = 12_500_000_000 ns
    spin_until(
        lambda: sim.now_ns() == 12_500_000_000, sim, publish=lambda: clock_pub.publish(Clock(Time(12, 500_000_000)))
    )


def test_wire_topic_type_name_and_xcdr1(nodes):
    # A plain CycloneDDS reader on 'rt/<name>', as rmw_cyclonedds creates it, receives what the transport publishes.
    from cyclonedds._clayer import ddspy_take  # raw bytes, encapsulation header included

    name = unique("/odom")
    pub = nodes("driver").create_publisher(name, Odometry, SENSOR_QOS)
    participant = DomainParticipant(int(os.environ.get("ROS_DOMAIN_ID") or 0))
    raw_topic = Topic(participant, "rt" + name, Odometry)
    assert raw_topic.typename == "nav_msgs::msg::dds_::Odometry_"
    reader = DataReader(participant, raw_topic, qos=dds_qos(SENSOR_QOS))
    mask = SampleState.Any | ViewState.Any | InstanceState.Any
    samples = []

    def publish_and_take():
        pub.publish(Odometry(child_frame_id="base"))
        time.sleep(0.01)
        samples.extend(ddspy_take(reader._ref, mask, 8))

    spin_until(lambda: samples, publish=publish_and_take)
    data = samples[0][0]
    assert data[:4] == CDR_LE_HEADER  # XCDR1 little endian; XCDR2 would be 0x0007 (plain) or 0x0009 (delimited)
    assert Odometry.deserialize(data).child_frame_id == "base"


def test_serialize_gives_rosbag2_bytes(nodes):
    node = nodes("recorder")
    data = node.serialize(JointState(name=["a"], position=[1.0]))
    assert data[:4] == CDR_LE_HEADER
    assert JointState.deserialize(data) == JointState(name=["a"], position=[1.0])


def test_pub_sub_across_processes_over_loopback(nodes):
    # In one process CycloneDDS may deliver locally; a second process exercises the UDP loopback path.
    topic = unique("/cmd_vel")
    script = textwrap.dedent(f"""
        import robot_rl.deploy.network as network
        network.confine_to_localhost()
        import time
        from robot_rl.deploy.msgs import Twist, Vector3
        from robot_rl.deploy.transport.base import COMMAND_QOS
        from robot_rl.deploy.transport.dds import DdsTransport
        node = DdsTransport("teleop")
        pub = node.create_publisher({topic!r}, Twist, COMMAND_QOS)
        end = time.monotonic() + 8.0
        while time.monotonic() < end:
            pub.publish(Twist(linear=Vector3(x=0.75)))
            time.sleep(0.02)
    """)
    received = []
    sub_node = nodes("base")
    sub_node.create_subscription(topic, Twist, received.append, COMMAND_QOS)
    proc = subprocess.Popen([sys.executable, "-c", script])
    try:
        spin_until(lambda: received, sub_node, deadline_s=8.0)
    finally:
        proc.kill()
        proc.wait()
    assert received[0].linear.x == 0.75


def test_shutdown_is_idempotent_and_final(nodes):
    node = nodes("short_lived")
    node.create_publisher(unique("/a"), Twist, COMMAND_QOS)
    node.create_subscription(unique("/b"), Twist, lambda _: None, COMMAND_QOS)
    node.shutdown()
    node.shutdown()
    with pytest.raises(RuntimeError):
        node.spin_once(0.0)


def test_one_topic_one_type(nodes):
    node = nodes("typed")
    topic = unique("/x")
    node.create_publisher(topic, Twist, COMMAND_QOS)
    with pytest.raises(TypeError):
        node.create_subscription(topic, Odometry, lambda _: None, COMMAND_QOS)


def test_make_transport_picks_and_validates_middleware():
    node = make_transport("dds", "made", {"use_sim_time": False})
    try:
        assert node.name == "dds" and isinstance(node, DdsTransport)
    finally:
        node.shutdown()
    with pytest.raises(ValueError, match="auto, dds, rclpy"):
        make_transport("zenoh", "x", None)
