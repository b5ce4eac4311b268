"""Keyboard reader: keys -> Joy with hold/decay, pure and on a real pty (bytes fed through the master side)."""

import os
import termios

import pytest

from robot_rl.teleop.devices import DeviceEnded, DeviceError
from robot_rl.teleop.devices.keyboard import REST_AXES, KeyboardJoy, KeyboardSource, open_keyboard

MS = 1_000_000


def axes_with(**values):
    axes = list(REST_AXES)
    for name, v in values.items():
        axes[int(name[1:])] = v
    return tuple(axes)


def test_keys_hold_their_axis_for_hold_s_then_decay():
    k = KeyboardJoy(hold_s=0.3)
    k.press("w", 0)
    assert k.frame(0).axes == axes_with(a1=1.0)  # w: left stick up, joy sign +1
    assert k.frame(299 * MS).axes == axes_with(a1=1.0)  # held until 0 + 300 ms
    assert k.frame(300 * MS).axes == REST_AXES  # no repeat within 0.3 s: decayed (triggers stay released = +1)
    k.press("w", 250 * MS)  # a repeat at 250 ms extends it to 550 ms
    assert k.frame(549 * MS).axes == axes_with(a1=1.0) and k.frame(550 * MS).axes == REST_AXES
    k.press("s", 251 * MS)  # the opposite key takes the axis over at once
    assert k.frame(251 * MS).axes == axes_with(a1=-1.0)
    k.press("a", 260 * MS)
    k.press("l", 260 * MS)
    assert k.frame(260 * MS).axes == axes_with(a0=1.0, a1=-1.0, a3=-1.0)
    assert k.next_change_ns(260 * MS) == 551 * MS  # s expires first (251 + 300 ms)


def test_enable_toggles_marks_pulse_turbo_and_quit():
    k = KeyboardJoy(hold_s=0.3)
    k.press(" ", 0)
    assert k.frame(0).buttons[5] == 1 and k.frame(10**12).buttons[5] == 1  # RB (enable) toggled on, no decay
    k.press("y", 0)
    k.press("n", 0)
    b = k.frame(100 * MS).buttons
    assert (b[3], b[1]) == (1, 1)  # Y (success) and B (failure) pulsed for hold_s
    assert k.frame(300 * MS).buttons == (0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0)
    k.press("W", 400 * MS)  # shift: the same axis plus the turbo button LB (4)
    assert k.frame(400 * MS).axes == axes_with(a1=1.0) and k.frame(400 * MS).buttons[4] == 1
    k.press(" ", 500 * MS)
    assert k.frame(500 * MS).buttons[5] == 0
    k.press("\x1b", 500 * MS)  # an escape byte (arrow keys) is no key of the table
    assert k.ignored == 1 and not k.quit
    k.press("q", 600 * MS)
    assert k.quit
    with pytest.raises(ValueError, match="hold_s"):
        KeyboardJoy(hold_s=0.0)


@pytest.fixture
def pty_pair():
    master, slave = os.openpty()
    yield master, slave
    os.close(master)
    os.close(slave)


def test_pty_raw_mode_keys_and_restore(pty_pair):
    master, slave = pty_pair
    before = termios.tcgetattr(slave)
    now = [0]
    source = KeyboardSource(slave, os.ttyname(slave), hold_s=0.3, clock=lambda: now[0])
    try:
        lflag = termios.tcgetattr(slave)[3]
        assert not lflag & (termios.ICANON | termios.ECHO | termios.ISIG)  # byte at a time, no echo, Ctrl-C a byte
        assert source.current().axes == REST_AXES
        os.write(master, b"w")
        # poll waits at most 5 s (wall) for the byte already written; the result does not depend on that time
        assert [f.axes for f in source.poll(5.0)] == [axes_with(a1=1.0)]
        now[0] = 200 * MS
        os.write(master, b"w ")  # the terminal's autorepeat, then space
        assert [f.buttons[5] for f in source.poll(5.0)] == [1]  # axis unchanged, enable toggled on
        now[0] = 499 * MS  # the repeat at 200 ms holds until 500 ms
        assert source.poll(0.0) == []
        now[0] = 500 * MS
        (decayed,) = source.poll(0.0)
        assert decayed.axes == REST_AXES and decayed.buttons[5] == 1
        os.write(master, b"\x03")  # Ctrl-C arrives as a byte (ISIG off) and quits cleanly
        with pytest.raises(DeviceEnded, match="quit") as end:
            source.poll(5.0)
        assert end.value.clean
        assert source.rest().buttons == (0,) * 11 and source.rest().axes == REST_AXES
    finally:
        source.close()
    assert termios.tcgetattr(slave) == before  # the terminal's mode is back


def test_terminal_hang_up_ends_the_input_not_cleanly():
    master, slave = os.openpty()
    source = KeyboardSource(slave, "pty")
    os.close(master)  # hang-up: the terminal's other side goes away
    try:
        with pytest.raises(DeviceEnded) as end:
            for _ in range(10):  # bounded; each poll returns at once on a hung-up terminal
                source.poll(5.0)
        assert not end.value.clean
    finally:
        source.close()  # no error: there is no terminal left to restore
        os.close(slave)


def test_open_keyboard_on_a_named_terminal_and_on_a_non_terminal(pty_pair, tmp_path):
    _, slave = pty_pair
    source = open_keyboard(os.ttyname(slave))
    try:
        assert source.identity == os.ttyname(slave)
    finally:
        source.close()
    not_a_tty = tmp_path / "file"
    not_a_tty.write_text("")
    with pytest.raises(DeviceError, match="not a terminal"):
        open_keyboard(str(not_a_tty))
    with pytest.raises(DeviceError, match="cannot open terminal"):
        open_keyboard(str(tmp_path / "missing"))
