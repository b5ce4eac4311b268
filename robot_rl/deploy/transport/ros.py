"""`Transport` on rclpy: the nodes' messages converted to and from the generated rclpy classes at the boundary.

Node code sees only `robot_rl.deploy.msgs` dataclasses. For each dataclass used, a pair of converters is generated
once from the rclpy class's introspection (`SLOT_TYPES`), matching fields by name:

- basic fields and strings are copied; `byte` fields are ints here and 1-byte `bytes` in rclpy;
- sequences of numbers become `array.array` in rclpy and fixed arrays `numpy.ndarray` of the rosidl type, as the
  generated setters would store them; both come back as lists (`tolist()`);
- nested messages and sequences of messages convert recursively with their own converters.

The converters are plain Python functions generated from source text (as `dataclasses` does for `__init__`), so a
message converts with one object per nested message and no per-field dispatch at run time.

Each transport owns its rclpy `Context`, node and `SingleThreadedExecutor`. `rclpy.init` reads ROS arguments from
`sys.argv` (remappings, `--params-file` from `ros2 launch`), so parameters come from there and from `parameters`.
This module imports rclpy when it is imported: `make_transport('rclpy', ...)` loads it only on demand.
"""

from __future__ import annotations

import importlib
import sys
from array import array
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields
from typing import Any

import numpy
import rclpy
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.serialization import serialize_message
from rclpy.signals import SignalHandlerOptions
from rosidl_parser.definition import AbstractGenericString, AbstractNestedType, Array, BasicType, NamespacedType

from robot_rl.deploy.msgs import MESSAGE_TYPES, ros_type_name
from robot_rl.deploy.transport.base import QoS

BUILTIN_PARAMETERS = {"use_sim_time": False, "start_type_description_service": True}
"""Parameters every rclpy node declares, with their defaults: reported by `parameters()` only when given or changed
(the CycloneDDS transport has none of them, and node code sees the same mapping on both)."""
_MAX_DRAIN = 1000
"""At most this many further waits per `spin_once` after the first (a bound against a flood, not a rate limit)."""


def qos_profile(qos: QoS) -> QoSProfile:
    """The rclpy profile of `qos`: KEEP_LAST `depth`, reliable or best effort, volatile or transient local."""
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=qos.depth,
        reliability=ReliabilityPolicy.RELIABLE if qos.reliable else ReliabilityPolicy.BEST_EFFORT,
        durability=DurabilityPolicy.TRANSIENT_LOCAL if qos.transient_local else DurabilityPolicy.VOLATILE,
    )


def rclpy_message_class(msg_type: type) -> type:
    """The generated rclpy class of a `robot_rl.deploy.msgs` class ('sensor_msgs/msg/Imu' -> sensor_msgs.msg.Imu).

    Raises:
        LookupError: the ROS 2 interface package is not installed (or not sourced).

    """
    package, _, name = ros_type_name(msg_type).split("/")
    try:
        return getattr(importlib.import_module(f"{package}.msg"), name)
    except (ImportError, AttributeError) as error:
        raise LookupError(
            f"rclpy class {package}.msg.{name} for {msg_type.__name__} not found: install and source the ROS 2 "
            f"package {package} (e.g. apt install ros-$ROS_DISTRO-{package.replace('_', '-')})"
        ) from error


NUMERIC_TYPECODES = {
    "float": "f", "double": "d", "int8": "b", "uint8": "B", "int16": "h",
    "uint16": "H", "int32": "i", "uint32": "I", "int64": "q", "uint64": "Q",
}  # fmt: skip
"""rosidl basic type -> `array.array` type code of its sequences; fixed arrays are numpy arrays of the same type
(rosidl_generator_py's SPECIAL_NESTED_BASIC_TYPES, which its C serializers rely on)."""
_NUMPY_DTYPES = {
    "f": numpy.float32, "d": numpy.float64, "b": numpy.int8, "B": numpy.uint8, "h": numpy.int16,
    "H": numpy.uint16, "i": numpy.int32, "I": numpy.uint32, "q": numpy.int64, "Q": numpy.uint64,
}  # fmt: skip


