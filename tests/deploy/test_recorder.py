"""The recorder node in its own process: what a DdsTransport publisher sends comes back from the bag."""

import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest
import yaml

from robot_rl.data import check_bag, read_bag, recover_bag
from robot_rl.deploy.msgs import AttitudeTarget, JointState, Vector3
from robot_rl.deploy.nodes.common import ParameterError
from robot_rl.deploy.recorder import RecorderConfig, run_recorder
from robot_rl.deploy.transport import COMMAND_QOS, SENSOR_QOS
from robot_rl.deploy.transport.dds import DdsTransport

START_TIMEOUT_S = 20.0  # spawn + imports + DDS participant, generous for loaded CI machines
RATE_HZ = 200


class _ReadyWhenSubscribed:
    """The child's transport, setting `ready` once the recorder has created `n` subscriptions."""

    def __init__(self, transport, n, ready):
        self._transport, self._left, self._ready = transport, n, ready

    def create_subscription(self, *args):
        self._transport.create_subscription(*args)
        self._left -= 1
        if self._left == 0:
            self._ready.set()

    def __getattr__(self, name):
        return getattr(self._transport, name)


def _recorder_child(params, stop, ready):
    """Child process body: the recorder on its own DdsTransport until `stop` (a multiprocessing Event)."""
    from robot_rl.deploy.network import confine_to_localhost

    confine_to_localhost()
    from robot_rl.deploy.recorder import run_recorder
    from robot_rl.deploy.transport.dds import DdsTransport

    stop_thread = threading.Event()
    threading.Thread(target=lambda: (stop.wait(), stop_thread.set()), daemon=True).start()
    transport = DdsTransport("recorder", params)
    try:
        code = run_recorder(_ReadyWhenSubscribed(transport, len(params["topics"]), ready), params, stop_thread)
    finally:
        transport.shutdown()
    raise SystemExit(code)


def _topics():
    tag = uuid.uuid4().hex[:8]  # concurrent test runs share the DDS domain
    return f"/rec_js_{tag}", f"/rec_att_{tag}"


def _publish(transport, js_topic, att_topic, duration_s):
    """Publish message k on both topics at RATE_HZ for `duration_s`: JointState position [k], thrust k/1000."""
    pub_js = transport.create_publisher(js_topic, JointState, SENSOR_QOS)
    pub_att = transport.create_publisher(att_topic, AttitudeTarget, COMMAND_QOS)
    sent_ns, k, start = [], 0, time.monotonic()
    while time.monotonic() - start < duration_s:
        pub_js.publish(JointState(name=["j1"], position=[float(k)], velocity=[0.5]))
        pub_att.publish(AttitudeTarget(type_mask=7, body_rate=Vector3(x=0.1, y=0.0, z=-0.1), thrust=k / 1000))
        sent_ns.append(time.time_ns())
        k += 1
        time.sleep(max(0.0, start + k / RATE_HZ - time.monotonic()))
    return sent_ns


def _check_values(msgs, js_topic, att_topic):
    """Recorded values in publishing order with the published contents; returns each topic's values.

    The reliable topic (AttitudeTarget) must be one contiguous run once discovery has settled (a volatile reader
    can miss a sample published while the writer is still matching it, so its first 20 are exempt); the
    best-effort one (JointState, the recorder's default QoS) may miss samples on a loaded machine, so only its
    order is checked.
    """
    js = [int(m.msg.position[0]) for m in msgs if m.topic == js_topic]
    att = [round(float(m.msg.thrust) * 1000) for m in msgs if m.topic == att_topic]
    assert js and att, "nothing recorded"
    assert len(att) > 20 and att[20:] == list(range(att[20], att[20] + len(att) - 20))
    assert att == sorted(set(att))
    assert js == sorted(set(js))
    first_att = next(m.msg for m in msgs if m.topic == att_topic)
    first_js = next(m.msg for m in msgs if m.topic == js_topic)
    assert first_att.type_mask == 7 and first_att.body_rate.x == pytest.approx(0.1)
    assert list(first_js.name) == ["j1"] and list(first_js.velocity) == [0.5]
    assert {m.msgtype for m in msgs} == {"sensor_msgs/msg/JointState", "mavros_msgs/msg/AttitudeTarget"}
    return js, att


