"""Gamepads through Linux evdev (`/dev/input/event*`), and recorded `input_event` streams, as Joy states.

    robot-rl teleop joy --list                        # the gamepads evdev sees
    robot-rl teleop joy [--device /dev/input/event5]  # the first gamepad, or that one
    robot-rl teleop joy --device session.bin --layout xbox360   # replay a capture (`cat /dev/input/eventN > FILE`)

python-evdev (`pip install 'robot_rl[teleop]'`, imported only here and only when a device is opened) finds the
devices and reads each one's capabilities, `absinfo` ranges and current state; the records themselves are read from
the device's non-blocking file descriptor with `select` and decoded by `robot_rl.teleop.devices.events`, the same
code that reads recordings and pipes. A device counts as a gamepad as joydev decides which devices get a
`/dev/input/js*` node (`events.is_gamepad`).

Faults end cleanly: no `/dev/input`, no gamepad, permission denied or a missing package are a `DeviceError` with a
one-line message; an unplugged device (`ENODEV` on read) ends the input as not clean, end of a stream as clean
(`DeviceEnded`); the caller then publishes one released Joy.
"""

from __future__ import annotations

import errno
import os
import select
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from robot_rl.teleop.devices.events import (
    EV_ABS,
    EV_KEY,
    EVENT_SIZE,
    LAYOUTS,
    AxisInfo,
    DeviceLayout,
    EvdevJoyCore,
    EventDecoder,
    EventStream,
    Resync,
    is_gamepad,
)
from robot_rl.teleop.devices.frame import DeviceEnded, DeviceError, JoyFrame

INPUT_DIR = Path("/dev/input")
READ_RECORDS = 64
"""Records read per `os.read` of a device."""


class FdEventSource:
    """Joy states from a file descriptor of `input_event` records: an evdev device, a pipe or a FIFO.

    Args:
        fd: a readable descriptor (made non-blocking here).
        core: the state machine of the device's layout.
        identity: what is read (a device path).
        on_close: releases the device (e.g. python-evdev's `InputDevice.close`); None closes nothing.

    """

    def __init__(self, fd: int, core: EvdevJoyCore, identity: str, on_close: Callable[[], None] | None = None) -> None:
        self.fd, self.core, self.identity, self.on_close = fd, core, identity, on_close
        os.set_blocking(fd, False)
        self.decoder = EventDecoder()

    def current(self) -> JoyFrame:
        """The state now."""
        return self.core.frame()

    def rest(self) -> JoyFrame:
        """Everything released, axes at rest."""
        return self.core.rest()

    def poll(self, timeout_s: float) -> list[JoyFrame]:
        """Wait at most `timeout_s` for records; the changed states they complete (see `JoySource.poll`)."""
        if not select.select([self.fd], [], [], max(timeout_s, 0.0))[0]:
            return []
        try:
            data = os.read(self.fd, READ_RECORDS * EVENT_SIZE)
        except BlockingIOError:
            return []
        except OSError as e:
            if e.errno == errno.ENODEV:
                raise DeviceEnded(f"{self.identity}: device unplugged (ENODEV)", clean=False) from e
            raise DeviceEnded(f"{self.identity}: read failed: {e.strerror or e}", clean=False) from e
        if not data:
            tail = f", {self.decoder.pending_bytes} bytes of a truncated record" if self.decoder.pending_bytes else ""
            raise DeviceEnded(f"{self.identity}: end of stream after {self.decoder.records} records{tail}", clean=True)
        return [frame for _, frame in self.core.feed(self.decoder.feed(data))]

    def close(self) -> None:
        """Release the device."""
        if self.on_close is not None:
            self.on_close()
            self.on_close = None


class RecordedEventSource:
    """Joy states replayed from a recorded stream of `input_event` records, paced by their timestamps.

    The whole stream is decoded at open (a truncated trailing record is counted and dropped). With `pace` each
    state is given out `t_event - t_first_event` after the first `poll`, else all at the first `poll`.

    Args:
        stream: the recording, binary.
        core: the state machine of the recorded device's layout.
        identity: what is replayed (the file name).
        pace: replay at the recorded timing.
        clock: monotonic clock, ns; `sleep` waits s (both injectable for tests).
        sleep: waits the given seconds.

    """

    def __init__(self, stream: BinaryIO, core: EvdevJoyCore, identity: str, pace: bool = True,
                 clock: Callable[[], int] = time.monotonic_ns, sleep: Callable[[float], None] = time.sleep) -> None:
        self.core, self.identity, self.pace, self.clock, self.sleep = core, identity, pace, clock, sleep
        self.initial, self.rest_frame = core.frame(), core.rest()
        records = EventStream(stream)
        events = list(records)
        self.first_ns = events[0].time_ns if events else 0
        self.frames = core.feed(events)
        self.records, self.truncated_bytes = records.records, records.truncated_bytes
        self.start_ns: int | None = None
        self.next = 0
        self.last = self.initial

    def current(self) -> JoyFrame:
        """The last state given out (the layout's rest before the first)."""
        return self.last

    def rest(self) -> JoyFrame:
        """Everything released, axes at rest."""
        return self.rest_frame

    def poll(self, timeout_s: float) -> list[JoyFrame]:
        """The states due by now (waiting at most `timeout_s` for the next one); DeviceEnded after the last."""
        if self.next >= len(self.frames):
            tail = f", {self.truncated_bytes} bytes of a truncated record dropped" if self.truncated_bytes else ""
            raise DeviceEnded(f"{self.identity}: end of recording after {self.records} records{tail}", clean=True)
        now = self.clock()
        if self.start_ns is None:
            self.start_ns = now
        if self.pace:
            wait_ns = self.start_ns + self.frames[self.next][0] - self.first_ns - now
            if wait_ns > timeout_s * 1e9:
                self.sleep(max(timeout_s, 0.0))
                return []
            if wait_ns > 0:
                self.sleep(wait_ns / 1e9)
            now = self.clock()
        out = []
        while self.next < len(self.frames) and (not self.pace or self.frames[self.next][0] - self.first_ns
                                                 <= now - self.start_ns):
            out.append(self.frames[self.next][1])
            self.next += 1
        self.last = out[-1] if out else self.last
        return out

    def close(self) -> None:
        """Nothing to release (the caller owns the stream)."""


