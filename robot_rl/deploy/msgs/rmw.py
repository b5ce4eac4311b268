"""rmw_dds_common types (ROS 2 Jazzy) as CycloneDDS IDL structs: the ROS graph announcement on `ros_discovery_info`.

Every ROS 2 participant publishes one `ParticipantEntitiesInfo` naming its nodes and, per node, the GUIDs of its
readers and writers; `ros2 node list` and rclpy's graph queries are built from these (see `transport.ros_graph`).
Jazzy's `Gid` is `char[16]` (a 16-byte DDS GUID; Humble and older used 24 bytes); `char` is `uint8` on the wire.
"""

from dataclasses import dataclass, field

import cyclonedds.idl.types as t
from cyclonedds.idl import IdlStruct

GID_SIZE = 16
"""Bytes in a Jazzy `rmw_dds_common/msg/Gid`: a DDS GUID (12-byte prefix + 4-byte entity id)."""


@dataclass
class Gid(IdlStruct, typename="rmw_dds_common::msg::dds_::Gid_"):
    """rmw_dds_common/msg/Gid: the GUID of a participant, reader or writer."""

    data: t.array[t.uint8, GID_SIZE] = bytes(GID_SIZE)


@dataclass
class NodeEntitiesInfo(IdlStruct, typename="rmw_dds_common::msg::dds_::NodeEntitiesInfo_"):
    """rmw_dds_common/msg/NodeEntitiesInfo: one node and the GUIDs of its readers and writers."""

    node_namespace: t.bounded_str[256] = ""
    node_name: t.bounded_str[256] = ""
    reader_gid_seq: t.sequence[Gid] = field(default_factory=list)
    writer_gid_seq: t.sequence[Gid] = field(default_factory=list)


@dataclass
class ParticipantEntitiesInfo(IdlStruct, typename="rmw_dds_common::msg::dds_::ParticipantEntitiesInfo_"):
    """rmw_dds_common/msg/ParticipantEntitiesInfo: a participant's GUID and the nodes it hosts."""

    gid: Gid = field(default_factory=Gid)
    node_entities_info_seq: t.sequence[NodeEntitiesInfo] = field(default_factory=list)
