"""rosbag2 MCAP bags: round trip, metadata.yaml, splitting, bad inputs, and repair after a SIGKILL."""

import os
import shutil
import signal
import struct
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import yaml
from rosbags.rosbag2 import Reader

from robot_rl.data import BagConfig, BagError, BagWriter, check_bag, qos_profile, read_bag, recover_bag
from robot_rl.data.mcap_file import McapFile, Schema, is_finalized
from robot_rl.deploy.msgs.typestore import typestore

TS = typestore()
T0_NS = 1_700_000_000_000_000_000  # 2023-11-14T22:13:20Z
JS, ATT, ODOM, F64 = ("sensor_msgs/msg/JointState", "mavros_msgs/msg/AttitudeTarget", "nav_msgs/msg/Odometry",
                      "std_msgs/msg/Float64MultiArray")


def header(i):
    return TS.types["std_msgs/msg/Header"](TS.types["builtin_interfaces/msg/Time"](i, 500), "base")


def joint_state(i):
    return TS.types[JS](header(i), ["j1", "j2"], np.array([0.1 * i, -0.2 * i]), np.zeros(2), np.zeros(0))


def attitude_target(i):
    q = TS.types["geometry_msgs/msg/Quaternion"](0.0, 0.0, 0.0, 1.0)
    rates = TS.types["geometry_msgs/msg/Vector3"](0.01 * i, 0.0, -0.5)
    return TS.types[ATT](header(i), 7, q, rates, np.float32(0.25 + 0.001 * i))


def odometry(i):
    g = TS.types
    pose = g["geometry_msgs/msg/PoseWithCovariance"](
        g["geometry_msgs/msg/Pose"](g["geometry_msgs/msg/Point"](float(i), 2.0, 3.0),
                                    g["geometry_msgs/msg/Quaternion"](0.0, 0.0, 0.0, 1.0)), np.zeros(36))
    twist = g["geometry_msgs/msg/TwistWithCovariance"](
        g["geometry_msgs/msg/Twist"](g["geometry_msgs/msg/Vector3"](0.5, 0.0, 0.0),
                                     g["geometry_msgs/msg/Vector3"](0.0, 0.0, 0.1)), np.zeros(36))
    return g[ODOM](header(i), "base_link", pose, twist)


def float64_array(i):
    layout = TS.types["std_msgs/msg/MultiArrayLayout"]([], 0)
    return TS.types[F64](layout, np.arange(7, dtype=np.float64) * i)


def cdr(msg):
    return bytes(TS.serialize_cdr(msg, msg.__msgtype__))


MAKERS = {"/joint_states": (JS, joint_state), "/cmd_att": (ATT, attitude_target), "/odom": (ODOM, odometry),
          "/proposed_action": (F64, float64_array)}


def write_bag(path, n=20, config=None, dt_ns=50_000_000):
    """`n` messages on each of the MAKERS topics, message k of topic j at T0 + k*dt + j ns."""
    with BagWriter(path, TS, config) as bag:
        channels = {topic: bag.add_topic(topic, msgtype, [qos_profile(topic != "/joint_states", 10)])
                    for topic, (msgtype, _) in MAKERS.items()}
        for k in range(n):
            for j, (topic, (_, make)) in enumerate(MAKERS.items()):
                bag.write(channels[topic], T0_NS + k * dt_ns + j, cdr(make(k)))
    return bag


def test_round_trip_values_types_and_order(tmp_path):
    write_bag(tmp_path / "bag", n=20)
    msgs = list(read_bag(tmp_path / "bag"))
    assert len(msgs) == 4 * 20
    assert [m.t_ns for m in msgs] == sorted(m.t_ns for m in msgs)
    by_topic = {t: [m for m in msgs if m.topic == t] for t in MAKERS}
    for topic, (msgtype, _) in MAKERS.items():
        assert [m.msgtype for m in by_topic[topic]] == [msgtype] * 20
    js = by_topic["/joint_states"][7].msg  # message 7: position = [0.1*7, -0.2*7]
    assert list(js.name) == ["j1", "j2"] and np.allclose(js.position, [0.7, -1.4])
    assert (js.header.stamp.sec, js.header.stamp.nanosec, js.header.frame_id) == (7, 500, "base")
    att = by_topic["/cmd_att"][10].msg  # thrust 0.25 + 0.001*10 = 0.26 (float32), body rate x = 0.1
    assert att.type_mask == 7 and att.thrust == pytest.approx(0.26, abs=1e-6) and att.body_rate.x == pytest.approx(0.1)
    odom = by_topic["/odom"][3].msg
    assert odom.pose.pose.position.x == 3.0 and odom.child_frame_id == "base_link"
    assert np.array_equal(by_topic["/proposed_action"][2].msg.data, np.arange(7) * 2.0)
    only = list(read_bag(tmp_path / "bag", topics=["/cmd_att"]))
    assert {m.topic for m in only} == {"/cmd_att"} and len(only) == 20


