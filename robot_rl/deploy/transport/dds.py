"""`Transport` on CycloneDDS alone, speaking the ROS 2 wire format (no ROS 2 installation needed).

What makes a plain DDS entity interoperate with rmw_cyclonedds_cpp nodes:

- topic `rt/<ros name without leading slash>` ('/odom' -> 'rt/odom');
- type name `<pkg>::msg::dds_::<Msg>_` (the `typename` of every `robot_rl.deploy.msgs` class);
- XCDR1 ("CDR v0") data representation on writers and readers, as rmw_cyclonedds offers and requests;
- KEEP_LAST history, best effort or reliable, volatile or transient local, from `QoS`;
- for the ROS graph (`ros2 node list`, rclpy's per-node endpoint queries, type hashes): the node announcement on
  `ros_discovery_info` and the USER_DATA strings of `ros_graph`.

Writers and readers encode and decode through the message classes' `serialize`/`deserialize`, which for the hot
types (JointState, Float64MultiArray, Odometry, ...) are the byte-identical fast codecs of `msgs.fastcdr`.

One DomainParticipant per node, on domain `ROS_DOMAIN_ID` (default 0). `spin_once` waits on one WaitSet holding a
ReadCondition per reader and runs the callbacks in the calling thread. With parameter `use_sim_time` true the node's
clock is the last `/clock` message (subscribed best effort, depth 1, like rclpy's TimeSource; 0 before the first).

Call `robot_rl.deploy.network.confine_to_localhost()` (or set `CYCLONEDDS_URI`) before importing this module when
traffic must stay on this machine: CycloneDDS reads its configuration once, when the first participant is created.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from typing import Any

from cyclonedds.core import GuardCondition, InstanceState, Policy, Qos, ReadCondition, SampleState, ViewState, WaitSet
from cyclonedds.domain import DomainParticipant
from cyclonedds.idl._support import Endianness
from cyclonedds.internal import InvalidSample
from cyclonedds.pub import DataWriter
from cyclonedds.sub import DataReader
from cyclonedds.topic import Topic
from cyclonedds.util import duration

from robot_rl.deploy.msgs import Clock, ns_from_stamp, ros_type_name
from robot_rl.deploy.msgs.fastcdr import CDR_LE_HEADER  # noqa: F401 - the header serialize() produces
from robot_rl.deploy.transport.base import QoS
from robot_rl.deploy.transport.ros_graph import PARTICIPANT_USER_DATA, GraphAnnouncer, endpoint_user_data

"""Encapsulation header of plain (XCDR1) little-endian CDR: what ROS 2 puts on the wire and in rosbag2 files."""
CLOCK_TOPIC = "/clock"
CLOCK_QOS = QoS(reliable=False, depth=1)
"""rclpy TimeSource subscribes /clock best effort, keep last 1 (matches reliable and best-effort publishers)."""
_ANY_STATE = SampleState.Any | ViewState.Any | InstanceState.Any
_TAKE_BATCH = 64
_RELIABLE_MAX_BLOCKING = duration(milliseconds=100)


def dds_topic_name(topic: str) -> str:
    """The DDS topic of ROS topic `topic`: '/odom' -> 'rt/odom' (relative names resolve to the root namespace)."""
    name = topic.lstrip("/")
    if not name:
        raise ValueError(f"invalid ROS topic name {topic!r}")
    return f"rt/{name}"


def dds_qos(qos: QoS, msg_type: type | None = None) -> Qos:
    """CycloneDDS QoS for reader or writer equivalent to the ROS 2 profile `qos`, with XCDR1 representation.

    With `msg_type`, USER_DATA carries its ROS type hash (`typehash=RIHS01_...;`) as rmw puts it on every endpoint.
    """
    policies = [
        Policy.Reliability.Reliable(max_blocking_time=_RELIABLE_MAX_BLOCKING)
        if qos.reliable
        else Policy.Reliability.BestEffort,
        Policy.History.KeepLast(depth=qos.depth),
        Policy.Durability.TransientLocal if qos.transient_local else Policy.Durability.Volatile,
        Policy.DataRepresentation(use_cdrv0_representation=True),
    ]
    user_data = None if msg_type is None else endpoint_user_data(msg_type)
    if user_data is not None:
        policies.append(user_data)
    return Qos(*policies)


class DdsPublisher:
    """A `Publisher` writing one message class to one DDS topic."""

    __slots__ = ("_write", "topic")

    def __init__(self, writer: DataWriter, topic: str) -> None:
        self._write = writer.write
        self.topic = topic

    def publish(self, msg: Any) -> None:
        """Send one message (a TypeError if it is not this publisher's message class)."""
        self._write(msg)


class _Subscription:
    """A reader, its ReadCondition and the user callback."""

    __slots__ = ("callback", "condition", "reader")

    def __init__(self, reader: DataReader, callback: Callable[[Any], None]) -> None:
        self.reader = reader
        self.condition = ReadCondition(reader, _ANY_STATE)
        self.callback = callback

    def deliver(self) -> None:
        """Take every available sample and call the callback on each valid one."""
        while True:
            samples = self.reader.take(N=_TAKE_BATCH, condition=self.condition)
            for sample in samples:
                if not isinstance(sample, InvalidSample):  # unregister/dispose notices carry no data
                    self.callback(sample)
            if len(samples) < _TAKE_BATCH:
                return


class DdsTransport:
    """One ROS-2-compatible node on CycloneDDS: publishers, subscriptions, a clock and a spin."""

    name = "dds"

    def __init__(self, node_name: str, parameters: Mapping[str, Any] | None = None) -> None:
        """Join the DDS domain `ROS_DOMAIN_ID` (default 0) as node `node_name`.

        Args:
            node_name: the ROS node name, announced in the ROS graph (namespace "/") and used in `repr`.
            parameters: the node's parameters, nested as in the parameter YAML; `use_sim_time: true` makes
                `now_ns` follow `/clock`.

        """
        self.node_name = node_name
        self._parameters: dict[str, Any] = dict(parameters or {})
        self.domain_id = int(os.environ.get("ROS_DOMAIN_ID") or 0)
        self._participant = DomainParticipant(self.domain_id, qos=Qos(PARTICIPANT_USER_DATA))
        self._graph = GraphAnnouncer(self._participant, node_name)
        self._waitset = WaitSet(self._participant)
        # An empty WaitSet returns at once instead of timing out; a never-triggered guard makes it wait.
        self._idle_guard = GuardCondition(self._participant)
        self._waitset.attach(self._idle_guard)
        self._topics: dict[str, Topic] = {}
        self._writers: list[DataWriter] = []
        self._subscriptions: list[_Subscription] = []
        self._sim_time = bool(self._parameters.get("use_sim_time", False))
        self._clock_ns = 0
        self._closed = False
        if self._sim_time:  # the first subscription: each spin advances the clock before other callbacks run
            self.create_subscription(CLOCK_TOPIC, Clock, self._on_clock, CLOCK_QOS)

    def __repr__(self) -> str:
        return f"DdsTransport({self.node_name!r}, domain={self.domain_id})"

    def _topic(self, topic: str, msg_type: type) -> Topic:
        ros_type_name(msg_type)  # a TypeError for anything that is not a ROS 2 message class
        name = dds_topic_name(topic)
        existing = self._topics.get(name)
        if existing is None:
            existing = self._topics[name] = Topic(self._participant, name, msg_type)
        elif existing.data_type is not msg_type:
            raise TypeError(f"{topic} is already used with {existing.data_type.__name__}, not {msg_type.__name__}")
        return existing

    def create_publisher(self, topic: str, msg_type: type, qos: QoS) -> DdsPublisher:
        """A publisher of `msg_type` on ROS topic `topic` (e.g. '/odom')."""
        writer = DataWriter(self._participant, self._topic(topic, msg_type), qos=dds_qos(qos, msg_type))
        self._writers.append(writer)
        self._graph.add_writer(writer)
        return DdsPublisher(writer, topic)

    def create_subscription(self, topic: str, msg_type: type, callback: Callable[[Any], None], qos: QoS) -> None:
        """Call `callback(msg)` from `spin_once` for each message received on ROS topic `topic`."""
        reader = DataReader(self._participant, self._topic(topic, msg_type), qos=dds_qos(qos, msg_type))
        self._graph.add_reader(reader)
        subscription = _Subscription(reader, callback)
        self._waitset.attach(subscription.condition)
        self._subscriptions.append(subscription)

    def spin_once(self, timeout_s: float) -> None:
        """Deliver pending messages to their callbacks, waiting at most `timeout_s` seconds for the first."""
        if self._closed:
            raise RuntimeError(f"{self!r} is shut down")
        if self._waitset.wait(max(0, int(timeout_s * 1e9))) == 0:
            return
        for subscription in tuple(self._subscriptions):  # callbacks may subscribe to more topics
            subscription.deliver()

    def now_ns(self) -> int:
        """Wall clock in ns, or the last `/clock` value when `use_sim_time` is set (0 before the first)."""
        return self._clock_ns if self._sim_time else time.time_ns()

    def _on_clock(self, msg: Clock) -> None:
        self._clock_ns = ns_from_stamp(msg.clock)

    def parameters(self) -> Mapping[str, Any]:
        """The parameters given to the constructor."""
        return self._parameters

    def serialize(self, msg: Any) -> bytes:
        """XCDR1 little-endian bytes of `msg` with the 4-byte encapsulation header, as rosbag2 stores them."""
        return msg.serialize(endianness=Endianness.Little, use_version_2=False)

    def shutdown(self) -> None:
        """Delete every DDS entity of this node, children before parents; idempotent."""
        if self._closed:
            return
        self._closed = True
        self._graph.withdraw()
        entities: list[Any] = [self._waitset, self._idle_guard]
        for subscription in self._subscriptions:
            entities += [subscription.condition, subscription.reader]
        entities += [*self._writers, *self._graph.entities(), *self._topics.values(), self._participant]
        for entity in entities:
            entity.__del__()  # dds_delete now, and unregister so the later GC finalizer is a no-op
        self._subscriptions.clear()
        self._writers.clear()
        self._topics.clear()
