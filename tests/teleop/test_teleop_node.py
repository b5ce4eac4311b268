"""The device node: publishing schedule (injected clock), config checks, and Joy over real CycloneDDS."""

import io
import os
import subprocess
import sys
import termios
import threading
import time
import uuid
from pathlib import Path

import pytest

from robot_rl.cli.main import main
from robot_rl.deploy.msgs import Joy, ns_from_stamp
from robot_rl.deploy.nodes.common import ParameterError
from robot_rl.deploy.teleop_node import TeleopConfig, pump, run_teleop
from robot_rl.deploy.transport import COMMAND_QOS, make_transport
from robot_rl.teleop.devices import DeviceEnded, JoyEmitter
from robot_rl.teleop.devices.evdev_joy import RecordedEventSource
from robot_rl.teleop.devices.events import ABS_X, EV_ABS, EV_SYN, SYN_REPORT, XBOX360, EvdevJoyCore, pack_event
from robot_rl.teleop.devices.keyboard import KeyboardSource

RECORDING = Path(__file__).parent / "data" / "xbox360_takeover.bin"  # see data/make_recordings.py
DEADLINE_S = 30.0
REST = ((0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0), (0,) * 11)  # Xbox 360 at rest (triggers released = +1)
RB = (REST[0], (0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0))  # RB (the enable button) held
RB_UP = ((0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0), RB[1])  # ... and the left stick fully up


def replay(pace=True):
    """The shipped recording as a source on an injected clock that advances only when the replay waits."""
    now = [0]

    def sleep(seconds):
        now[0] += round(seconds * 1e9)

    with open(RECORDING, "rb") as stream:
        source = RecordedEventSource(stream, EvdevJoyCore(XBOX360, 0.05), RECORDING.name, pace, lambda: now[0], sleep)
    return source, now


