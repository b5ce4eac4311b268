"""Fast XCDR1 codecs: byte-identical to cyclonedds' generic serializer, equal decodes, rosbags agrees, and on the wire.

The generic path is reached through `cls.__idl__` (cyclonedds' own machine), which `fastcdr.install()` leaves alone.
Decoded messages are compared by `repr`, which tells NaN from NaN-free values, -0.0 from 0.0 and 1 from 1.0.
"""

import dataclasses
import struct
import time
import uuid

import numpy as np
import pytest
from cyclonedds.domain import DomainParticipant
from cyclonedds.idl import IdlStruct, make_idl_struct
from cyclonedds.idl._support import Endianness
from cyclonedds.pub import DataWriter
from cyclonedds.sub import DataReader
from cyclonedds.topic import Topic
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from robot_rl.deploy.msgs import (
    Bool,
    Clock,
    Float64MultiArray,
    Header,
    Imu,
    JointState,
    LaserScan,
    MultiArrayDimension,
    MultiArrayLayout,
    Odometry,
    Point,
    Pose,
    PoseWithCovariance,
    Quaternion,
    Time,
    Twist,
    TwistWithCovariance,
    Vector3,
    fastcdr,
    ros_type_name,
)
from robot_rl.deploy.msgs.typestore import typestore
from robot_rl.deploy.transport.base import COMMAND_QOS
from robot_rl.deploy.transport.dds import DdsTransport, dds_qos, dds_topic_name

CDR_LE = b"\x00\x01\x00\x00"
DEADLINE_S = 5.0

# ------------------------------------------------------------------------------------------------ strategies

f64 = st.floats()  # NaN, ±inf, subnormals, ±0.0 included
f32 = st.one_of(st.floats(width=32), st.floats(-3.4e38, 3.4e38))  # float64 values that round into float32 range
int32 = st.integers(-(2**31), 2**31 - 1)
uint32 = st.integers(0, 2**32 - 1)
text = st.one_of(st.text(max_size=12), st.text(min_size=100, max_size=300))  # any code point but surrogates, NUL too
f64s = st.lists(f64, max_size=24)
vector3 = st.builds(Vector3, f64, f64, f64)
quaternion = st.builds(Quaternion, f64, f64, f64, f64)
pose = st.builds(Pose, st.builds(Point, f64, f64, f64), quaternion)
twist = st.builds(Twist, vector3, vector3)
header = st.builds(Header, st.builds(Time, int32, uint32), text)  # negative stamps are valid int32 seconds


def cov(n):
    return st.lists(f64, min_size=n, max_size=n)


STRATEGIES = {
    Bool: st.builds(Bool, st.booleans()),
    Clock: st.builds(Clock, st.builds(Time, int32, uint32)),
    Twist: twist,
    Pose: pose,
    Float64MultiArray: st.builds(
        Float64MultiArray,
        st.builds(MultiArrayLayout, st.lists(st.builds(MultiArrayDimension, text, uint32, uint32), max_size=4), uint32),
        f64s,
    ),
    JointState: st.builds(JointState, header, st.lists(text, max_size=10), f64s, f64s, f64s),
    Odometry: st.builds(
        Odometry,
        header,
        text,
        st.builds(PoseWithCovariance, pose, cov(36)),
        st.builds(TwistWithCovariance, twist, cov(36)),
    ),
    Imu: st.builds(Imu, header, quaternion, cov(9), vector3, cov(9), vector3, cov(9)),
    LaserScan: st.builds(
        LaserScan, header, f32, f32, f32, f32, f32, f32, f32, st.lists(f32, max_size=40), st.lists(f32, max_size=40)
    ),
}
TYPES = sorted(STRATEGIES, key=lambda cls: cls.__name__)
EXAMPLES = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def generic_bytes(msg):
    return type(msg).__idl__.serialize(msg, use_version_2=False)


def plain(value):
    """Nested lists/dicts of a message (ours or rosbags'), numpy values as Python ones, constants dropped."""
    if dataclasses.is_dataclass(value):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value) if f.name[0].islower()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [plain(v) for v in value]
    return value.item() if isinstance(value, np.generic) else value


# ---------------------------------------------------------------------------------------------- properties


def test_every_fast_type_is_registered_and_defaults_to_xcdr1():
    assert set(fastcdr.CODECS) == set(STRATEGIES)
    for cls in fastcdr.CODECS:
        cls.__idl__.populate()
        assert cls.__idl__.default_version == 1  # so serialize(use_version_2=None) means XCDR1, the fast path
        assert cls.__dict__["serialize"] is not IdlStruct.serialize


@pytest.mark.parametrize("cls", TYPES, ids=lambda cls: cls.__name__)
@EXAMPLES
@given(data=st.data())
def test_fast_encode_is_byte_identical_and_rosbags_reads_it(cls, data):
    msg = data.draw(STRATEGIES[cls])
    expected = generic_bytes(msg)
    assert fastcdr.CODECS[cls].encode(msg) == expected
    assert msg.serialize() == msg.serialize(use_version_2=False, endianness=Endianness.Little) == expected
    theirs = typestore().deserialize_cdr(expected, ros_type_name(cls))
    assert repr(plain(theirs)) == repr(plain(cls.__idl__.deserialize(expected)))