def test_recorder_process_records_two_topics(tmp_path):
    js_topic, att_topic = _topics()
    topics = [f"{js_topic} sensor_msgs/msg/JointState", f"{att_topic} mavros_msgs/msg/AttitudeTarget reliable"]
    params = {"topics": topics,
              "output_dir": str(tmp_path / "bag"), "report_period_s": 1.0}
    ctx = multiprocessing.get_context("spawn")
    stop, ready = ctx.Event(), ctx.Event()
    child = ctx.Process(target=_recorder_child, args=(params, stop, ready))
    child.start()
    publisher = DdsTransport("test_publisher")
    try:
        assert ready.wait(START_TIMEOUT_S), "recorder process did not start"
        sent = _publish(publisher, js_topic, att_topic, duration_s=2.0)
        time.sleep(0.3)  # let the last messages arrive
    finally:
        stop.set()
        child.join(timeout=10)
        publisher.shutdown()
        if child.is_alive():
            child.kill()
    assert child.exitcode == 0
    msgs = list(read_bag(tmp_path / "bag"))
    js, att = _check_values(msgs, js_topic, att_topic)
    # the last published message (k = len(sent) - 1) is recorded; discovery may cost the first few
    assert js[-1] == att[-1] == len(sent) - 1
    assert len(js) >= 0.75 * len(sent) and len(att) >= 0.75 * len(sent)
    stamps = [m.t_ns for m in msgs]
    assert stamps == sorted(stamps) and sent[0] - 10**9 < stamps[0] and stamps[-1] < time.time_ns()


def test_recorder_killed_by_sigkill_keeps_all_but_the_last_second(tmp_path):
    js_topic, att_topic = _topics()
    params_file = tmp_path / "params.yaml"
    params_file.write_text(yaml.safe_dump({"recorder": {"ros__parameters": {
        "topics": [f"{js_topic} sensor_msgs/msg/JointState", f"{att_topic} mavros_msgs/msg/AttitudeTarget reliable"],
        "output_dir": str(tmp_path / "bag"), "flush_period_s": 1.0, "split_duration_s": 1.0}}}))
    proc = subprocess.Popen([sys.executable, "-m", "robot_rl.deploy.nodes.recorder", "--params", str(params_file),
                             "--middleware", "dds"], stdout=subprocess.PIPE, text=True)
    publisher = DdsTransport("test_publisher")
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while "recorder: recording" not in proc.stdout.readline():
            assert time.monotonic() < deadline and proc.poll() is None, "recorder did not start"
        sent = _publish(publisher, js_topic, att_topic, duration_s=2.6)
    finally:
        kill_ns = time.time_ns()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)
        publisher.shutdown()
    assert recover_bag(tmp_path / "bag").repaired
    check_bag(tmp_path / "bag")
    msgs = list(read_bag(tmp_path / "bag"))
    js, att = _check_values(msgs, js_topic, att_topic)
    # every message published more than 1.2 s before the kill is in the bag (flush period 1 s + slack)
    old_enough = [k for k, t in enumerate(sent) if t < kill_ns - 1.2e9]
    assert js[-1] >= old_enough[-1] and att[-1] >= old_enough[-1]
    print(f"recorder SIGKILL lost the last {(kill_ns - msgs[-1].t_ns) / 1e9:.3f} s")


class _NoTransport:
    name = "none"


def test_parameter_errors_name_the_problem(tmp_path):
    stop = threading.Event()
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "old.mcap").write_bytes(b"x")
    base = {"topics": ["/js sensor_msgs/msg/JointState"], "output_dir": str(tmp_path / "used")}
    with pytest.raises(ParameterError, match=f"'output_dir'.*{tmp_path / 'used'}.*not empty"):
        run_recorder(_NoTransport(), base, stop)
    with pytest.raises(ParameterError, match="unknown message type 'foo_msgs/msg/Bar'"):
        RecorderConfig.from_parameters({**base, "topics": ["/x foo_msgs/msg/Bar"]})
    with pytest.raises(ParameterError, match="should be"):
        RecorderConfig.from_parameters({**base, "topics": ["no_slash sensor_msgs/msg/JointState"]})
    with pytest.raises(ParameterError, match="QoS 'fast'"):
        RecorderConfig.from_parameters({**base, "topics": ["/js sensor_msgs/msg/JointState fast"]})
    with pytest.raises(ParameterError, match=r"unknown parameters \['outdir'\]"):
        RecorderConfig.from_parameters({**base, "outdir": "x"})
    with pytest.raises(ParameterError, match="missing parameter 'output_dir'"):
        RecorderConfig.from_parameters({"topics": base["topics"]})