def _fixed(values: Sequence[float], size: int, dtype: type) -> numpy.ndarray:
    """A fixed-size array field as rclpy stores it; rclpy's C serializer copies `size` items whatever the length."""
    out = numpy.array(values, dtype=dtype)
    if out.shape != (size,):
        raise ValueError(f"fixed-size array field needs {size} values, got shape {out.shape}")
    return out


class Converter:
    """Converts one message class to its rclpy class (`to_ros`) and back (`from_ros`); build with `converter()`.

    `to_ros` fills the rclpy object's slots directly (`R.__new__` plus `r._field = ...`): the generated
    `__init__` builds a default for every nested field even when a value is given, which makes the conversion
    several times slower.
    The values stored are exactly what the generated setters would store (array.array, numpy.ndarray, bytes).
    `source` holds the generated Python text of both functions, for reading and debugging.
    """

    __slots__ = ("from_ros", "msg_type", "ros_type", "source", "to_ros")

    def __init__(self, msg_type: type, ros_type: type, source: str, namespace: dict[str, Any]) -> None:
        self.msg_type = msg_type
        self.ros_type = ros_type
        self.source = source
        exec(compile(source, f"<converter {ros_type_name(msg_type)}>", "exec"), namespace)  # noqa: S102
        self.to_ros: Callable[[Any], Any] = namespace["to_ros"]
        self.from_ros: Callable[[Any], Any] = namespace["from_ros"]


_CONVERTERS: dict[type, Converter] = {}


def converter(msg_type: type) -> Converter:
    """The (cached) converter pair of message class `msg_type`, built with those of its nested messages.

    Raises:
        LookupError: no rclpy class for `msg_type` (see `rclpy_message_class`).
        TypeError: the field names differ from the ROS definition, or a field type is not supported.

    """
    existing = _CONVERTERS.get(msg_type)
    if existing is not None:
        return existing
    ros_type = rclpy_message_class(msg_type)
    ros_fields = list(ros_type.get_fields_and_field_types())
    our_fields = [f.name for f in fields(msg_type)]
    if ros_fields != our_fields:
        raise TypeError(f"{msg_type.__name__} fields {our_fields} differ from {ros_type_name(msg_type)} {ros_fields}")
    namespace: dict[str, Any] = {"M": msg_type, "R": ros_type, "new": object.__new__, "array": array, "fixed": _fixed}
    to_lines = ["def to_ros(m):", "    r = new(R)"]
    if "_check_fields" in ros_type.__slots__:  # Jazzy and later: setters check values only when asked to
        to_lines.append("    r._check_fields = False")
    from_args = []
    for index, (name, slot) in enumerate(zip(ros_fields, ros_type.SLOT_TYPES, strict=True)):
        to_expr, from_expr = _field_exprs(slot, f"m.{name}", f"r._{name}", f"c{index}", namespace)
        to_lines.append(f"    r._{name} = {to_expr}")
        from_args.append(f"{name}={from_expr}")
    to_lines.append("    return r")
    source = "\n".join([*to_lines, "def from_ros(r):", f"    return M({', '.join(from_args)})", ""])
    _CONVERTERS[msg_type] = conv = Converter(msg_type, ros_type, source, namespace)
    return conv


def _nested_converter(slot: NamespacedType, key: str, namespace: dict[str, Any]) -> None:
    name = "/".join([*slot.namespaces, slot.name])
    if name not in MESSAGE_TYPES:
        raise TypeError(f"nested message {name} has no class in robot_rl.deploy.msgs")
    conv = converter(MESSAGE_TYPES[name])
    namespace[f"{key}_to"], namespace[f"{key}_from"] = conv.to_ros, conv.from_ros


