"""A plain rclpy peer (no project code), run inside .venv-ros: publish or subscribe one topic, messages as JSON.

Reads one JSON document from stdin:
    {"mode": "pub" | "sub", "topic": "/x", "type": "sensor_msgs/msg/JointState", "reliable": true, "depth": 10,
     "transient_local": false, "messages": [{...}, ...] (pub), "count": 3 (sub), "timeout_s": 15}

pub: prints {"event": "matched"} once a subscriber is matched, then publishes `messages` in turn every 20 ms until
     stdin closes or `timeout_s` passes (the test stops it once its subscriber has what it expects).
sub: prints {"event": "ready"}, then {"event": "msg", "data": {...}} for each message received, and exits after
     `count` messages (exit code 0) or after `timeout_s` (exit code 3).
"""

import importlib
import json
import select
import sys
import time

import rclpy
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rosidl_parser.definition import AbstractNestedType, NamespacedType


def message_class(name):
    package, _, cls = name.split("/")
    return getattr(importlib.import_module(f"{package}.msg"), cls)


def to_dict(msg):
    """Generated rclpy message -> JSON-able dict (arrays as lists, 1-byte bytes as ints)."""
    out = {}
    for field in msg.get_fields_and_field_types():
        value = getattr(msg, field)
        if hasattr(value, "get_fields_and_field_types"):
            value = to_dict(value)
        elif isinstance(value, bytes):
            value = value[0] if len(value) == 1 else list(value)
        elif hasattr(value, "tolist"):
            value = value.tolist()
        elif isinstance(value, list):
            value = [to_dict(v) if hasattr(v, "get_fields_and_field_types") else v for v in value]
        out[field] = value
    return out


def from_dict(cls, data):
    """JSON dict -> generated rclpy message of class `cls` (unset fields keep their defaults)."""
    msg = cls()
    slots = dict(zip(cls.get_fields_and_field_types(), cls.SLOT_TYPES, strict=True))
    for field, value in data.items():
        slot = slots[field]
        if isinstance(slot, NamespacedType):
            value = from_dict(message_class("/".join([*slot.namespaces, slot.name])), value)
        elif isinstance(slot, AbstractNestedType) and isinstance(slot.value_type, NamespacedType):
            item = message_class("/".join([*slot.value_type.namespaces, slot.value_type.name]))
            value = [from_dict(item, v) for v in value]
        setattr(msg, field, value)
    return msg


def emit(**event):
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def main():
    spec = json.loads(sys.stdin.readline())
    cls = message_class(spec["type"])
    qos = QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=spec.get("depth", 10),
        reliability=ReliabilityPolicy.RELIABLE if spec.get("reliable", True) else ReliabilityPolicy.BEST_EFFORT,
        durability=DurabilityPolicy.TRANSIENT_LOCAL if spec.get("transient_local") else DurabilityPolicy.VOLATILE,
    )
    deadline = time.monotonic() + spec.get("timeout_s", 15)
    rclpy.init()
    node = rclpy.create_node("rclpy_peer")
    if spec["mode"] == "pub":
        publisher = node.create_publisher(cls, spec["topic"], qos)
        messages = [from_dict(cls, m) for m in spec["messages"]]
        while publisher.get_subscription_count() == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        emit(event="matched" if publisher.get_subscription_count() else "timeout")
        index = 0
        while time.monotonic() < deadline and not select.select([sys.stdin], [], [], 0.02)[0]:
            publisher.publish(messages[index % len(messages)])
            index += 1
        code = 0
    else:
        received = []
        node.create_subscription(cls, spec["topic"], lambda msg: received.append(msg), qos)
        emit(event="ready")
        emitted = 0
        while emitted < spec["count"] and time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.05)
            for msg in received[emitted:]:
                emit(event="msg", data=to_dict(msg))
            emitted = len(received)
        code = 0 if emitted >= spec["count"] else 3
    node.destroy_node()
    rclpy.shutdown()
    sys.exit(code)


if __name__ == "__main__":
    main()
