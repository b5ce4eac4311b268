"""A terminal keyboard as a gamepad: `robot-rl teleop keyboard` publishes the Joy an Xbox 360 pad would.

The Joy has the xpad layout under the ROS joy order (`events.XBOX360`: 8 axes, 11 buttons), so one joy map serves a
gamepad and the keyboard:

| keys | Joy | meaning on a pad |
| --- | --- | --- |
| w / s | axis 1 = +1 / -1 | left stick up / down |
| a / d | axis 0 = +1 / -1 | left stick left / right (joy sign: left = +1) |
| i / k | axis 4 = +1 / -1 | right stick up / down |
| j / l | axis 3 = +1 / -1 | right stick left / right |
| space | button 5 toggled | RB: the enable (deadman) button |
| W A S D I J K L (shift) | the same axis, and button 4 | LB: the turbo button |
| y | button 3 | Y: mark the episode a success |
| n | button 1 | B: mark the episode a failure |
| q, Ctrl-C, Ctrl-D | end | quit (one released Joy goes out last) |

Terminals send no key-up events, only the key again while it is held (after the terminal's initial autorepeat
delay, typically 250-660 ms; `xset r rate 200 30` shortens it). So a key holds its axis (or button) for `hold_s`
(0.3 s) after its last byte, then the axis decays to rest: a held key moves continuously once autorepeat starts,
with a short gap after the first press when the terminal's initial delay exceeds `hold_s`. The opposite key of the
same axis takes over at once. Because a keyboard cannot sense a hand leaving it, space *toggles* the enable button
(press to take over, press again to hand back) instead of being held; quitting releases it. Triggers (axes 2, 5)
stay released (+1.0, joy's sign) and the d-pad (axes 6, 7) centred.

The terminal is put in non-canonical mode without echo and without signal keys (Ctrl-C arrives as a byte and quits
cleanly), and restored on `close`, also after an exception.
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
import termios
import time
from collections.abc import Callable

from robot_rl.teleop.devices.events import XBOX360
from robot_rl.teleop.devices.frame import DeviceEnded, DeviceError, JoyFrame

AXIS_KEYS: dict[str, tuple[int, float]] = {
    "w": (1, 1.0), "s": (1, -1.0), "a": (0, 1.0), "d": (0, -1.0),
    "i": (4, 1.0), "k": (4, -1.0), "j": (3, 1.0), "l": (3, -1.0),
}  # fmt: skip
"""Key -> (Joy axis, value)."""
BUTTON_KEYS: dict[str, int] = {"y": 3, "n": 1}
"""Key -> Joy button pulsed for `hold_s` (Y: success, B: failure)."""
ENABLE_KEY, ENABLE_BUTTON = " ", 5
TURBO_BUTTON = 4
QUIT_KEYS = frozenset({"q", "\x03", "\x04"})
"""q, Ctrl-C, Ctrl-D."""
N_AXES, N_BUTTONS = len(XBOX360.axes), len(XBOX360.buttons)
REST_AXES = (0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
"""Xbox 360 pad at rest in joy's sign: sticks and d-pad centred, triggers released (+1)."""


class KeyboardJoy:
    """Pure keyboard -> Joy state: keys pressed at given times, read at given times (see the module docstring).

    Args:
        hold_s: how long a key holds its axis or button after its last byte, s.

    """

    def __init__(self, hold_s: float = 0.3) -> None:
        if not hold_s > 0:
            raise ValueError(f"hold_s {hold_s} must be > 0")
        self.hold_ns = round(hold_s * 1e9)
        self.axis_until: dict[int, tuple[float, int]] = {}
        """Joy axis -> (value, time until which it holds, ns)."""
        self.button_until: dict[int, int] = {}
        self.enabled = False
        self.quit = False
        self.ignored = 0
        """Bytes that are no key of the table (escape sequences, other keys)."""

    def press(self, key: str, now_ns: int) -> None:
        """Key `key` (one character) arrived at `now_ns`."""
        until = now_ns + self.hold_ns
        if key in QUIT_KEYS:
            self.quit = True
        elif key == ENABLE_KEY:
            self.enabled = not self.enabled
        elif key.lower() in AXIS_KEYS:
            axis, value = AXIS_KEYS[key.lower()]
            self.axis_until[axis] = (value, until)
            if key.isupper():
                self.button_until[TURBO_BUTTON] = until
        elif key in BUTTON_KEYS:
            self.button_until[BUTTON_KEYS[key]] = until
        else:
            self.ignored += 1

    def frame(self, now_ns: int) -> JoyFrame:
        """The Joy state at `now_ns`."""
        axes = list(REST_AXES)
        for axis, (value, until) in self.axis_until.items():
            if now_ns < until:
                axes[axis] = value
        buttons = [0] * N_BUTTONS
        for button, until in self.button_until.items():
            buttons[button] = int(now_ns < until)
        buttons[ENABLE_BUTTON] = int(self.enabled)
        return JoyFrame(tuple(axes), tuple(buttons))

    def next_change_ns(self, now_ns: int) -> int | None:
        """When the next held key expires (after `now_ns`), or None."""
        times = [u for _, u in self.axis_until.values() if u > now_ns] + [u for u in self.button_until.values()
                                                                           if u > now_ns]
        return min(times, default=None)