@dataclass(frozen=True)
class GamepadInfo:
    """One input device as `--list` shows it."""

    path: str
    name: str
    axes: int
    buttons: int
    error: str = ""
    """Why it could not be opened ('' when it could)."""


def import_evdev() -> Any:  # noqa: ANN401 - the python-evdev module
    """The python-evdev module, or a DeviceError naming the package to install."""
    try:
        import evdev
    except ImportError as e:
        raise DeviceError("the gamepad reader needs the 'evdev' package: pip install 'robot_rl[teleop]' "
                          "(or pip install evdev)") from e
    return evdev


def layout_of(device: Any) -> DeviceLayout:  # noqa: ANN401 - an evdev.InputDevice
    """The Joy layout of a python-evdev `InputDevice` (from its capabilities with `absinfo`)."""
    caps = device.capabilities(absinfo=True)
    axes = [AxisInfo(code, info.min, info.max) for code, info in caps.get(EV_ABS, []) if info.max > info.min]
    return DeviceLayout.from_capabilities(axes, caps.get(EV_KEY, []), device.name)


def list_gamepads() -> list[GamepadInfo]:
    """Every evdev device that reports axes or joystick buttons (devices that cannot be opened, with why)."""
    evdev = import_evdev()
    out = []
    for path in sorted(evdev.list_devices()):
        try:
            device = evdev.InputDevice(path)
        except OSError as e:
            out.append(GamepadInfo(path, "?", 0, 0, e.strerror or str(e)))
            continue
        try:
            layout = layout_of(device)
            if is_gamepad(layout):
                out.append(GamepadInfo(path, device.name, len(layout.axes), len(layout.buttons)))
        finally:
            device.close()
    return out


def _resync_of(device: Any, layout: DeviceLayout) -> Resync:  # noqa: ANN401 - an evdev.InputDevice
    def resync() -> tuple[list[int], dict[int, int]]:
        return device.active_keys(), {a.code: device.absinfo(a.code).value for a in layout.axes}

    return resync


def open_gamepad(device: str = "", deadzone: float = 0.05, layout: str = "") -> FdEventSource | RecordedEventSource:
    """A Joy source on gamepad `device` ('' = the first gamepad), or on a recording with a named `layout`.

    Raises:
        DeviceError: no /dev/input, no gamepad, no such device, permission denied, not a gamepad, missing package,
            unknown layout (one-line messages).

    """
    if device and Path(device).is_file():
        return open_recording(device, layout, deadzone)
    evdev = import_evdev()
    if not device:
        if not INPUT_DIR.is_dir():
            raise DeviceError(f"no gamepad: {INPUT_DIR} does not exist on this machine")
        found = [g for g in list_gamepads() if not g.error]
        if not found:
            raise DeviceError(f"no gamepad found in {INPUT_DIR} (see `robot-rl teleop joy --list`)")
        device = found[0].path
    try:
        dev = evdev.InputDevice(device)
    except FileNotFoundError as e:
        raise DeviceError(f"{device}: no such device") from e
    except PermissionError as e:
        raise DeviceError(f"{device}: permission denied: add your user to the 'input' group or add a udev rule") from e
    except OSError as e:
        raise DeviceError(f"{device}: cannot open: {e.strerror or e}") from e
    shape = layout_of(dev)
    if not is_gamepad(shape):
        dev.close()
        raise DeviceError(f"{device} ({dev.name}) reports no joystick axes or buttons: not a gamepad")
    resync = _resync_of(dev, shape)
    core = EvdevJoyCore(shape, deadzone, resync=resync)
    core.set_state(*resync())
    return FdEventSource(dev.fd, core, device, on_close=dev.close)


def open_recording(path: str, layout: str, deadzone: float = 0.05, pace: bool = True) -> RecordedEventSource:
    """A paced replay of recording `path`, decoded with named layout `layout` (a key of `LAYOUTS`)."""
    if layout not in LAYOUTS:
        raise DeviceError(f"{path}: a recording needs a named layout (one of {sorted(LAYOUTS)}), got {layout!r}")
    with open(path, "rb") as stream:
        return RecordedEventSource(stream, EvdevJoyCore(LAYOUTS[layout], deadzone), path, pace)