def _field_exprs(slot: Any, ours: str, theirs: str, key: str, namespace: dict[str, Any]) -> tuple[str, str]:
    """Python expressions converting one field: (ours -> rclpy, rclpy -> ours); adds what they call to `namespace`."""
    if isinstance(slot, NamespacedType):
        _nested_converter(slot, key, namespace)
        return f"{key}_to({ours})", f"{key}_from({theirs})"
    if isinstance(slot, AbstractGenericString):
        return ours, theirs
    if isinstance(slot, BasicType):
        if slot.typename == "octet":  # rclpy: bytes of length 1; ours: int 0..255
            return f"bytes(({ours},))", f"{theirs}[0]"
        return ours, theirs
    if not isinstance(slot, AbstractNestedType):
        raise TypeError(f"unsupported rosidl field type {slot!r}")
    item = slot.value_type  # Array (fixed size), BoundedSequence or UnboundedSequence of `item`
    if isinstance(item, NamespacedType):
        _nested_converter(item, key, namespace)
        return f"[{key}_to(x) for x in {ours}]", f"[{key}_from(x) for x in {theirs}]"
    if isinstance(item, BasicType) and item.typename in NUMERIC_TYPECODES:
        code = NUMERIC_TYPECODES[item.typename]
        if isinstance(slot, Array):
            namespace[f"{key}_dtype"] = _NUMPY_DTYPES[code]
            return f"fixed({ours}, {slot.size}, {key}_dtype)", f"{theirs}.tolist()"
        return f"array({code!r}, {ours})", f"{theirs}.tolist()"
    if isinstance(item, BasicType) and item.typename == "octet":  # rclpy: list of 1-byte bytes
        return f"[bytes((x,)) for x in {ours}]", f"[x[0] for x in {theirs}]"
    return f"list({ours})", f"list({theirs})"  # strings, booleans, chars: plain lists


