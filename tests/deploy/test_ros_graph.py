"""The ROS graph view of a DdsTransport: `ros_discovery_info` announcement, endpoint type hashes, rclpy's node list.

The first tests need only CycloneDDS and rosbags; the last runs real rclpy (Fast DDS) from .venv-ros and asks it what
`ros2 node list` and `ros2 node info` would show.
"""

import time

import pytest
from cyclonedds.builtin import BuiltinDataReader, BuiltinTopicDcpsPublication, BuiltinTopicDcpsSubscription
from cyclonedds.core import Policy
from cyclonedds.domain import DomainParticipant
from cyclonedds.sub import DataReader
from cyclonedds.topic import Topic

from robot_rl.deploy.msgs import MESSAGE_TYPES, Float64MultiArray, JointState
from robot_rl.deploy.msgs.rmw import Gid, NodeEntitiesInfo, ParticipantEntitiesInfo
from robot_rl.deploy.msgs.type_hashes import TYPE_HASHES
from robot_rl.deploy.msgs.typestore import type_hash, typestore
from robot_rl.deploy.transport.base import COMMAND_QOS
from robot_rl.deploy.transport.dds import DdsTransport, dds_topic_name
from robot_rl.deploy.transport.ros_graph import DISCOVERY_QOS, DISCOVERY_TOPIC

DEADLINE_S = 5.0
DISCOVERY_TIMEOUT_S = 15.0
PROBE = "robot_rl_probe"


@pytest.fixture
def probe(ros_domain_id):
    """DdsTransport node 'robot_rl_probe' on a private domain: publishes /probe/state, subscribes /probe/cmd."""
    transport = DdsTransport(PROBE)
    transport.create_publisher("/probe/state", JointState, COMMAND_QOS)
    transport.create_subscription("/probe/cmd", Float64MultiArray, lambda msg: None, COMMAND_QOS)
    yield transport
    transport.shutdown()


def poll(read, done, timeout_s=DEADLINE_S):
    """Call `read()` every 20 ms, accumulating its items, until `done(items)` or `timeout_s`; returns the items."""
    items, deadline = [], time.monotonic() + timeout_s
    while not done(items) and time.monotonic() < deadline:
        items += read()
        time.sleep(0.02)
    return items


def test_rmw_types_match_rosbags_layout_and_bytes():
    gid = Gid(data=bytes(range(16)))
    info = ParticipantEntitiesInfo(gid=gid, node_entities_info_seq=[
        NodeEntitiesInfo(node_namespace="/", node_name="n", reader_gid_seq=[gid], writer_gid_seq=[gid, gid]),
    ])  # fmt: skip
    for cls in (Gid, NodeEntitiesInfo, ParticipantEntitiesInfo):
        name = "rmw_dds_common/msg/" + cls.__name__
        assert cls.__idl_typename__ == f"rmw_dds_common::msg::dds_::{cls.__name__}_"
        assert list(cls.__dataclass_fields__) == [f for f, _ in typestore().fielddefs[name][1]]
    data = info.serialize(use_version_2=False)
    # 4 header + 16 gid + 4 count + ("/": 4 len + 2, pad 2) + ("n": 4 + 2, pad 2) + (4 + 16) + (4 + 2 * 16) = 96
    assert len(data) == 96
    theirs = typestore().deserialize_cdr(data, "rmw_dds_common/msg/ParticipantEntitiesInfo")
    assert bytes(theirs.gid.data) == bytes(range(16))  # Jazzy: char[16], a DDS GUID
    node = theirs.node_entities_info_seq[0]
    assert (node.node_namespace, node.node_name, len(node.reader_gid_seq), len(node.writer_gid_seq)) == ("/", "n", 1, 2)
    assert ParticipantEntitiesInfo.deserialize(data) == info


def test_type_hash_table_matches_rosbags():
    expected = {name: type_hash(name) for name in sorted(MESSAGE_TYPES)}
    table = "".join(f'    "{name}": "{value}",\n' for name, value in expected.items())
    assert expected == TYPE_HASHES, f"regenerate msgs/type_hashes.py TYPE_HASHES as:\n{table}"