def test_metadata_yaml_schema_and_qos(tmp_path):
    write_bag(tmp_path / "bag", n=10)
    info = yaml.safe_load((tmp_path / "bag" / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert info["version"] == 9 and info["storage_identifier"] == "mcap"
    assert info["relative_file_paths"] == ["bag_0.mcap"]
    assert info["message_count"] == 40
    # first message at T0, last at T0 + 9*50 ms + 3 ns (topic index 3)
    assert info["starting_time"]["nanoseconds_since_epoch"] == T0_NS
    assert info["duration"]["nanoseconds"] == 9 * 50_000_000 + 3
    assert info["files"] == [{"path": "bag_0.mcap", "starting_time": {"nanoseconds_since_epoch": T0_NS},
                              "duration": {"nanoseconds": 9 * 50_000_000 + 3}, "message_count": 40}]
    topics = {t["topic_metadata"]["name"]: t for t in info["topics_with_message_count"]}
    assert set(topics) == set(MAKERS)
    js = topics["/joint_states"]
    assert js["message_count"] == 10 and js["topic_metadata"]["type"] == JS
    assert js["topic_metadata"]["type_description_hash"] == TS.hash_rihs01(JS)
    (qos,) = js["topic_metadata"]["offered_qos_profiles"]
    assert (qos["reliability"], qos["durability"], qos["history"], qos["depth"]) == ("best_effort", "volatile",
                                                                                      "keep_last", 10)
    assert topics["/cmd_att"]["topic_metadata"]["offered_qos_profiles"][0]["reliability"] == "reliable"
    with Reader(tmp_path / "bag") as reader:  # rosbags' own reader: definitions come from the MCAP schemas
        conns = {c.topic: c for c in reader.connections}
        assert conns["/cmd_att"].msgdef.data.startswith("uint8 IGNORE_ROLL_RATE=1\n")
        assert "\nstd_msgs/Header header\nuint8 type_mask\n" in conns["/cmd_att"].msgdef.data
        assert "MSG: geometry_msgs/Quaternion" in conns["/cmd_att"].msgdef.data
        assert conns["/odom"].ext.offered_qos_profiles[0].depth == 10
        assert reader.message_count == 40


def test_split_by_duration_files_read_back_in_order(tmp_path):
    # 50 steps of 100 ms with split every 1 s of message time -> files of 10 steps (40 messages) each
    bag = write_bag(tmp_path / "bag", n=50, config=BagConfig(split_duration_s=1.0), dt_ns=100_000_000)
    assert [p.name for p in bag.file_paths] == [f"bag_{i}.mcap" for i in range(5)]
    info = yaml.safe_load((tmp_path / "bag" / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert info["relative_file_paths"] == [f"bag_{i}.mcap" for i in range(5)]
    assert [f["message_count"] for f in info["files"]] == [40] * 5
    assert [f["starting_time"]["nanoseconds_since_epoch"] for f in info["files"]] == [T0_NS + i * 10**9
                                                                                     for i in range(5)]
    msgs = list(read_bag(tmp_path / "bag", topics=["/joint_states"]))
    assert [m.msg.header.stamp.sec for m in msgs] == list(range(50))
    with Reader(tmp_path / "bag") as reader:
        assert reader.message_count == 200
        assert sum(1 for _ in reader.messages()) == 200


def test_split_by_size(tmp_path):
    bag = write_bag(tmp_path / "bag", n=200, config=BagConfig(split_size_bytes=20_000, chunk_size_bytes=4_000))
    assert len(bag.file_paths) >= 3
    # a file is closed at the first write past 20 kB; the summary repeats the ~5 kB of schemas, + indexes
    assert all(p.stat().st_size < 20_000 + 4_000 + 10_000 for p in bag.file_paths)
    assert len(list(read_bag(tmp_path / "bag"))) == 800


def test_unknown_type_names_bag_topic_and_type(tmp_path):
    with BagWriter(tmp_path / "bag", TS) as bag, pytest.raises(BagError) as err:
        bag.add_topic("/foo", "foo_msgs/msg/Bar")
    assert str(tmp_path / "bag") in str(err.value) and "/foo" in str(err.value) and "foo_msgs/msg/Bar" in str(err.value)


def test_non_empty_output_dir_is_refused(tmp_path):
    (tmp_path / "bag").mkdir()
    (tmp_path / "bag" / "notes.txt").write_text("keep me")
    with pytest.raises(BagError, match=str(tmp_path / "bag")):
        BagWriter(tmp_path / "bag", TS).open()
    assert (tmp_path / "bag" / "notes.txt").read_text() == "keep me"
    (tmp_path / "empty").mkdir()
    with BagWriter(tmp_path / "empty", TS):  # an existing empty directory is fine
        pass
    assert (tmp_path / "empty" / "empty_0.mcap").exists()


def test_read_errors_name_path_and_problem(tmp_path):
    with pytest.raises(BagError, match="no such bag directory"):
        list(read_bag(tmp_path / "missing"))
    (tmp_path / "nometa").mkdir()
    with pytest.raises(BagError, match=f"{tmp_path / 'nometa'}: no metadata.yaml"):
        read_bag(tmp_path / "nometa")
    write_bag(tmp_path / "bag", n=2)
    with pytest.raises(BagError, match=r"topics \['/nope'\] are not in the bag"):
        read_bag(tmp_path / "bag", topics=["/nope"])
    (tmp_path / "bag" / "bag_0.mcap").unlink()
    with pytest.raises(BagError, match="lists bag_0.mcap, which does not exist"):
        read_bag(tmp_path / "bag")


def _unfinished_file(path, chunks=3, per_chunk=10):
    """An MCAP file with `chunks` flushed chunks of JointStates and no summary (writer died after its flush)."""
    mcap = McapFile(path)
    mcap.add_schema(Schema(1, JS, TS.generate_msgdef(JS, ros_version=2)[0]))
    from robot_rl.data.mcap_file import Channel

    mcap.add_channel(Channel(1, 1, "/joint_states"))
    chunk_ends = []
    for k in range(chunks * per_chunk):
        mcap.write(1, T0_NS + k, cdr(joint_state(k)))
        if k % per_chunk == per_chunk - 1:
            mcap.flush()
            chunk_ends.append(path.stat().st_size)
    mcap.abort()
    return chunk_ends


@pytest.mark.parametrize(("cut", "expected"), [("none", 30), ("index", 30), ("chunk", 20), ("header", 20)])
def test_reopen_keeps_complete_chunks(tmp_path, cut, expected):
    path = tmp_path / "f.mcap"
    ends = _unfinished_file(path)
    size = path.stat().st_size
    cut_at = {"none": size, "index": size - 1,  # torn message index of chunk 3: rebuilt from the chunk
              "chunk": ends[1] + 200,  # torn inside chunk 3: dropped
              "header": ends[1] + 5}[cut]  # torn record header of chunk 3
    with path.open("r+b") as f:
        f.truncate(cut_at)
    assert not is_finalized(path)
    McapFile.reopen(path).close()
    assert is_finalized(path)
    with Reader(path) as reader:
        stamps = [TS.deserialize_cdr(raw, JS).header.stamp.sec for _, _, raw in reader.messages()]
    assert stamps == list(range(expected))


def test_reopen_detects_corrupt_chunk_by_crc(tmp_path):
    path = tmp_path / "f.mcap"
    ends = _unfinished_file(path)
    with path.open("r+b") as f:  # flip a byte inside chunk 2's messages: CRC mismatch, chunk 2 and later dropped
        f.seek(ends[0] + 100)
        byte = f.read(1)
        f.seek(ends[0] + 100)
        f.write(struct.pack("B", byte[0] ^ 0xFF))
    McapFile.reopen(path).close()
    with Reader(path) as reader:
        assert reader.message_count == 10


WRITER_SCRIPT = textwrap.dedent("""
    import sys, time
    from robot_rl.data import BagWriter, BagConfig
    from robot_rl.deploy.msgs import JointState
    from robot_rl.deploy.msgs.typestore import typestore
    bag = BagWriter(sys.argv[1], typestore(), BagConfig(flush_period_s=1.0, split_duration_s=1.2))
    bag.open()
    channel = bag.add_topic("/joint_states", "sensor_msgs/msg/JointState")
    print("started", flush=True)
    k = 0
    while True:  # 500 Hz until killed; message k carries position [k]
        bag.write(channel, time.time_ns(), JointState(position=[float(k)]).serialize(use_version_2=False))
        k += 1
        time.sleep(0.002)
""")


def test_sigkill_loses_at_most_the_last_flush_period(tmp_path):
    path = tmp_path / "bag"
    proc = subprocess.Popen([sys.executable, "-c", WRITER_SCRIPT, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "started"
        time.sleep(3.35)  # last flush at the split at ~2.4 s: about 1 s unflushed, the worst case
    finally:
        kill_ns = time.time_ns()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)
    with pytest.raises(BagError, match="was not closed"):
        check_bag(path)
    report = recover_bag(path)
    assert report.repaired and report.message_count > 0
    check_bag(path)
    msgs = list(read_bag(path))
    values = [int(m.msg.position[0]) for m in msgs]
    assert values == list(range(len(values)))  # nothing missing before the last flushed message
    lost_s = (kill_ns - msgs[-1].t_ns) / 1e9
    print(f"SIGKILL lost the last {lost_s:.3f} s ({len(values)} messages kept, {len(report.repaired)} repaired)")
    assert lost_s < 1.3  # flush_period_s = 1.0, plus scheduling slack
    assert len({p.name for p in path.glob('*.mcap')}) >= 2  # split every 1.2 s: the earlier files were finished
    before = shutil.copytree(path, tmp_path / "copy")
    assert recover_bag(path).repaired == []  # idempotent
    assert (path / "metadata.yaml").read_text() == (before / "metadata.yaml").read_text()
