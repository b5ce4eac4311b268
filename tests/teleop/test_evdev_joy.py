"""Gamepad reader: input_event records -> Joy, on recorded binary streams (and on a uinput device where one exists)."""

import io
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from robot_rl.teleop.devices import DeviceEnded, DeviceError, JoyEmitter, JoyFrame
from robot_rl.teleop.devices.evdev_joy import FdEventSource, RecordedEventSource, open_gamepad, open_recording
from robot_rl.teleop.devices.events import (
    ABS_HAT0X,
    ABS_X,
    ABS_Y,
    ABS_Z,
    BTN_A,
    BTN_B,
    BTN_MISC,
    EV_ABS,
    EV_KEY,
    EV_SYN,
    EVENT_SIZE,
    SYN_DROPPED,
    SYN_REPORT,
    XBOX360,
    AxisInfo,
    DeviceLayout,
    EvdevJoyCore,
    EventDecoder,
    EventStream,
    is_gamepad,
    joy_button_order,
    normalize_axes,
    pack_event,
)

DATA = Path(__file__).parent / "data"
EV_MSC, MSC_SCAN, KEY_A = 0x04, 4, 30

# A small pad with easy numbers: a stick axis -100..100, a trigger 0..200, a hat -1..1, buttons A and B.
PAD = DeviceLayout.from_capabilities(
    [AxisInfo(ABS_Z, 0, 200), AxisInfo(ABS_X, -100, 100), AxisInfo(ABS_HAT0X, -1, 1)], [BTN_B, BTN_A], "pad")


