"""Fast XCDR1 little-endian codecs for the hot message types, byte-identical to cyclonedds' generic serializer.

cyclonedds-python encodes through a per-field machine in Python (JointState(7): 24 µs to encode, 22 to decode;
here 5.5 and 5.8, docs/benchmarks.md; /robot_rl/tick's DiagnosticArray: `fastcdr_diagnostic`); few `struct` calls each.

XCDR1 ("plain CDR", as ROS 2 sends it and rosbag2 stores it): header 00 01 00 00, then the payload, aligned relative
to its start; primitives aligned to their size (float64 to 8), zero padding; string = uint32 length incl. NUL
(aligned to 4), UTF-8 bytes, NUL; sequence = uint32 count (aligned to 4), elements (primitives align the first one
only if the sequence is not empty); fixed arrays have no count; structs add no padding. `install()` (called by
`robot_rl.deploy.msgs`) makes each class's `serialize`/`deserialize` use these codecs for the arguments cyclonedds'
DataWriter/DataReader pass (XCDR1, little endian, header present); every other argument combination, any subclass,
and any value the fast path cannot encode take the generic path unchanged, so errors are cyclonedds' own.
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cyclonedds.idl import IdlStruct
from cyclonedds.idl._support import Endianness

from robot_rl.deploy.msgs.geometry import (
    Point,
    Pose,
    PoseWithCovariance,
    Quaternion,
    Twist,
    TwistWithCovariance,
    Vector3,
)
from robot_rl.deploy.msgs.nav import Odometry
from robot_rl.deploy.msgs.sensor import Imu, JointState, LaserScan
from robot_rl.deploy.msgs.std import Bool, Clock, Float64MultiArray, Header, MultiArrayDimension, MultiArrayLayout, Time

CDR_LE_HEADER = b"\x00\x01\x00\x00"
"""Encapsulation header of XCDR1 little-endian data (the only one the fast decoders accept)."""
_ZEROS = bytes(8)
_SIZES = {"d": 8, "f": 4}  # bytes (= XCDR1 alignment) of float64 and float32
_U32 = struct.Struct("<I")
_STAMP = struct.Struct("<iI")  # builtin_interfaces/Time: int32 sec, uint32 nanosec
_DIM_SIZES = struct.Struct("<II")  # MultiArrayDimension size, stride
_BOOL = struct.Struct("<?")
_TWIST = struct.Struct("<6d")
_POSE = struct.Struct("<7d")
_ODOM_TAIL = struct.Struct("<85d")  # pose 7 + covariance 36 + twist 6 + covariance 36
_IMU_TAIL = struct.Struct("<37d")  # orientation 4 + 9, angular velocity 3 + 9, linear acceleration 3 + 9
_SCAN_LIMITS = struct.Struct("<7f")  # angle_min .. range_max
_ENCODE_ERRORS = (struct.error, TypeError, ValueError, AttributeError, OverflowError, UnicodeError)
_DECODE_ERRORS = (struct.error, TypeError, ValueError, IndexError, UnicodeError)
_LITTLE_ENDIANNESS = (Endianness.Little, None) if sys.byteorder == "little" else (Endianness.Little,)


# ---------------------------------------------------------------- encoding: append to `out`, return the new offset


def _put_str(out: list[bytes], n: int, text: str) -> int:
    """Append CDR string `text` at payload offset `n`; returns the offset after it."""
    raw = text.encode("utf-8")
    pad = -n % 4
    out += (_ZEROS[:pad], _U32.pack(len(raw) + 1), raw, b"\0")
    return n + pad + 5 + len(raw)


def _put_strs(out: list[bytes], n: int, texts: list[str]) -> int:
    """Append a sequence of strings at payload offset `n`; returns the offset after it."""
    pad = -n % 4
    out += (_ZEROS[:pad], _U32.pack(len(texts)))
    n += pad + 4
    for text in texts:  # _put_str inlined: joint names are on the hot path
        raw = text.encode("utf-8")
        pad = -n % 4
        out += (_ZEROS[:pad], _U32.pack(len(raw) + 1), raw, b"\0")
        n += pad + 5 + len(raw)
    return n


def _put_seq(out: list[bytes], n: int, code: str, values: list[float]) -> int:
    """Append a sequence of primitives (`code` 'd' float64 or 'f' float32) at payload offset `n`."""
    count = len(values)
    pad = -n % 4
    out += (_ZEROS[:pad], _U32.pack(count))
    n += pad + 4
    if count:
        size = _SIZES[code]
        pad = -n % size
        out += (_ZEROS[:pad], struct.pack(f"<{count}{code}", *values))
        n += pad + size * count
    return n


def _put_header(out: list[bytes], header: Header) -> int:
    """Append std_msgs/Header at payload offset 0; returns the offset after it."""
    stamp = header.stamp
    out.append(_STAMP.pack(stamp.sec, stamp.nanosec))
    return _put_str(out, _STAMP.size, header.frame_id)


def _put_f64_block(out: list[bytes], n: int, block: struct.Struct, values: list[float]) -> int:
    """Append fixed float64 values (8-aligned) at payload offset `n`."""
    pad = -n % 8
    out += (_ZEROS[:pad], block.pack(*values))
    return n + pad + block.size


def _array(values: list[float], length: int) -> list[float]:
    """`values` if it has `length` elements (a fixed IDL array), else ValueError (the generic path then reports)."""
    if len(values) != length:
        raise ValueError(f"fixed array of {length} has {len(values)} elements")
    return values


def encode_bool(msg: Bool) -> bytes:
    """std_msgs/Bool as XCDR1 little-endian bytes with header."""
    return CDR_LE_HEADER + _BOOL.pack(msg.data)


def encode_clock(msg: Clock) -> bytes:
    """rosgraph_msgs/Clock as XCDR1 little-endian bytes with header."""
    return CDR_LE_HEADER + _STAMP.pack(msg.clock.sec, msg.clock.nanosec)


def _twist_values(twist: Twist) -> tuple[float, ...]:
    lin, ang = twist.linear, twist.angular
    return lin.x, lin.y, lin.z, ang.x, ang.y, ang.z


def _pose_values(pose: Pose) -> tuple[float, ...]:
    p, q = pose.position, pose.orientation
    return p.x, p.y, p.z, q.x, q.y, q.z, q.w


def encode_twist(msg: Twist) -> bytes:
    """geometry_msgs/Twist as XCDR1 little-endian bytes with header."""
    return CDR_LE_HEADER + _TWIST.pack(*_twist_values(msg))


def encode_pose(msg: Pose) -> bytes:
    """geometry_msgs/Pose as XCDR1 little-endian bytes with header."""
    return CDR_LE_HEADER + _POSE.pack(*_pose_values(msg))


def encode_float64_multi_array(msg: Float64MultiArray) -> bytes:
    """std_msgs/Float64MultiArray (layout dims with labels, data_offset, data) as XCDR1 bytes with header."""
    out: list[bytes] = []
    dims = msg.layout.dim
    out.append(_U32.pack(len(dims)))
    n = 4
    for dim in dims:
        n = _put_str(out, n, dim.label)
        pad = -n % 4
        out += (_ZEROS[:pad], _DIM_SIZES.pack(dim.size, dim.stride))
        n += pad + _DIM_SIZES.size
    pad = -n % 4
    out += (_ZEROS[:pad], _U32.pack(msg.layout.data_offset))
    _put_seq(out, n + pad + 4, "d", msg.data)
    return CDR_LE_HEADER + b"".join(out)


def encode_joint_state(msg: JointState) -> bytes:
    """sensor_msgs/JointState as XCDR1 little-endian bytes with header."""
    out: list[bytes] = []
    n = _put_header(out, msg.header)
    n = _put_strs(out, n, msg.name)
    n = _put_seq(out, n, "d", msg.position)
    n = _put_seq(out, n, "d", msg.velocity)
    _put_seq(out, n, "d", msg.effort)
    return CDR_LE_HEADER + b"".join(out)


def encode_odometry(msg: Odometry) -> bytes:
    """nav_msgs/Odometry as XCDR1 little-endian bytes with header."""
    out: list[bytes] = []
    n = _put_str(out, _put_header(out, msg.header), msg.child_frame_id)
    pose, twist = msg.pose, msg.twist
    values = (
        *_pose_values(pose.pose), *_array(pose.covariance, 36),
        *_twist_values(twist.twist), *_array(twist.covariance, 36),
    )  # fmt: skip
    _put_f64_block(out, n, _ODOM_TAIL, values)
    return CDR_LE_HEADER + b"".join(out)


def encode_imu(msg: Imu) -> bytes:
    """sensor_msgs/Imu as XCDR1 little-endian bytes with header."""
    out: list[bytes] = []
    n = _put_header(out, msg.header)
    q, w, a = msg.orientation, msg.angular_velocity, msg.linear_acceleration
    values = (
        q.x, q.y, q.z, q.w, *_array(msg.orientation_covariance, 9),
        w.x, w.y, w.z, *_array(msg.angular_velocity_covariance, 9),
        a.x, a.y, a.z, *_array(msg.linear_acceleration_covariance, 9),
    )  # fmt: skip
    _put_f64_block(out, n, _IMU_TAIL, values)
    return CDR_LE_HEADER + b"".join(out)


def encode_laser_scan(msg: LaserScan) -> bytes:
    """sensor_msgs/LaserScan as XCDR1 little-endian bytes with header."""
    out: list[bytes] = []
    n = _put_header(out, msg.header)
    pad = -n % 4
    limits = (msg.angle_min, msg.angle_max, msg.angle_increment, msg.time_increment, msg.scan_time)
    out += (_ZEROS[:pad], _SCAN_LIMITS.pack(*limits, msg.range_min, msg.range_max))
    n = _put_seq(out, n + pad + _SCAN_LIMITS.size, "f", msg.ranges)
    _put_seq(out, n, "f", msg.intensities)
    return CDR_LE_HEADER + b"".join(out)


# ------------------------------------------- decoding: `data` includes the 4-byte header, `n` is the payload offset


def _get_u32(data: bytes, n: int) -> tuple[int, int]:
    """The 4-aligned uint32 at or after payload offset `n`, and the offset after it."""
    n += -n % 4
    return _U32.unpack_from(data, n + 4)[0], n + 4


def _get_str(data: bytes, n: int) -> tuple[str, int]:
    """The CDR string at or after payload offset `n`, and the offset after it."""
    size, n = _get_u32(data, n)
    return str(data[n + 4 : n + 3 + size], "utf-8"), n + size


def _get_strs(data: bytes, n: int) -> tuple[list[str], int]:
    """The sequence of strings at or after payload offset `n`, and the offset after it."""
    count, n = _get_u32(data, n)
    texts = []
    for _ in range(count):  # _get_str inlined: joint names are on the hot path
        n += -n % 4
        size = _U32.unpack_from(data, n + 4)[0]
        texts.append(str(data[n + 8 : n + 7 + size], "utf-8"))
        n += 4 + size
    return texts, n


def _get_seq(data: bytes, n: int, code: str) -> tuple[list[Any], int]:
    """The sequence of primitives (`code` 'd' or 'f') at or after payload offset `n`, and the offset after it."""
    count, n = _get_u32(data, n)
    if not count:
        return [], n
    size = _SIZES[code]
    n += -n % size
    return list(struct.unpack_from(f"<{count}{code}", data, n + 4)), n + size * count


def _get_header(data: bytes) -> tuple[Header, int]:
    """The std_msgs/Header at payload offset 0, and the offset after it."""
    sec, nanosec = _STAMP.unpack_from(data, 4)
    frame_id, n = _get_str(data, _STAMP.size)
    return Header(Time(sec, nanosec), frame_id), n


def _twist(v: tuple[float, ...]) -> Twist:
    return Twist(Vector3(v[0], v[1], v[2]), Vector3(v[3], v[4], v[5]))


def _pose(v: tuple[float, ...]) -> Pose:
    return Pose(Point(v[0], v[1], v[2]), Quaternion(v[3], v[4], v[5], v[6]))


def decode_bool(data: bytes) -> Bool:
    """std_msgs/Bool from XCDR1 little-endian bytes with header."""
    return Bool(_BOOL.unpack_from(data, 4)[0])


def decode_clock(data: bytes) -> Clock:
    """rosgraph_msgs/Clock from XCDR1 little-endian bytes with header."""
    return Clock(Time(*_STAMP.unpack_from(data, 4)))


def decode_twist(data: bytes) -> Twist:
    """geometry_msgs/Twist from XCDR1 little-endian bytes with header."""
    return _twist(_TWIST.unpack_from(data, 4))


def decode_pose(data: bytes) -> Pose:
    """geometry_msgs/Pose from XCDR1 little-endian bytes with header."""
    return _pose(_POSE.unpack_from(data, 4))


def decode_float64_multi_array(data: bytes) -> Float64MultiArray:
    """std_msgs/Float64MultiArray from XCDR1 little-endian bytes with header."""
    count, n = _get_u32(data, 0)
    dims = []
    for _ in range(count):
        label, n = _get_str(data, n)
        n += -n % 4
        dims.append(MultiArrayDimension(label, *_DIM_SIZES.unpack_from(data, n + 4)))
        n += _DIM_SIZES.size
    data_offset, n = _get_u32(data, n)
    values, _ = _get_seq(data, n, "d")
    return Float64MultiArray(MultiArrayLayout(dims, data_offset), values)


def decode_joint_state(data: bytes) -> JointState:
    """sensor_msgs/JointState from XCDR1 little-endian bytes with header."""
    header, n = _get_header(data)
    names, n = _get_strs(data, n)
    position, n = _get_seq(data, n, "d")
    velocity, n = _get_seq(data, n, "d")
    effort, _ = _get_seq(data, n, "d")
    return JointState(header, names, position, velocity, effort)


def decode_odometry(data: bytes) -> Odometry:
    """nav_msgs/Odometry from XCDR1 little-endian bytes with header."""
    header, n = _get_header(data)
    child_frame_id, n = _get_str(data, n)
    v = _ODOM_TAIL.unpack_from(data, n + -n % 8 + 4)
    pose = PoseWithCovariance(_pose(v[:7]), list(v[7:43]))
    return Odometry(header, child_frame_id, pose, TwistWithCovariance(_twist(v[43:49]), list(v[49:])))


def decode_imu(data: bytes) -> Imu:
    """sensor_msgs/Imu from XCDR1 little-endian bytes with header."""
    header, n = _get_header(data)
    v = _IMU_TAIL.unpack_from(data, n + -n % 8 + 4)
    orientation = Quaternion(v[0], v[1], v[2], v[3])
    angular, linear = Vector3(v[13], v[14], v[15]), Vector3(v[25], v[26], v[27])
    return Imu(header, orientation, list(v[4:13]), angular, list(v[16:25]), linear, list(v[28:]))


def decode_laser_scan(data: bytes) -> LaserScan:
    """sensor_msgs/LaserScan from XCDR1 little-endian bytes with header."""
    header, n = _get_header(data)
    n += -n % 4
    limits = _SCAN_LIMITS.unpack_from(data, n + 4)
    ranges, n = _get_seq(data, n + _SCAN_LIMITS.size, "f")
    intensities, _ = _get_seq(data, n, "f")
    return LaserScan(header, *limits, ranges, intensities)


# ------------------------------------------------------------------------------------------ registry and hook-in


@dataclass(frozen=True)
class Codec:
    """Fast encoder and decoder of one message class (bytes include the XCDR1 little-endian header)."""

    encode: Callable[[Any], bytes]
    decode: Callable[[bytes], Any]


CODECS: dict[type, Codec] = {
    Bool: Codec(encode_bool, decode_bool),
    Clock: Codec(encode_clock, decode_clock),
    Float64MultiArray: Codec(encode_float64_multi_array, decode_float64_multi_array),
    Imu: Codec(encode_imu, decode_imu),
    JointState: Codec(encode_joint_state, decode_joint_state),
    LaserScan: Codec(encode_laser_scan, decode_laser_scan),
    Odometry: Codec(encode_odometry, decode_odometry),
    Pose: Codec(encode_pose, decode_pose),
    Twist: Codec(encode_twist, decode_twist),
}
"""The message classes with a fast codec."""


def _fast_serialize(cls: type, encode: Callable[[Any], bytes]) -> Callable[..., bytes]:
    """`IdlStruct.serialize` for `cls`, through `encode` when the arguments ask for XCDR1 little endian."""
    generic = IdlStruct.serialize

    def serialize(
        self: Any, buffer: Any = None, endianness: Endianness | None = None, use_version_2: bool | None = None
    ) -> bytes:
        if buffer is None and not use_version_2 and endianness in _LITTLE_ENDIANNESS and type(self) is cls:
            try:
                return encode(self)
            except _ENCODE_ERRORS:
                pass  # the generic path raises its own error (or encodes what it accepts and we do not)
        return generic(self, buffer, endianness, use_version_2)

    return serialize


def _fast_deserialize(cls: type, decode: Callable[[bytes], Any]) -> classmethod:
    """`IdlStruct.deserialize` for `cls`, through `decode` for XCDR1 little-endian data with its header."""
    generic = IdlStruct.deserialize.__func__

    def deserialize(klass: type, data: Any, has_header: bool = True, use_version_2: bool | None = None) -> Any:
        if has_header and use_version_2 is None and klass is cls and isinstance(data, bytes) and data[:2] == b"\0\1":
            try:
                return decode(data)
            except _DECODE_ERRORS:
                pass  # malformed data: let the generic path decide
        return generic(klass, data, has_header, use_version_2)

    return classmethod(deserialize)


def install() -> None:
    """Route `serialize`/`deserialize` of every class in `CODECS` and `fastcdr_diagnostic.CODECS` fast (idempotent)."""
    from robot_rl.deploy.msgs.fastcdr_diagnostic import CODECS as DIAGNOSTIC_CODECS  # imports this module's helpers

    for cls, codec in (CODECS | DIAGNOSTIC_CODECS).items():
        cls.serialize = _fast_serialize(cls, codec.encode)
        cls.deserialize = _fast_deserialize(cls, codec.decode)