def test_transport_announces_node_and_endpoint_gids(probe):
    listener = DomainParticipant(probe.domain_id)
    reader = DataReader(listener, Topic(listener, DISCOVERY_TOPIC, ParticipantEntitiesInfo), qos=DISCOVERY_QOS)
    ours = probe._participant.guid.bytes

    def announced(items):
        return any(i.gid.data == ours and i.node_entities_info_seq[0].writer_gid_seq for i in items)

    samples = poll(lambda: list(reader.take(N=64)), announced)  # transient local: the last one arrives late, too
    info = [i for i in samples if i.gid.data == ours][-1]
    (node,) = info.node_entities_info_seq
    assert (node.node_namespace, node.node_name) == ("/", PROBE)
    (writer,), (reader_gid,) = node.writer_gid_seq, node.reader_gid_seq
    # GUID = 12-byte participant prefix + entity id; ids end in the RTPS entity kind: 0x03 writer, 0x04 reader (no key)
    assert writer.data[:12] == reader_gid.data[:12] == ours[:12]
    assert (ours[15], writer.data[15], reader_gid.data[15]) == (0xC1, 0x03, 0x04)


def test_shutdown_withdraws_the_node(probe):
    listener = DomainParticipant(probe.domain_id)
    reader = DataReader(listener, Topic(listener, DISCOVERY_TOPIC, ParticipantEntitiesInfo), qos=DISCOVERY_QOS)
    ours = probe._participant.guid.bytes

    def mine():
        return [i for i in reader.take(N=64) if i.gid.data == ours]

    assert poll(mine, bool)
    probe.shutdown()  # peers then drop the node at once, not when the participant's lease expires (~10 s)
    assert poll(mine, bool) == [ParticipantEntitiesInfo(gid=Gid(data=ours))]


def test_endpoints_carry_type_hash_in_user_data(probe):
    listener = DomainParticipant(probe.domain_id)
    found = {}
    for builtin in (BuiltinTopicDcpsPublication, BuiltinTopicDcpsSubscription):  # one rt/probe endpoint of each
        endpoints = BuiltinDataReader(listener, builtin)
        samples = poll(lambda r=endpoints: [s for s in r.take(N=64) if s.topic_name.startswith("rt/probe")], bool)
        found |= {s.topic_name: s.qos[Policy.Userdata].data for s in samples}
    assert found == {
        dds_topic_name("/probe/state"): f"typehash={TYPE_HASHES['sensor_msgs/msg/JointState']};".encode(),
        dds_topic_name("/probe/cmd"): f"typehash={TYPE_HASHES['std_msgs/msg/Float64MultiArray']};".encode(),
    }


@pytest.mark.ros
@pytest.mark.timeout(60)
def test_rclpy_sees_dds_node_its_endpoints_and_type_hashes(ros_venv, probe):
    (graph,) = ros_venv.run(
        "graph_probe.py",
        PROBE,
        "/probe/state",
        "sensor_msgs/msg/JointState",
        DISCOVERY_TIMEOUT_S,
        timeout_s=DISCOVERY_TIMEOUT_S + 20,
    )
    assert [PROBE, "/"] in graph["nodes"]
    assert [PROBE, "/", "/"] in graph["enclaves"]
    assert graph["publishers"] == [["/probe/state", ["sensor_msgs/msg/JointState"]]]
    assert graph["subscriptions"] == [["/probe/cmd", ["std_msgs/msg/Float64MultiArray"]]]
    (info,) = graph["publisher_info"]
    assert (info["node_name"], info["node_namespace"]) == (PROBE, "/")  # not _CREATED_BY_BARE_DDS_APP_
    assert info["gid"] == probe._writers[0].guid.bytes.hex()
    # the hash we send is the one rclpy itself computes for the type
    assert info["type_hash"] == graph["reference_type_hash"] == TYPE_HASHES["sensor_msgs/msg/JointState"]
