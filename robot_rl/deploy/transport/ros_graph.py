"""Make a plain CycloneDDS participant visible in the ROS 2 graph, as rmw_dds_common does for every rmw node.

ROS 2 tools do not derive nodes from DDS discovery: each participant publishes one
`rmw_dds_common/msg/ParticipantEntitiesInfo` on DDS topic `ros_discovery_info` (no `rt/` prefix; reliable,
transient local, keep last 1), listing its nodes and each node's reader and writer GIDs. A GID is the entity's
16-byte DDS GUID (Jazzy; 24 bytes before Iron). Without it `ros2 node list` misses the node and rclpy reports its
endpoints under node `_CREATED_BY_BARE_DDS_APP_`.

Two USER_DATA strings complete the picture, both `key=value;` as rmw_dds_common encodes them:
`enclave=/;` on the participant (rclpy's `get_node_names_and_namespaces_with_enclaves`) and
`typehash=RIHS01_<hex>;` on each reader and writer (the type hash rclpy reports; INVALID without it).

`GraphAnnouncer` republishes the whole announcement on every new endpoint: a node has a handful of endpoints, and
one message per creation (~100 bytes + 16 per endpoint, ~50 us) is what rmw does too.
"""

from __future__ import annotations

from cyclonedds.core import Entity, Policy, Qos
from cyclonedds.domain import DomainParticipant
from cyclonedds.pub import DataWriter
from cyclonedds.topic import Topic
from cyclonedds.util import duration

from robot_rl.deploy.msgs import ros_type_name
from robot_rl.deploy.msgs.rmw import Gid, NodeEntitiesInfo, ParticipantEntitiesInfo
from robot_rl.deploy.msgs.type_hashes import TYPE_HASHES

DISCOVERY_TOPIC = "ros_discovery_info"
"""The DDS topic of the ROS graph announcements (rmw_dds_common; no `rt/` prefix: it is not a ROS topic)."""
DISCOVERY_QOS = Qos(
    Policy.Reliability.Reliable(max_blocking_time=duration(milliseconds=100)),
    Policy.History.KeepLast(depth=1),
    Policy.Durability.TransientLocal,
    Policy.DataRepresentation(use_cdrv0_representation=True),
)
"""rmw_dds_common's `qos_profile_rmw_dds_common`: late joiners get each participant's latest announcement."""
PARTICIPANT_USER_DATA = Policy.Userdata(data=b"enclave=/;")
"""USER_DATA of a participant created by rmw outside any security enclave."""


def gid(entity: Entity) -> Gid:
    """The ROS GID of a DDS participant, reader or writer: its GUID (prefix, then entity id, as on the wire)."""
    return Gid(data=entity.guid.bytes)


def endpoint_user_data(msg_type: type) -> Policy.Userdata | None:
    """`typehash=RIHS01_<hex>;` for a reader or writer of `msg_type`; None for a type without a known hash."""
    type_hash = TYPE_HASHES.get(ros_type_name(msg_type))
    return None if type_hash is None else Policy.Userdata(data=f"typehash={type_hash};".encode())


class GraphAnnouncer:
    """Publishes one node's `ParticipantEntitiesInfo` on `ros_discovery_info`, again whenever an endpoint is added."""

    def __init__(self, participant: DomainParticipant, node_name: str, namespace: str = "/") -> None:
        """Announce node `namespace` + `node_name` (no endpoints yet) from `participant`."""
        self._topic = Topic(participant, DISCOVERY_TOPIC, ParticipantEntitiesInfo)
        self._writer = DataWriter(participant, self._topic, qos=DISCOVERY_QOS)
        self._node = NodeEntitiesInfo(node_namespace=namespace, node_name=node_name)
        self._info = ParticipantEntitiesInfo(gid=gid(participant), node_entities_info_seq=[self._node])
        self._publish()

    def add_reader(self, reader: Entity) -> None:
        """Add a DataReader to the node's readers and republish."""
        self._node.reader_gid_seq.append(gid(reader))
        self._publish()

    def add_writer(self, writer: Entity) -> None:
        """Add a DataWriter to the node's writers and republish."""
        self._node.writer_gid_seq.append(gid(writer))
        self._publish()

    def withdraw(self) -> None:
        """Announce the participant with no nodes, as rmw does when a node is destroyed (call before deleting).

        Peers drop the node at once instead of when they notice the participant is gone (~10 s for Fast DDS).
        """
        self._info = ParticipantEntitiesInfo(gid=self._info.gid)
        self._publish()

    def _publish(self) -> None:
        self._writer.write(self._info)

    def entities(self) -> list[Entity]:
        """The DDS entities this announcer created, children first (for deletion)."""
        return [self._writer, self._topic]