@pytest.mark.parametrize("cls", TYPES, ids=lambda cls: cls.__name__)
@EXAMPLES
@given(data=st.data())
def test_fast_decode_equals_generic_decode(cls, data):
    wire = generic_bytes(data.draw(STRATEGIES[cls])) + b"\0\0\0"  # writers pad to 4; trailing bytes are ignored
    fast, generic = cls.deserialize(wire), cls.__idl__.deserialize(wire)
    assert type(fast) is cls
    assert repr(fast) == repr(generic)
    assert generic_bytes(fast) == wire[:-3]


def test_alignment_arithmetic_of_a_float64_multi_array():
    msg = Float64MultiArray(MultiArrayLayout([MultiArrayDimension("ab", 2, 1)], 0), [1.5])
    payload = (
        struct.pack("<I", 1)  # offset 0: dim count
        + struct.pack("<I", 3) + b"ab\0"  # 4: label length 3 (incl. NUL); 8: 'ab' NUL
        + b"\0"  # 11: pad to 12
        + struct.pack("<II", 2, 1)  # 12: size; 16: stride
        + struct.pack("<I", 0)  # 20: data_offset
        + struct.pack("<I", 1)  # 24: data count
        + b"\0" * 4  # 28: float64 aligns to 8 in XCDR1 (relative to the payload, after the 4-byte header)
        + struct.pack("<d", 1.5)  # 32..40: data[0]
    )  # fmt: skip
    assert msg.serialize() == CDR_LE + payload == generic_bytes(msg)
    # An empty float64 sequence gets no alignment padding: count 0 at 24, message ends at 28.
    assert Float64MultiArray(msg.layout, []).serialize() == CDR_LE + payload[:24] + struct.pack("<I", 0)


def test_other_arguments_and_unencodable_values_take_the_generic_path():
    msg = JointState(name=["a"], position=[1.0])
    assert msg.serialize(use_version_2=True) == JointState.__idl__.serialize(msg, use_version_2=True)
    big = msg.serialize(endianness=Endianness.Big)
    assert big[:2] == b"\0\0" and big == JointState.__idl__.serialize(msg, endianness=Endianness.Big)
    assert repr(JointState.deserialize(big)) == repr(msg)  # big-endian data decodes through the generic path
    headerless = msg.serialize()[4:]
    assert repr(JointState.deserialize(headerless, has_header=False, use_version_2=False)) == repr(msg)
    bad = Odometry()
    bad.pose.covariance = [0.0] * 35
    with pytest.raises(Exception, match="Failed to encode member"):  # cyclonedds' own error, not ours
        bad.serialize()
    with pytest.raises(Exception, match="Failed to encode member"):
        Clock(Time(sec=2**31)).serialize()  # int32 overflow


# ----------------------------------------------------------------------------------------------- on the wire


def generic_twin(cls):
    """A plain cyclonedds class with `cls`'s DDS type name and fields, without the fast codec."""
    fields = {f.name: f.type for f in dataclasses.fields(cls)}
    return make_idl_struct(f"Generic{cls.__name__}", cls.__idl_typename__, fields)


def fields_of(msg):
    return [getattr(msg, f.name) for f in dataclasses.fields(msg)]


WIRE_SAMPLES = {
    JointState: JointState(
        Header(Time(-3, 999_999_999), "base"), ["j1", "ü" * 5, ""], [0.5, float("nan")], [], [-0.0, float("inf")]
    ),
    Odometry: Odometry(Header(Time(7, 1), "odom"), "b", PoseWithCovariance(covariance=[0.5 * i for i in range(36)])),
}


def deliver(send, take, spin=lambda: None):
    """Call `send()` and collect `take()` until something arrives (bounded by DEADLINE_S)."""
    got = []
    end = time.monotonic() + DEADLINE_S
    while not got:
        assert time.monotonic() < end, "timed out waiting for delivery"
        send()
        spin()
        got += take()
    return got


@pytest.mark.parametrize("cls", sorted(WIRE_SAMPLES, key=lambda cls: cls.__name__), ids=lambda cls: cls.__name__)
def test_fast_and_generic_endpoints_interoperate(cls, ros_domain_id):
    sent = WIRE_SAMPLES[cls]
    twin = generic_twin(cls)
    to_plain, from_plain = (f"/fastcdr_{way}_{uuid.uuid4().hex[:8]}" for way in ("out", "in"))
    node = DdsTransport("fastcdr_test")
    participant = DomainParticipant(int(ros_domain_id))
    topics = [Topic(participant, dds_topic_name(name), twin) for name in (to_plain, from_plain)]
    reader = DataReader(participant, topics[0], qos=dds_qos(COMMAND_QOS))
    writer = DataWriter(participant, topics[1], qos=dds_qos(COMMAND_QOS))
    try:
        # fast encoder -> plain cyclonedds reader of the generic type
        pub = node.create_publisher(to_plain, cls, COMMAND_QOS)
        got_plain = deliver(lambda: pub.publish(sent), lambda: reader.take(N=16))
        assert type(got_plain[0]) is twin and repr(fields_of(got_plain[0])) == repr(fields_of(sent))
        # plain cyclonedds writer of the generic type -> fast decoder
        received = []
        node.create_subscription(from_plain, cls, received.append, COMMAND_QOS)
        got = deliver(lambda: writer.write(twin(*fields_of(sent))), lambda: received, lambda: node.spin_once(0.02))
        assert type(got[0]) is cls and repr(got[0]) == repr(sent)
    finally:
        node.shutdown()
        for entity in (reader, writer, *topics, participant):
            entity.__del__()
