"""`robot-rl topic pub|echo`: what `ros2 topic pub/echo` do, for machines without ROS 2 (CycloneDDS transport).

    robot-rl topic pub /robot_rl/enable std_msgs/msg/Bool "{data: true}"
    robot-rl topic pub /robot_rl/estop std_msgs/msg/Bool "{data: true}" --latched
    robot-rl topic echo /diagnostics diagnostic_msgs/msg/DiagnosticArray --count 1

Messages are written as YAML mappings with the ROS 2 field names (nested messages as nested mappings, sequences as
lists); fields left out keep their defaults. Errors name the field and the type expected.
"""

from __future__ import annotations

import dataclasses
import time
import typing
from collections.abc import Callable, Mapping
from typing import Any

import yaml

from robot_rl.deploy.msgs import message_type
from robot_rl.deploy.transport import COMMAND_QOS, LATCHED_QOS, SENSOR_QOS, QoS, Transport

DISCOVERY_S = 1.0
"""Time given to discovery before the first publish, s."""


def message_from_mapping(msg_type: type, values: Mapping[str, Any], where: str = "") -> Any:  # noqa: ANN401
    """An instance of message dataclass `msg_type` with `values` (nested mappings for nested messages).

    Raises:
        ValueError: an unknown field, or a value that does not fit the field's type (the field path is named).

    """
    if not isinstance(values, Mapping):
        raise ValueError(f"{where or msg_type.__name__}: expected a mapping of fields, got {values!r}")
    hints = typing.get_type_hints(msg_type)
    unknown = sorted(set(values) - set(hints))
    if unknown:
        raise ValueError(f"{where or msg_type.__name__}: unknown fields {unknown}; fields: {list(hints)}")
    return msg_type(**{k: _value(hints[k], v, f"{where}{k}") for k, v in values.items()})


def _value(hint: Any, value: Any, where: str) -> Any:  # noqa: ANN401 - any field type
    if dataclasses.is_dataclass(hint):
        return message_from_mapping(hint, value, f"{where}.")
    if typing.get_origin(hint) is not None:  # Sequence[X] (also fixed arrays)
        if not isinstance(value, list):
            raise ValueError(f"{where}: expected a list, got {value!r}")
        (item,) = typing.get_args(hint)
        return [_value(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    kind = hint if isinstance(hint, type) else type(hint)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind in (int, float) and isinstance(value, bool)):
        raise ValueError(f"{where}: expected {kind.__name__}, got {value!r}")
    return value


def message_to_mapping(msg: Any) -> dict[str, Any]:  # noqa: ANN401 - any message dataclass
    """The message as plain YAML-ready data (nested dicts and lists)."""
    return dataclasses.asdict(msg)


def publish(transport: Transport, topic: str, type_name: str, values: str, times: int, rate_hz: float,
            latched: bool) -> Any:  # noqa: ANN401 - the message sent
    """Publish the YAML `values` as `type_name` on `topic` `times` times at `rate_hz` (after discovery).

    A latched publisher (transient local) also serves subscribers that join while it lingers, as `ros2 topic pub
    --qos-durability transient_local` does; it stays 1 s after the last message.
    """
    msg_type = message_type(type_name)
    data = yaml.safe_load(values) if values.strip() else {}
    msg = message_from_mapping(msg_type, data or {})
    publisher = transport.create_publisher(topic, msg_type, LATCHED_QOS if latched else COMMAND_QOS)
    _spin_for(transport, DISCOVERY_S)
    for i in range(times):
        publisher.publish(msg)
        if i + 1 < times:
            _spin_for(transport, 1.0 / rate_hz)
    _spin_for(transport, 1.0 if latched else 0.2)
    return msg


def echo(transport: Transport, topic: str, type_name: str, count: int, best_effort: bool,
         printer: Callable[[str], None] = print, timeout_s: float | None = None) -> int:
    """Print each message on `topic` as YAML (`---` separated) until `count` arrived (0: until the timeout)."""
    received = []
    qos: QoS = SENSOR_QOS if best_effort else COMMAND_QOS

    def on_message(msg: Any) -> None:  # noqa: ANN401 - the topic's message type
        received.append(msg)
        printer(yaml.safe_dump(message_to_mapping(msg), sort_keys=False).rstrip() + "\n---")

    transport.create_subscription(topic, message_type(type_name), on_message, qos)
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while (count == 0 or len(received) < count) and (deadline is None or time.monotonic() < deadline):
        transport.spin_once(0.1)
    return len(received)


def _spin_for(transport: Transport, seconds: float) -> None:
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        transport.spin_once(min(left, 0.05))