def run_pump(rate_hz, coalesce_s):
    source, now = replay()
    sent = []
    with pytest.raises(DeviceEnded, match="end of recording"):
        pump(source, JoyEmitter(rate_hz, coalesce_s), lambda f: sent.append((now[0] // 1_000_000, (f.axes, f.buttons))),
             threading.Event(), lambda: now[0])
    return sent


def test_schedule_autorepeat_20hz_hand_computed():
    # recording: 0 ms RB; 100 ms RB + stick up; 200 ms drift inside the deadzone (no change); 300 ms released.
    # 20 Hz: the state again 50 ms after each message; button changes at once; at 100 ms the axis change is due
    # both by coalescing (100 + 1 ms) and by autorepeat (50 + 50 ms): one message at 100.
    assert run_pump(20.0, 0.001) == [(0, REST), (0, RB), (50, RB), (100, RB_UP), (150, RB_UP), (200, RB_UP),
                                     (250, RB_UP), (300, REST)]


def test_schedule_on_change_only_with_coalescing():
    # autorepeat off: only changes; the axis-only change at 100 ms goes out 1 ms later (coalesce interval)
    assert run_pump(0.0, 0.001) == [(0, REST), (0, RB), (101, RB_UP), (300, REST)]


def test_a_change_still_coalescing_goes_out_when_the_input_ends():
    # a stream whose last packet moves LX fully left (-32768 -> +1 in joy's sign) and then ends: the axis change
    # would wait 1 ms to coalesce, but the end comes first; it goes out before DeviceEnded, not lost
    stream = io.BytesIO(pack_event(5, 0, EV_ABS, ABS_X, -32768) + pack_event(5, 0, EV_SYN, SYN_REPORT, 0))
    now = [0]
    source = RecordedEventSource(stream, EvdevJoyCore(XBOX360, 0.05), "mem", True, lambda: now[0], lambda s: None)
    sent = []
    with pytest.raises(DeviceEnded):
        pump(source, JoyEmitter(0.0, 0.001), lambda f: sent.append(f.axes[0]), threading.Event(), lambda: now[0])
    assert sent == [0.0, 1.0]


def test_config_is_checked():
    assert TeleopConfig.from_parameters({}).topic == "/robot_rl/operator/joy"
    for params, match in [({"kind": "mouse"}, "choose one of"), ({"rate_hz": -1.0}, "rate_hz"),
                          ({"deadzone": 1.0}, "deadzone"), ({"hold_s": 0}, "hold_s"), ({"rate": 5}, "unknown"),
                          ({"deadzone": "x"}, "should be float")]:
        with pytest.raises(ParameterError, match=match):
            TeleopConfig.from_parameters(params)


class Gated:
    """The real recorded source, held back until the test's subscriber has heard the node (discovery done)."""

    def __init__(self, inner, gate):
        self.inner, self.gate, self.identity = inner, gate, inner.identity

    def current(self):
        return self.inner.current()

    def rest(self):
        return self.inner.rest()

    def poll(self, timeout_s):
        return self.inner.poll(timeout_s) if self.gate.wait(timeout_s) else []

    def close(self):
        self.inner.close()


def collapse(messages):
    states = [(tuple(m.axes), tuple(m.buttons)) for m in messages]
    return [s for i, s in enumerate(states) if i == 0 or s != states[i - 1]]


def spin_until(condition, transport, what):
    end = time.monotonic() + DEADLINE_S
    while not condition():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        transport.spin_once(0.05)


def test_recorded_stream_over_cyclonedds(ros_domain_id):
    topic = f"/robot_rl/operator/joy_{uuid.uuid4().hex[:8]}"
    sub, node = make_transport("dds", "joy_listener"), make_transport("dds", "teleop")
    received, result, gate, stop = [], [], threading.Event(), threading.Event()
    sub.create_subscription(topic, Joy, received.append, COMMAND_QOS)
    source, _ = replay(pace=False)
    # coalescing off: every change goes out at once even when one poll brings several (pace=False brings all)
    params = {"kind": "joy", "topic": topic, "operator_id": "alice", "rate_hz": 50.0, "coalesce_interval_ms": 0.0}
    t0 = time.time_ns()
    thread = threading.Thread(target=lambda: result.append(run_teleop(node, params, stop, source=Gated(source, gate))))
    thread.start()
    try:
        spin_until(lambda: received, sub, "the node's first Joy (the state at rest, repeated at 50 Hz)")
        gate.set()
        # every change goes out at once and the reader keeps 10: the order of states does not depend on speed
        spin_until(lambda: not thread.is_alive() and len(collapse(received)) >= 4, sub, "the replayed states")
    finally:
        stop.set()
        thread.join(DEADLINE_S)
        node.shutdown()
        sub.shutdown()
    t1 = time.time_ns()
    assert result == [0]  # end of the recording is a clean end
    assert collapse(received) == [REST, RB, RB_UP, REST]
    assert all(m.header.frame_id == "alice" for m in received)
    stamps = [ns_from_stamp(m.header.stamp) for m in received]  # transport.now_ns() at publishing
    assert stamps == sorted(stamps) and t0 <= stamps[0] and stamps[-1] <= t1


def test_unopenable_device_is_one_line_and_code_3(capsys, ros_domain_id):
    node = make_transport("dds", "teleop")
    try:
        assert run_teleop(node, {"kind": "joy", "device": "/nonexistent/event99"}, threading.Event()) == 3
    finally:
        node.shutdown()
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("teleop: ") and "event99" in out[0]


def test_terminal_restored_when_the_node_fails(ros_domain_id):
    master, slave = os.openpty()
    before = termios.tcgetattr(slave)
    node = make_transport("dds", "teleop")
    try:
        with pytest.raises(ValueError):  # an invalid topic name fails after the keyboard took the terminal
            run_teleop(node, {"kind": "keyboard", "topic": "/"}, threading.Event(),
                       source=KeyboardSource(slave, "pty"))
        assert termios.tcgetattr(slave) == before
    finally:
        node.shutdown()
        os.close(master)
        os.close(slave)


def test_cli_replays_a_recording(capsys, ros_domain_id):
    # the operator section of launch/arm.yaml gives the topic; the flags the recording
    code = main(["teleop", "joy", "--params", "launch/arm.yaml", "--device", str(RECORDING), "--layout", "xbox360",
                 "--middleware", "dds", "--set", "rate_hz=10"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "teleop: joy:" in out and "-> /robot_rl/operator/joy (sensor_msgs/Joy) at 10 Hz" in out
    assert "end of recording after 9 records, 7 bytes of a truncated record dropped; published" in out
    assert main(["teleop", "joy", "--device", "/nonexistent/event99", "--middleware", "dds"]) == 3


def test_cli_keyboard_in_a_terminal(ros_domain_id):
    """`robot-rl teleop keyboard` in a real pty: a key moves an axis, q quits with a released Joy last."""
    topic = f"/robot_rl/operator/joy_{uuid.uuid4().hex[:8]}"
    master, slave = os.openpty()
    before, tty_name = termios.tcgetattr(slave), os.ttyname(slave)
    sub = make_transport("dds", "joy_listener")
    received = []
    sub.create_subscription(topic, Joy, received.append, COMMAND_QOS)
    proc = subprocess.Popen([sys.executable, "-m", "robot_rl.cli.main", "teleop", "keyboard", "--middleware", "dds",
                             "--topic", topic], stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        spin_until(lambda: received, sub, "the keyboard node's first Joy")
        os.write(master, b"w")
        spin_until(lambda: any(m.axes[1] == 1.0 for m in received), sub, "the 'w' key on axis 1")
        os.write(master, b"q")
        out, err = proc.communicate(timeout=DEADLINE_S)
        restored = termios.tcgetattr(slave) == before  # the child gave the terminal its mode back
        spin_until(lambda: (tuple(received[-1].axes), tuple(received[-1].buttons)) == REST, sub, "the released Joy")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        sub.shutdown()
        os.close(master)
        os.close(slave)
    assert proc.returncode == 0, err
    assert "quit key" in out and "Traceback" not in err
    assert received[0].header.frame_id == f"keyboard:{tty_name}"
    assert restored
