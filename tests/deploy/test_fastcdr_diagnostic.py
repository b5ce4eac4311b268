"""Fast DiagnosticArray codec: byte-identical to cyclonedds' generic serializer, equal decodes, rosbags agrees.

As in test_fastcdr.py, the generic path is `DiagnosticArray.__idl__` (cyclonedds' own machine, left alone by
`install()`); decoded messages are compared by `repr` and, having no floats, also by `==`.
"""

import struct
import uuid

import numpy as np
import pytest
from cyclonedds.domain import DomainParticipant
from cyclonedds.idl import IdlStruct
from cyclonedds.idl._support import Endianness
from cyclonedds.pub import DataWriter
from cyclonedds.sub import DataReader
from cyclonedds.topic import Topic
from hypothesis import given
from hypothesis import strategies as st

from robot_rl.data.ticks import TickRecord, parse_tick, tick_values
from robot_rl.deploy.diagnostics import tick_message
from robot_rl.deploy.msgs import (
    DiagnosticArray,
    DiagnosticStatus,
    Header,
    KeyValue,
    Time,
    fastcdr,
    fastcdr_diagnostic,
    ns_from_stamp,
)
from robot_rl.deploy.msgs.typestore import typestore
from robot_rl.deploy.transport.base import COMMAND_QOS
from robot_rl.deploy.transport.dds import DdsTransport, dds_qos, dds_topic_name
from tests.deploy.test_fastcdr import (
    CDR_LE,
    EXAMPLES,
    deliver,
    fields_of,
    generic_bytes,
    generic_twin,
    int32,
    plain,
    text,
    uint32,
)

DIAG = "diagnostic_msgs/msg/DiagnosticArray"

# ------------------------------------------------------------------------------------------------ strategies

non_ascii = st.text(st.characters(min_codepoint=0x80, exclude_categories=["Cs"]), min_size=1, max_size=8)  # é, 中, 🙂
strings = st.one_of(text, non_ascii)  # text: any code point but surrogates (NUL too), short and 100..300 long
level = st.one_of(st.integers(0, 3), st.integers(0, 255))  # OK/WARN/ERROR/STALE, and the rest of the octet range
key_value = st.builds(KeyValue, strings, strings)
status = st.builds(DiagnosticStatus, level, strings, strings, strings, st.lists(key_value, max_size=30))
diagnostic_array = st.builds(
    DiagnosticArray, st.builds(Header, st.builds(Time, int32, uint32), strings), st.lists(status, max_size=4)
)  # empty status lists and empty values lists are drawn as often as hypothesis likes (min_size 0)


