"""The transport interface: what a node needs from a middleware, and nothing more.

Node code (`robot_rl.deploy.nodes`) is written against `Transport` only and runs unchanged on rclpy
(`robot_rl.deploy.transport.ros`) and on CycloneDDS speaking the ROS 2 wire format (`...transport.dds`).

Messages are the dataclasses of `robot_rl.deploy.msgs` on both transports; the rclpy transport converts them to and
from the generated rclpy classes at the boundary. Callbacks run in the thread that calls `spin_once`, never
concurrently, so node state needs no locks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class QoS:
    """The subset of ROS 2 QoS the nodes use (history is always KEEP_LAST)."""

    reliable: bool
    depth: int
    transient_local: bool = False


SENSOR_QOS = QoS(reliable=False, depth=5)
"""ROS 2 `qos_profile_sensor_data`: best effort, keep last 5 (state topics)."""
COMMAND_QOS = QoS(reliable=True, depth=10)
"""ROS 2 default: reliable, keep last 10 (commands, enable/e-stop, diagnostics)."""
LATCHED_QOS = QoS(reliable=True, depth=1, transient_local=True)
"""Reliable, transient local, keep last 1: late joiners get the last value (goals, e-stop state)."""
LOG_QOS = QoS(reliable=True, depth=100, transient_local=True)
"""Reliable, transient local, keep last 100: the per-tick log records. A recorder whose reader matched the
controller's writer a few ticks late (discovery runs concurrently with the first ticks) still gets every record."""


class Publisher(Protocol):
    """A typed publisher."""

    def publish(self, msg: Any) -> None:  # noqa: ANN401 - any message dataclass of robot_rl.deploy.msgs
        """Send one message."""


class Transport(Protocol):
    """One node's connection to the middleware."""

    name: str
    """'dds' or 'rclpy'."""

    def create_publisher(self, topic: str, msg_type: type, qos: QoS) -> Publisher:
        """A publisher of `msg_type` (a `robot_rl.deploy.msgs` dataclass) on ROS topic `topic` (e.g. '/odom')."""

    def create_subscription(self, topic: str, msg_type: type, callback: Callable[[Any], None], qos: QoS) -> None:
        """Call `callback(msg)` from `spin_once` for each message received on `topic`."""

    def spin_once(self, timeout_s: float) -> None:
        """Deliver pending messages to their callbacks, waiting at most `timeout_s` seconds for the first."""

    def now_ns(self) -> int:
        """The node's ROS time in ns: wall clock, or the last `/clock` value when `use_sim_time` is set."""

    def parameters(self) -> Mapping[str, Any]:
        """The node's parameters (from the parameter YAML or ROS 2 launch), nested as in the YAML."""

    def serialize(self, msg: Any) -> bytes:  # noqa: ANN401 - any message dataclass of robot_rl.deploy.msgs
        """CDR bytes of `msg` as rosbag2 stores them (4-byte encapsulation header, little endian)."""

    def shutdown(self) -> None:
        """Destroy every entity of this node and leave the middleware."""