class KeyboardSource:
    """Joy states from the keys typed on terminal `fd` (see the module docstring).

    Args:
        fd: a terminal's descriptor (the controlling terminal, or a pty in tests).
        identity: the terminal's name.
        hold_s: see `KeyboardJoy`.
        clock: monotonic clock, ns (injectable for tests).
        close_fd: close `fd` on `close` (when this source opened it).

    """

    def __init__(self, fd: int, identity: str, hold_s: float = 0.3, clock: Callable[[], int] = time.monotonic_ns,
                 close_fd: bool = False) -> None:
        self.fd, self.identity, self.clock, self.close_fd = fd, identity, clock, close_fd
        self.keys = KeyboardJoy(hold_s)
        try:
            self.saved = termios.tcgetattr(fd)
        except termios.error as e:
            raise DeviceError(f"{identity}: not a terminal ({e})") from e
        mode = termios.tcgetattr(fd)
        mode[3] &= ~(termios.ICANON | termios.ECHO | termios.ISIG)  # lflag: byte at a time, no echo, Ctrl-C a byte
        mode[6][termios.VMIN], mode[6][termios.VTIME] = 0, 0
        termios.tcsetattr(fd, termios.TCSANOW, mode)
        self.last = self.keys.frame(clock())

    def current(self) -> JoyFrame:
        """The last state given out."""
        return self.last

    def rest(self) -> JoyFrame:
        """Everything released (enable off), axes at rest."""
        return JoyFrame(REST_AXES, (0,) * N_BUTTONS)

    def poll(self, timeout_s: float) -> list[JoyFrame]:
        """Wait at most `timeout_s` (less when a held key expires sooner) for keys; the new state if it changed."""
        now = self.clock()
        expiry = self.keys.next_change_ns(now)
        wait = timeout_s if expiry is None else min(timeout_s, (expiry - now) / 1e9)
        if select.select([self.fd], [], [], max(wait, 0.0))[0]:
            try:
                data = os.read(self.fd, 1024)
            except OSError as e:  # the terminal went away (hang-up)
                raise DeviceEnded(f"{self.identity}: terminal read failed: {e.strerror or e}", clean=False) from e
            if not data:  # readable yet empty: the terminal hung up (Ctrl-D is a byte in this mode)
                raise DeviceEnded(f"{self.identity}: terminal closed (hang-up)", clean=False)
            now = self.clock()
            for key in data.decode("utf-8", errors="replace"):
                self.keys.press(key, now)
            if self.keys.quit:
                raise DeviceEnded(f"{self.identity}: quit key", clean=True)
        frame = self.keys.frame(self.clock())
        if frame == self.last:
            return []
        self.last = frame
        return [frame]

    def close(self) -> None:
        """Restore the terminal's mode (and close `fd` if this source opened it)."""
        if self.saved is not None:
            with contextlib.suppress(termios.error):  # EIO: the terminal hung up, nothing left to restore
                termios.tcsetattr(self.fd, termios.TCSANOW, self.saved)
            self.saved = None
            if self.close_fd:
                os.close(self.fd)


def open_keyboard(device: str = "", hold_s: float = 0.3) -> KeyboardSource:
    """Keys from terminal `device` ('' = standard input when it is a terminal, else /dev/tty).

    Raises:
        DeviceError: no terminal to read (one-line message).

    """
    if not device and sys.stdin is not None and sys.stdin.isatty():
        fd = sys.stdin.fileno()
        return KeyboardSource(fd, os.ttyname(fd), hold_s)
    path = device or "/dev/tty"
    try:
        fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    except OSError as e:
        raise DeviceError(f"keyboard: cannot open terminal {path}: {e.strerror or e}; run it in a terminal") from e
    try:
        return KeyboardSource(fd, path, hold_s, close_fd=True)
    except DeviceError:
        os.close(fd)
        raise