def ev(t_s, ev_type, code, value):
    """One record at t_s seconds (as the kernel stamps it: seconds + microseconds)."""
    usec = round(t_s * 1e6)
    return pack_event(usec // 1_000_000, usec % 1_000_000, ev_type, code, value)


def syn(t_s):
    return ev(t_s, EV_SYN, SYN_REPORT, 0)


def frames_of(core, data):
    return [frame for _, frame in core.feed(EventDecoder().feed(data))]


def test_record_is_the_native_input_event_struct():
    # struct input_event { struct timeval { long tv_sec; long tv_usec; }; __u16 type, code; __s32 value; }
    assert {8: 24, 4: 16}[struct.calcsize("l")] == EVENT_SIZE  # 24 on x86_64 (64-bit longs), 16 on 32-bit ABIs
    raw = pack_event(12, 345678, EV_ABS, ABS_Y, -7)
    (event,) = EventDecoder().feed(raw)
    assert (event.sec, event.usec, event.type, event.code, event.value) == (12, 345678, EV_ABS, ABS_Y, -7)
    assert event.time_ns == 12_345_678_000


def test_decoder_reassembles_records_split_across_reads():
    data = ev(0.1, EV_KEY, BTN_A, 1) + syn(0.1) + ev(0.2, EV_ABS, ABS_X, 50)
    decoder, events = EventDecoder(), []
    for cut in range(0, len(data), 7):  # 7-byte chunks cut every record
        events += decoder.feed(data[cut:cut + 7])
    assert [(e.type, e.code, e.value) for e in events] == [(EV_KEY, BTN_A, 1), (EV_SYN, SYN_REPORT, 0),
                                                            (EV_ABS, ABS_X, 50)]
    assert decoder.pending_bytes == 0 and decoder.records == 3


def test_truncated_trailing_record_is_a_clean_end_with_a_count():
    data = ev(0.0, EV_KEY, BTN_A, 1) + syn(0.0) + ev(0.1, EV_KEY, BTN_A, 0)
    stream = EventStream(io.BytesIO(data + data[:10]), chunk_records=2)  # 10 bytes of a 4th record
    assert [e.value for e in stream] == [1, 0, 0]
    assert (stream.records, stream.truncated_bytes) == (3, 10)


def test_normalization_and_deadzone_hand_computed():
    lo, hi = np.array([-100.0, 0.0, -1.0]), np.array([100.0, 200.0, 1.0])
    # stick -100..100: 50 -> n = 0.5 -> (0.5 - 0.05) / 0.95 = 0.473684 -> joy sign -0.473684
    # trigger 0..200 (centre 100, half 100): 0 -> n = -1 -> (-1 + 0.05) / 0.95 = -1 -> +1
    # hat: -1 -> n = -1 -> +1
    got = normalize_axes(np.array([50, 0, -1]), lo, hi, 0.05)
    np.testing.assert_allclose(got, [-0.45 / 0.95, 1.0, 1.0])
    # inside the deadzone: |3/100| = 0.03 <= 0.05 -> 0; just outside, 6 -> (0.06 - 0.05) / 0.95 = 0.010526 -> -0.010526
    stick_lo, stick_hi = np.array([-100.0, -100.0]), np.array([100.0, 100.0])
    np.testing.assert_allclose(normalize_axes(np.array([3, 6]), stick_lo, stick_hi, 0.05), [0.0, -0.01 / 0.95],
                               atol=1e-12)
    # beyond the range is clipped: 150 -> n = 1 -> -1; no inversion keeps the evdev sign
    np.testing.assert_allclose(normalize_axes(np.array([150]), lo[:1], hi[:1], 0.0, invert=False), [1.0])
    # Xbox stick -32768..32767 (centre -0.5, half 32767.5): -32768 -> n = -1 -> +1
    np.testing.assert_allclose(normalize_axes(np.array([-32768]), np.array([-32768.0]), np.array([32767.0]), 0.05),
                               [1.0])
    with pytest.raises(ValueError, match="deadzone"):
        normalize_axes(np.zeros(1), lo[:1], hi[:1], 1.0)


def test_joydev_order_of_axes_and_buttons():
    # buttons: codes >= BTN_JOYSTICK (0x120) first, then BTN_MISC..0x11f; keyboard keys (< BTN_MISC) are not buttons
    assert joy_button_order([BTN_MISC, KEY_A, BTN_A, 0x120, BTN_MISC + 1]) == [0x120, BTN_A, BTN_MISC, BTN_MISC + 1]
    assert [a.code for a in PAD.axes] == [ABS_X, ABS_Z, ABS_HAT0X]
    assert PAD.buttons == (BTN_A, BTN_B)
    # the xpad Xbox 360 pad in ROS joy order: [LX, LY, LT, RX, RY, RT, dpad X, dpad Y], [A B X Y LB RB Back Start...]
    assert [a.code for a in XBOX360.axes] == [0, 1, 2, 3, 4, 5, 16, 17]
    assert XBOX360.buttons == (0x130, 0x131, 0x133, 0x134, 0x136, 0x137, 0x13A, 0x13B, 0x13C, 0x13D, 0x13E)
    with pytest.raises(ValueError, match="range"):
        DeviceLayout((AxisInfo(ABS_X, 5, 5),), ())


def test_which_devices_are_gamepads_follows_joydev():
    mouse_buttons = [0x110, 0x111, 0x112]  # BTN_LEFT, BTN_RIGHT, BTN_MIDDLE (relative axes are not in a layout)
    assert not is_gamepad(DeviceLayout.from_capabilities([], mouse_buttons))
    assert not is_gamepad(DeviceLayout.from_capabilities([], [KEY_A]))  # a keyboard: no buttons at all
    assert is_gamepad(XBOX360) and is_gamepad(PAD)
    assert is_gamepad(DeviceLayout.from_capabilities([], [0x2C0]))  # BTN_TRIGGER_HAPPY1: a d-pad as buttons
    tablet = DeviceLayout.from_capabilities([AxisInfo(ABS_X, 0, 1000)], [0x14A, 0x140])  # BTN_TOUCH, BTN_TOOL_PEN
    assert not is_gamepad(tablet)


def test_state_changes_at_syn_report_only_and_starts_at_rest():
    core = EvdevJoyCore(PAD, deadzone=0.0)
    # rest: stick centred (0), trigger at its minimum (+1 in joy's sign), hat centred
    assert core.frame() == JoyFrame((0.0, 1.0, 0.0), (0, 0))
    assert frames_of(core, ev(0.0, EV_KEY, BTN_A, 1) + ev(0.0, EV_ABS, ABS_X, -100)) == []  # no SYN_REPORT yet
    assert frames_of(core, syn(0.0)) == [JoyFrame((1.0, 1.0, 0.0), (1, 0))]
    # kernel autorepeat (value 2) keeps the button pressed: no change, no frame
    assert frames_of(core, ev(0.1, EV_KEY, BTN_A, 2) + syn(0.1)) == []
    # trigger half way (100 of 0..200 -> n = 0 -> 0), B pressed; a scan code and a keyboard key are ignored
    data = (ev(0.2, EV_MSC, MSC_SCAN, 90001) + ev(0.2, EV_KEY, KEY_A, 1) + ev(0.2, EV_ABS, ABS_Z, 100)
            + ev(0.2, EV_KEY, BTN_B, 1) + syn(0.2))
    assert frames_of(core, data) == [JoyFrame((1.0, 0.0, 0.0), (1, 1))]
    assert core.counts.ignored == 1 and core.counts.by_type == {EV_MSC: 1} and core.counts.packets == 3


def test_syn_dropped_discards_the_packet_and_resyncs():
    press = ev(0.0, EV_KEY, BTN_A, 1) + ev(0.0, EV_ABS, ABS_X, 100) + syn(0.0)
    lost = ev(0.1, EV_SYN, SYN_DROPPED, 0) + ev(0.1, EV_KEY, BTN_B, 1) + syn(0.1)
    # a recording cannot be re-read: everything released, axes at rest (the deadman drops)
    core = EvdevJoyCore(PAD, deadzone=0.0)
    assert frames_of(core, press + lost) == [JoyFrame((-1.0, 1.0, 0.0), (1, 0)), JoyFrame((0.0, 1.0, 0.0), (0, 0))]
    assert core.counts.dropped == 1
    # a device is re-read: B pressed and stick at -50 (-> n = -0.5 -> +0.5) per the device, not the lost events
    core = EvdevJoyCore(PAD, deadzone=0.0, resync=lambda: ([BTN_B], {ABS_X: -50}))
    assert frames_of(core, press + lost)[-1] == JoyFrame((0.5, 1.0, 0.0), (0, 1))
    # events after the resync apply again
    assert frames_of(core, ev(0.2, EV_KEY, BTN_B, 0) + syn(0.2)) == [JoyFrame((0.5, 1.0, 0.0), (0, 0))]


def test_emitter_autorepeat_and_coalesce_with_injected_clock():
    ms = 1_000_000
    a, b = JoyFrame((0.0,), (0,)), JoyFrame((0.5,), (0,))
    e = JoyEmitter(autorepeat_rate_hz=20.0, coalesce_interval_s=0.001)  # repeat every 50 ms
    e.update(a, 0)
    assert e.due(0) == a  # the first state goes out at once
    assert e.due(49 * ms) is None and e.wait_ns(49 * ms) == 1 * ms
    assert e.due(50 * ms) == a  # 1 / 20 Hz after the last message
    e.update(b, 60 * ms)  # axis-only change: waits the 1 ms coalesce interval
    assert e.due(60 * ms) is None and e.due(60 * ms + ms // 2) is None
    assert e.due(61 * ms) == b
    e.update(JoyFrame((0.5,), (1,)), 70 * ms)  # a button change goes out at once
    assert e.due(70 * ms) is not None and e.published == 4
    quiet = JoyEmitter(autorepeat_rate_hz=0.0, coalesce_interval_s=0.0)  # joy's autorepeat_rate 0: on change only
    quiet.update(a, 0)
    assert quiet.due(0) == a and quiet.due(10**12) is None and quiet.wait_ns(0) == float("inf")


def test_recorded_file_replays_at_recorded_pace():
    # tests/teleop/data/xbox360_takeover.bin (written by make_recordings.py there), an Xbox 360 pad:
    # t=0.00 RB pressed; t=0.10 left stick fully up (ABS_Y -32768); t=0.20 drift inside the deadzone (no change);
    # t=0.30 both released; then 7 bytes of a record cut short
    clock = [0]

    def sleep(seconds):  # the injected clock advances only when the replay waits
        clock[0] += round(seconds * 1e9)

    with open(DATA / "xbox360_takeover.bin", "rb") as stream:
        source = RecordedEventSource(stream, EvdevJoyCore(XBOX360, 0.05), "takeover", clock=lambda: clock[0],
                                     sleep=sleep)
    got = []
    with pytest.raises(DeviceEnded, match="end of recording after 9 records, 7 bytes of a truncated record") as end:
        for _ in range(100):
            got += [(clock[0] // 1_000_000, f.axes[1], f.buttons[5]) for f in source.poll(0.05)]
    assert end.value.clean
    assert got == [(0, 0.0, 1), (100, 1.0, 1), (300, 0.0, 0)]  # (ms, LY in joy sign: up = +1, RB)
    assert source.rest().axes == (0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0)  # triggers released = +1
    assert open_recording(str(DATA / "xbox360_takeover.bin"), "xbox360").records == 9


def test_pipe_eof_is_a_clean_end_and_a_partial_record_is_counted():
    read_fd, write_fd = os.pipe()
    source = FdEventSource(read_fd, EvdevJoyCore(PAD, deadzone=0.0), "pipe", on_close=lambda: os.close(read_fd))
    try:
        os.write(write_fd, ev(0.0, EV_KEY, BTN_B, 1) + syn(0.0) + b"\x01\x02\x03")
        assert source.poll(5.0) == [JoyFrame((0.0, 1.0, 0.0), (0, 1))]  # 5 s: at most; the bytes are already there
        os.close(write_fd)
        with pytest.raises(DeviceEnded, match="end of stream after 2 records, 3 bytes of a truncated record") as end:
            source.poll(5.0)
        assert end.value.clean
    finally:
        source.close()


def test_missing_device_and_missing_layout_are_one_line_errors(tmp_path):
    pytest.importorskip("evdev", reason="python-evdev is not installed (the teleop extra)")
    with pytest.raises(DeviceError, match="no such device"):
        open_gamepad(str(tmp_path / "event99"))
    recording = tmp_path / "r.bin"
    recording.write_bytes(syn(0.0))
    with pytest.raises(DeviceError, match="needs a named layout"):
        open_gamepad(str(recording))
    if not Path("/dev/input").is_dir():
        with pytest.raises(DeviceError, match="/dev/input does not exist"):
            open_gamepad("")


UINPUT = Path("/dev/uinput")


@pytest.mark.skipif(not (UINPUT.exists() and os.access(UINPUT, os.W_OK)),
                    reason="no writable /dev/uinput on this machine: the virtual-gamepad test needs the uinput module")
def test_virtual_gamepad_through_uinput_and_unplug():
    evdev = pytest.importorskip("evdev", reason="python-evdev is not installed (the teleop extra)")
    caps = {EV_KEY: [BTN_A, BTN_B], EV_ABS: [(ABS_X, evdev.AbsInfo(0, -100, 100, 0, 0, 0))]}
    ui = evdev.UInput(caps, name="robot_rl-test-pad")
    try:
        source = open_gamepad(ui.device.path, deadzone=0.0)
    except DeviceError:
        ui.close()
        raise
    try:
        assert source.current() == JoyFrame((0.0,), (0, 0))
        ui.write(EV_ABS, ABS_X, 50)
        ui.write(EV_KEY, BTN_B, 1)
        ui.syn()
        got = []
        for _ in range(100):  # bounded: the events are written before the first poll
            got += source.poll(0.1)
            if got:
                break
        assert got == [JoyFrame((-0.5,), (0, 1))]
        ui.close()  # unplug
        with pytest.raises(DeviceEnded) as end:
            for _ in range(100):
                source.poll(0.1)
        assert not end.value.clean and "unplugged" in str(end.value)
    finally:
        source.close()
