"""An in-process `Transport` for deterministic node tests: synchronous delivery and a clock the test sets.

Test-only. Messages published on a topic go to every subscription of that topic (of any `MemoryTransport` sharing
the same `MemoryBus`) at once; transient-local topics replay their last message to late subscribers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from robot_rl.deploy.transport import QoS


class MemoryBus:
    """Topics shared by the transports of one test."""

    def __init__(self) -> None:
        self.subscribers: dict[str, list[Callable[[Any], None]]] = defaultdict(list)
        self.latched: dict[str, Any] = {}
        self.log: list[tuple[str, Any]] = []
        self.now_ns = 1_000_000_000

    def messages(self, topic: str) -> list[Any]:
        return [m for t, m in self.log if t == topic]


class _Publisher:
    def __init__(self, bus: MemoryBus, topic: str, qos: QoS) -> None:
        self.bus, self.topic, self.qos = bus, topic, qos

    def publish(self, msg: Any) -> None:
        self.bus.log.append((self.topic, msg))
        if self.qos.transient_local:
            self.bus.latched[self.topic] = msg
        for callback in list(self.bus.subscribers[self.topic]):
            callback(msg)


class MemoryTransport:
    name = "memory"

    def __init__(self, bus: MemoryBus) -> None:
        self.bus = bus

    def create_publisher(self, topic: str, msg_type: type, qos: QoS) -> _Publisher:
        return _Publisher(self.bus, topic, qos)

    def create_subscription(self, topic: str, msg_type: type, callback: Callable[[Any], None], qos: QoS) -> None:
        self.bus.subscribers[topic].append(callback)
        if qos.transient_local and topic in self.bus.latched:
            callback(self.bus.latched[topic])

    def spin_once(self, timeout_s: float) -> None:
        pass

    def now_ns(self) -> int:
        return self.bus.now_ns

    def parameters(self) -> dict:
        return {}

    def shutdown(self) -> None:
        pass