def tick_record(operator=True):
    """An arm tick as the controller logs it: 7 joints, 3-D goal, 17 key/values."""
    rng = np.random.default_rng(7)
    home = rng.uniform(-1, 1, 7)
    return TickRecord(
        tick=4321, stamp_ns=1_700_000_000_020_000_000, episode=3, mode="active",
        source="operator" if operator else "policy", onset=operator,
        state_stamps_ns={"joint_states": 1_700_000_000_019_000_000},
        quantities={"joint_pos_rad": home + rng.normal(0, 0.01, 7), "joint_vel_rad_s": rng.normal(0, 0.1, 7)},
        goal=rng.uniform(0.2, 0.6, 3), last_action=home, proposed=home + rng.normal(0, 0.02, 7),
        operator=home - 0.05 if operator else None, applied=home + 0.02, operator_id="joy:/dev/input/é" * operator,
        policy_sha256="ab" * 32, events=("velocity_clip",) if operator else (),
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------- properties


def test_diagnostic_array_is_registered_and_installed():
    assert set(fastcdr_diagnostic.CODECS) == {DiagnosticArray}
    DiagnosticArray.__idl__.populate()
    assert DiagnosticArray.__idl__.default_version == 1  # so serialize() means XCDR1, the fast path
    assert DiagnosticArray.__dict__["serialize"] is not IdlStruct.serialize
    assert DiagnosticArray.__dict__["deserialize"] is not IdlStruct.__dict__["deserialize"]
    fastcdr.install()  # idempotent: a second install still encodes through the fast codec, identically
    msg = tick_message(tick_record())
    assert msg.serialize() == generic_bytes(msg)


@EXAMPLES
@given(msg=diagnostic_array)
def test_fast_encode_is_byte_identical_and_rosbags_reads_it(msg):
    expected = generic_bytes(msg)
    assert fastcdr_diagnostic.encode_diagnostic_array(msg) == expected
    assert msg.serialize() == msg.serialize(use_version_2=False, endianness=Endianness.Little) == expected
    theirs = plain(typestore().deserialize_cdr(expected, DIAG))
    for status in theirs["status"]:  # rosbags reads ROS `byte` as int8: level 128 -> -128 (the same octet, 0x80)
        status["level"] %= 256
    assert repr(theirs) == repr(plain(DiagnosticArray.__idl__.deserialize(expected)))


@EXAMPLES
@given(msg=diagnostic_array)
def test_fast_decode_equals_generic_decode_and_round_trips(msg):
    wire = generic_bytes(msg) + b"\0\0\0"  # writers pad to 4; trailing bytes are ignored
    fast, generic = DiagnosticArray.deserialize(wire), DiagnosticArray.__idl__.deserialize(wire)
    assert type(fast) is DiagnosticArray
    assert repr(fast) == repr(generic)
    assert fast == msg  # decode(encode(m)) == m
    assert fastcdr_diagnostic.decode_diagnostic_array(fastcdr_diagnostic.encode_diagnostic_array(msg)) == msg


def test_alignment_arithmetic_of_two_statuses():
    msg = DiagnosticArray(Header(Time(1, 2), "f"), [
        DiagnosticStatus(level=2, name="ab", message="", hardware_id="é", values=[KeyValue("k", "vw")]),
        DiagnosticStatus(level=3),
    ])  # fmt: skip
    payload = (
        struct.pack("<iI", 1, 2)  # offset 0: stamp sec, 4: nanosec
        + struct.pack("<I", 2) + b"f\0"  # 8: frame_id length 2 (incl. NUL); 12: 'f' NUL
        + b"\0\0" + struct.pack("<I", 2)  # 14: pad to 16; 16: status count 2
        + b"\x02"  # 20: level (an octet: no alignment)
        + b"\0\0\0" + struct.pack("<I", 3) + b"ab\0"  # 21: pad to 24; 24: name length 3; 28: 'ab' NUL
        + b"\0" + struct.pack("<I", 1) + b"\0"  # 31: pad to 32; 32: message length 1; 36: NUL
        + b"\0\0\0" + struct.pack("<I", 3) + "é".encode() + b"\0"  # 37: pad to 40; 40: length 3; 44: c3 a9 NUL
        + b"\0" + struct.pack("<I", 1)  # 47: pad to 48; 48: values count 1
        + struct.pack("<I", 2) + b"k\0"  # 52: key length 2; 56: 'k' NUL
        + b"\0\0" + struct.pack("<I", 3) + b"vw\0"  # 58: pad to 60; 60: value length 3; 64: 'vw' NUL
        + b"\x03"  # 67: the second status' level, right after the string (no padding before an octet)
        + struct.pack("<I", 1) + b"\0"  # 68: name length 1 (already aligned); 72: NUL
        + b"\0\0\0" + struct.pack("<I", 1) + b"\0"  # 73: pad to 76; 76: message; 80: NUL
        + b"\0\0\0" + struct.pack("<I", 1) + b"\0"  # 81: pad to 84; 84: hardware_id; 88: NUL
        + b"\0\0\0" + struct.pack("<I", 0)  # 89: pad to 92; 92: values count 0; the message ends at 96
    )  # fmt: skip
    assert len(payload) == 96
    assert msg.serialize() == CDR_LE + payload == generic_bytes(msg)
    assert DiagnosticArray.deserialize(CDR_LE + payload) == msg
    # no statuses: stamp 8 + frame_id 4 + 2, pad 2, count 0 at 16; the message ends at 20
    assert DiagnosticArray(msg.header).serialize() == CDR_LE + payload[:16] + struct.pack("<I", 0)


@pytest.mark.parametrize("operator", [True, False])
def test_tick_record_message_round_trips_through_the_fast_codec(operator):
    record = tick_record(operator)
    msg = tick_message(record)
    assert len(msg.status[0].values) == 17  # 14 fields + 1 state stamp + 2 quantities
    wire = msg.serialize()
    assert wire == generic_bytes(msg)
    back = DiagnosticArray.deserialize(wire)
    assert back == msg
    values = {kv.key: kv.value for kv in back.status[0].values}
    parsed = parse_tick(values, ns_from_stamp(back.header.stamp))
    assert tick_values(parsed) == tick_values(record) and parsed.stamp_ns == record.stamp_ns


def test_other_arguments_bad_values_and_bad_data_take_the_generic_path():
    msg = DiagnosticArray(status=[DiagnosticStatus(level=1, name="n", values=[KeyValue("k", "v")])])
    assert msg.serialize(use_version_2=True) == DiagnosticArray.__idl__.serialize(msg, use_version_2=True)
    big = msg.serialize(endianness=Endianness.Big)
    assert big[:2] == b"\0\0" and big == DiagnosticArray.__idl__.serialize(msg, endianness=Endianness.Big)
    assert DiagnosticArray.deserialize(big) == msg  # big-endian data decodes through the generic path
    assert DiagnosticArray.deserialize(msg.serialize()[4:], has_header=False, use_version_2=False) == msg
    for bad in (256, -1, 2.0, b"\x02"):  # not an octet
        with pytest.raises(Exception, match="Failed to encode member status"):  # cyclonedds' own error, not ours
            DiagnosticArray(status=[DiagnosticStatus(level=bad)]).serialize()
    wrong_types = [KeyValue()], [DiagnosticStatus(values=[DiagnosticStatus()])], [DiagnosticStatus(name=b"x")]
    for bad in (*wrong_types, [DiagnosticStatus(values=[KeyValue("\ud800", "")])]):  # and a lone surrogate
        with pytest.raises(Exception, match="Failed to encode member status"):
            DiagnosticArray(status=bad).serialize()
    wire = msg.serialize()
    # payload: stamp 0..8, frame_id 8..13, count 16..20, level 20, name 24..30, message 32..37, hardware_id 40..45,
    # values count 48..52, key 52..58, value 60..66; + the 4-byte header = 70 bytes
    assert len(wire) == 70
    with pytest.raises(ValueError, match="needs 70 bytes, got 69"):  # the last string's NUL is missing
        fastcdr_diagnostic.decode_diagnostic_array(wire[:-1])
    for cut in (1, 2, 5):
        with pytest.raises(struct.error):  # the generic path's error, as for the plain cyclonedds class
            DiagnosticArray.deserialize(wire[:-cut])


# ----------------------------------------------------------------------------------------------- on the wire


def test_fast_and_generic_endpoints_interoperate(ros_domain_id):
    sent = tick_message(tick_record())
    twin = generic_twin(DiagnosticArray)
    to_plain, from_plain = (f"/fastcdr_diag_{way}_{uuid.uuid4().hex[:8]}" for way in ("out", "in"))
    node = DdsTransport("fastcdr_diagnostic_test")
    participant = DomainParticipant(int(ros_domain_id))
    topics = [Topic(participant, dds_topic_name(name), twin) for name in (to_plain, from_plain)]
    reader = DataReader(participant, topics[0], qos=dds_qos(COMMAND_QOS))
    writer = DataWriter(participant, topics[1], qos=dds_qos(COMMAND_QOS))
    try:
        # fast encoder -> plain cyclonedds reader of the generic type
        pub = node.create_publisher(to_plain, DiagnosticArray, COMMAND_QOS)
        got_plain = deliver(lambda: pub.publish(sent), lambda: reader.take(N=16))
        assert type(got_plain[0]) is twin and fields_of(got_plain[0]) == fields_of(sent)
        # plain cyclonedds writer of the generic type -> fast decoder
        received = []
        node.create_subscription(from_plain, DiagnosticArray, received.append, COMMAND_QOS)
        got = deliver(lambda: writer.write(twin(*fields_of(sent))), lambda: received, lambda: node.spin_once(0.02))
        assert type(got[0]) is DiagnosticArray and got[0] == sent
    finally:
        node.shutdown()
        for entity in (reader, writer, *topics, participant):
            entity.__del__()