def flatten_parameters(parameters: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested parameters as ROS 2 dotted names: {'a': {'b': 1}} -> {'a.b': 1}; tuples become lists."""
    flat: dict[str, Any] = {}
    for key, value in parameters.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten_parameters(value, f"{name}."))
        elif isinstance(value, list | tuple):
            is_mixed_numeric = any(isinstance(v, float) for v in value) and all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in value
            )
            flat[name] = [float(v) for v in value] if is_mixed_numeric else list(value)
        else:
            flat[name] = value
    return flat


def nest_parameters(flat: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted ROS 2 parameter names nested as in the YAML: {'a.b': 1} -> {'a': {'b': 1}}."""
    nested: dict[str, Any] = {}
    for name, value in sorted(flat.items()):
        *parents, leaf = name.split(".")
        level = nested
        for part in parents:
            level = level.setdefault(part, {})
        level[leaf] = value
    return nested


class RclpyPublisher:
    """A `Publisher` converting each message to its rclpy class before publishing."""

    __slots__ = ("_publish", "_to_ros", "topic")

    def __init__(self, publisher: Any, to_ros: Callable[[Any], Any], topic: str) -> None:
        self._publish = publisher.publish
        self._to_ros = to_ros
        self.topic = topic

    def publish(self, msg: Any) -> None:
        """Send one message (a `robot_rl.deploy.msgs` dataclass of this publisher's type)."""
        self._publish(self._to_ros(msg))


class RclpyTransport:
    """One ROS 2 node on rclpy, with its own context and executor."""

    name = "rclpy"

    def __init__(
        self, node_name: str, parameters: Mapping[str, Any] | None = None, ros_args: Sequence[str] | None = None
    ) -> None:
        """Initialize an rclpy context and create node `node_name` with `parameters` as overrides.

        Args:
            node_name: the ROS node name.
            parameters: nested as in the parameter YAML; declared as dotted ROS 2 parameters ('a.b'), alongside
                those from `--params-file` in the ROS arguments. `use_sim_time: true` makes `now_ns` follow `/clock`.
            ros_args: command line for `rclpy.init` (default `sys.argv`: only what follows `--ros-args` is read).

        """
        self._given = flatten_parameters(parameters or {})
        self._context = Context()
        rclpy.init(  # no signal handlers: the node's main owns SIGINT/SIGTERM and calls `shutdown`
            args=list(sys.argv if ros_args is None else ros_args),
            context=self._context,
            signal_handler_options=SignalHandlerOptions.NO,
        )
        self._node = Node(
            node_name,
            context=self._context,
            parameter_overrides=[Parameter(k, value=v) for k, v in self._given.items() if v is not None],
            automatically_declare_parameters_from_overrides=True,
        )
        for name in (k for k, v in self._given.items() if v is None):  # YAML null: ROS 2 needs a dynamic type
            self._node.declare_parameter(name, None, ParameterDescriptor(dynamic_typing=True))
        self._executor = SingleThreadedExecutor(context=self._context)
        self._executor.add_node(self._node)
        self._delivered = 0
        self._closed = False

    def __repr__(self) -> str:
        return f"RclpyTransport({self._node.get_fully_qualified_name()!r})"

    @property
    def node(self) -> Node:
        """The rclpy node (for ROS-only extras such as services or timers)."""
        return self._node

    def create_publisher(self, topic: str, msg_type: type, qos: QoS) -> RclpyPublisher:
        """A publisher of `msg_type` (a `robot_rl.deploy.msgs` dataclass) on ROS topic `topic` (e.g. '/odom')."""
        conv = converter(msg_type)
        return RclpyPublisher(self._node.create_publisher(conv.ros_type, topic, qos_profile(qos)), conv.to_ros, topic)

    def create_subscription(self, topic: str, msg_type: type, callback: Callable[[Any], None], qos: QoS) -> None:
        """Call `callback(msg)` with the dataclass message from `spin_once` for each message received on `topic`."""
        conv = converter(msg_type)
        from_ros = conv.from_ros

        def deliver(ros_msg: Any) -> None:
            self._delivered += 1
            callback(from_ros(ros_msg))

        self._node.create_subscription(conv.ros_type, topic, deliver, qos_profile(qos))

    def spin_once(self, timeout_s: float) -> None:
        """Deliver pending messages to their callbacks, waiting at most `timeout_s` seconds for the first.

        rclpy's executor takes one message per wait, and every other `spin_once(0)` only finishes the previous
        wait: so after a delivery this spins again without
        blocking until two calls in a row deliver nothing.
        """
        if self._closed:
            raise RuntimeError(f"{self!r} is shut down")
        before = self._delivered
        self._executor.spin_once(timeout_sec=max(0.0, timeout_s))
        idle_calls = 0 if self._delivered != before else 2
        for _ in range(_MAX_DRAIN):
            if idle_calls >= 2:
                return
            before = self._delivered
            self._executor.spin_once(timeout_sec=0.0)
            idle_calls = 0 if self._delivered != before else idle_calls + 1

    def now_ns(self) -> int:
        """The node clock in ns: wall clock, or `/clock` when `use_sim_time` is set (rclpy's TimeSource)."""
        return self._node.get_clock().now().nanoseconds

    def parameters(self) -> Mapping[str, Any]:
        """The node's parameters nested as in the YAML (built-in ones only when given or changed)."""
        flat = {}
        for name, parameter in self._node.get_parameters_by_prefix("").items():
            value = parameter.value
            if name in BUILTIN_PARAMETERS and name not in self._given and value == BUILTIN_PARAMETERS[name]:
                continue
            flat[name] = list(value) if isinstance(value, list | tuple | array) else value
        return nest_parameters(flat)

    def serialize(self, msg: Any) -> bytes:
        """CDR bytes of `msg` from rclpy's serializer, as rosbag2 stores them.

        With rmw_fastrtps these equal `DdsTransport.serialize` except in alignment padding: Fast CDR leaves padding
        bytes as it found them in its buffer (CycloneDDS writes zeros) and pads the payload's end to the type's
        alignment (up to 7 more bytes). Both decode to the same message on either side.
        """
        return serialize_message(converter(type(msg)).to_ros(msg))

    def shutdown(self) -> None:
        """Destroy the node, the executor and the context; idempotent."""
        if self._closed:
            return
        self._closed = True
        self._executor.remove_node(self._node)
        self._executor.shutdown(timeout_sec=1.0)
        self._node.destroy_node()
        self._context.try_shutdown()
