"""Linux `input_event` records -> Joy state, as the ROS `joy` node reports a gamepad (pure, no device I/O).

Record format (`<linux/input.h>`): `struct timeval` (seconds, microseconds as two native `long`s), `__u16 type`,
`__u16 code`, `__s32 value`: the native struct format `'llHHi'`, 24 bytes on x86_64. `EventDecoder` turns byte
chunks (from a device's file descriptor, a pipe or a recording) into `InputEvent`s; a trailing partial record at the
end of a stream is counted, not parsed.

State (`EvdevJoyCore`), as the kernel documents evdev (Documentation/input/event-codes.rst):
- `EV_ABS` and `EV_KEY` events update a pending packet that takes effect at the next `SYN_REPORT`; a key value 2
  (kernel autorepeat) counts as pressed.
- `SYN_DROPPED` (the kernel's buffer overflowed): every event up to and including the next `SYN_REPORT` is dropped,
  then the state is re-read from the device (`resync`); a recording cannot be re-read, so there every button is
  released and every axis returns to rest (the safe reading: the deadman drops) until events report them again.
- Codes the layout does not list are ignored and counted.

Order (joydev's, which `joy_linux` and teleop configurations written for it assume): axes by increasing `ABS_*` code;
buttons first the key codes from `BTN_JOYSTICK` (0x120) up, then those from `BTN_MISC` (0x100) to 0x11f; key codes
below `BTN_MISC` (keyboard keys) are not buttons. For an Xbox 360 pad (xpad) that gives the familiar ROS order:
axes `[LX, LY, LT, RX, RY, RT, dpad X, dpad Y]`, buttons `[A, B, X, Y, LB, RB, Back, Start, Guide, LS, RS]`.

Values (as ROS `joy`): an axis is normalized from its `absinfo` range to -1..1, `n = (raw - centre) / half_range`,
clipped; inside `deadzone` it is 0, outside it is rescaled to stay continuous, `(n - sign(n) dz) / (1 - dz)`; then
negated (`invert_axes`, joy's sign: stick left and up = +1, a released trigger = +1). `absinfo.flat` is not applied
(the deadzone is). Buttons are 0/1. At rest (before any event, after an unreadable resync) sticks and hats are
centred and triggers (`ABS_Z`, `ABS_RZ`, `ABS_GAS`, `ABS_BRAKE`) at their minimum.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import BinaryIO, NamedTuple

import numpy as np

from robot_rl.teleop.devices.frame import JoyFrame

EVENT_FORMAT = "llHHi"
"""`struct input_event` on a native ABI: tv_sec, tv_usec (long each), type, code (u16), value (s32)."""
EVENT_SIZE = struct.calcsize(EVENT_FORMAT)
"""Bytes per record (24 on x86_64, 16 on 32-bit ABIs)."""
EV_SYN, EV_KEY, EV_ABS = 0x00, 0x01, 0x03
SYN_REPORT, SYN_DROPPED = 0, 3
BTN_MISC, BTN_JOYSTICK = 0x100, 0x120
KEY_MAX = 0x2FF
ABS_X, ABS_Y, ABS_Z, ABS_RX, ABS_RY, ABS_RZ, ABS_GAS, ABS_BRAKE, ABS_HAT0X, ABS_HAT0Y = 0, 1, 2, 3, 4, 5, 9, 10, 16, 17
BTN_A, BTN_B, BTN_X, BTN_Y, BTN_TL, BTN_TR = 0x130, 0x131, 0x133, 0x134, 0x136, 0x137
BTN_SELECT, BTN_START, BTN_MODE, BTN_THUMBL, BTN_THUMBR = 0x13A, 0x13B, 0x13C, 0x13D, 0x13E
TRIGGER_CODES = frozenset({ABS_Z, ABS_RZ, ABS_GAS, ABS_BRAKE})
"""Absolute axes that rest at their minimum (gamepad triggers); every other axis rests at its centre."""


class InputEvent(NamedTuple):
    """One `struct input_event`."""

    sec: int
    usec: int
    type: int
    code: int
    value: int

    @property
    def time_ns(self) -> int:
        """The event's timestamp, ns (the device's clock: CLOCK_REALTIME unless set otherwise)."""
        return self.sec * 1_000_000_000 + self.usec * 1000


def pack_event(sec: int, usec: int, ev_type: int, code: int, value: int) -> bytes:
    """The native bytes of one record (`EVENT_SIZE` long), as the kernel writes it."""
    return struct.pack(EVENT_FORMAT, sec, usec, ev_type, code, value)


class EventDecoder:
    """Incremental decoder: bytes in any chunking -> whole `InputEvent`s; a partial record waits for the rest."""

    def __init__(self) -> None:
        self._buffer = b""
        self.records = 0
        """Records decoded so far."""

    def feed(self, data: bytes) -> list[InputEvent]:
        """The complete records in the bytes seen so far (the remainder is kept for the next chunk)."""
        data = self._buffer + data
        whole = len(data) - len(data) % EVENT_SIZE
        self._buffer = data[whole:]
        events = [InputEvent(*r) for r in struct.iter_unpack(EVENT_FORMAT, data[:whole])]
        self.records += len(events)
        return events

    @property
    def pending_bytes(self) -> int:
        """Bytes of a partial record; at the end of a stream they are a truncated record, dropped."""
        return len(self._buffer)


class EventStream:
    """The records of a binary stream (a recording), read in chunks; iteration ends cleanly at end of stream.

    After iteration `records` is the number of whole records and `truncated_bytes` the length of a trailing partial
    record (0 for a clean stream), which is not parsed.
    """

    def __init__(self, stream: BinaryIO, chunk_records: int = 256) -> None:
        self.stream, self.chunk = stream, chunk_records * EVENT_SIZE
        self.decoder = EventDecoder()
        self.truncated_bytes = 0

    @property
    def records(self) -> int:
        """Whole records read so far."""
        return self.decoder.records

    def __iter__(self) -> Iterator[InputEvent]:
        while data := self.stream.read(self.chunk):
            yield from self.decoder.feed(data)
        self.truncated_bytes = self.decoder.pending_bytes


@dataclass(frozen=True)
class AxisInfo:
    """An absolute axis: its `ABS_*` code and `absinfo` range (raw device units)."""

    code: int
    minimum: int
    maximum: int


@dataclass(frozen=True)
class DeviceLayout:
    """The axes and buttons a device reports, in Joy order (see the module docstring)."""

    axes: tuple[AxisInfo, ...]
    buttons: tuple[int, ...]
    name: str = ""

    def __post_init__(self) -> None:
        for a in self.axes:
            if a.maximum <= a.minimum:
                raise ValueError(f"{self.name or 'device'}: axis code {a.code} has range [{a.minimum}, {a.maximum}]")
        if [a.code for a in self.axes] != sorted({a.code for a in self.axes}):
            raise ValueError(f"{self.name or 'device'}: axes must be unique and in increasing code order")
        if list(self.buttons) != joy_button_order(self.buttons):
            raise ValueError(f"{self.name or 'device'}: buttons must be joydev-ordered key codes >= BTN_MISC")

    @classmethod
    def from_capabilities(cls, axes: Iterable[AxisInfo], keys: Iterable[int], name: str = "") -> DeviceLayout:
        """The layout of a device with these absolute axes and key codes (any order; keyboard keys dropped)."""
        return cls(tuple(sorted(axes, key=lambda a: a.code)), tuple(joy_button_order(keys)), name)

    def rest_raw(self) -> np.ndarray:
        """Raw axis values at rest `[n_axes]`: triggers at their minimum, the rest centred."""
        return np.array([a.minimum if a.code in TRIGGER_CODES else (a.minimum + a.maximum) / 2 for a in self.axes],
                        dtype=np.float64)


def joy_button_order(keys: Iterable[int]) -> list[int]:
    """Key codes in joydev's button order: codes `BTN_JOYSTICK..KEY_MAX` ascending, then `BTN_MISC..BTN_JOYSTICK-1`."""
    unique = sorted(set(keys))
    return [k for k in unique if BTN_JOYSTICK <= k <= KEY_MAX] + [k for k in unique if BTN_MISC <= k < BTN_JOYSTICK]


BTN_DIGI, BTN_TOUCH, BTN_TRIGGER_HAPPY, BTN_TRIGGER_HAPPY40 = 0x140, 0x14A, 0x2C0, 0x2E7
ABS_THROTTLE, ABS_WHEEL = 6, 8


def is_gamepad(layout: DeviceLayout) -> bool:
    """Whether joydev would take the device: an X, throttle or wheel axis, or joystick buttons; no touch devices."""
    if BTN_TOUCH in layout.buttons:
        return False
    axes = {a.code for a in layout.axes}
    return bool(axes & {ABS_X, ABS_THROTTLE, ABS_WHEEL}) or any(
        BTN_JOYSTICK <= b < BTN_DIGI or BTN_TRIGGER_HAPPY <= b <= BTN_TRIGGER_HAPPY40 for b in layout.buttons)


XBOX360 = DeviceLayout.from_capabilities(
    [AxisInfo(c, -32768, 32767) for c in (ABS_X, ABS_Y, ABS_RX, ABS_RY)]
    + [AxisInfo(c, 0, 255) for c in (ABS_Z, ABS_RZ)] + [AxisInfo(c, -1, 1) for c in (ABS_HAT0X, ABS_HAT0Y)],
    [BTN_A, BTN_B, BTN_X, BTN_Y, BTN_TL, BTN_TR, BTN_SELECT, BTN_START, BTN_MODE, BTN_THUMBL, BTN_THUMBR], "xbox360")
"""The xpad driver's Xbox 360 pad: 8 axes, 11 buttons (the keyboard reader emulates this layout too)."""
LAYOUTS: dict[str, DeviceLayout] = {"xbox360": XBOX360}
"""Named layouts, for recordings (a recording does not carry its device's `absinfo`)."""


def normalize_axes(raw: np.ndarray, minimum: np.ndarray, maximum: np.ndarray, deadzone: float,
                   invert: bool = True) -> np.ndarray:
    """Joy axis values `[n]` in -1..1 from raw device values `[n]` and their ranges `[n]` (device units).

    `n = clip((raw - (min + max) / 2) / ((max - min) / 2), -1, 1)`; `|n| <= deadzone` gives 0, otherwise
    `(n - sign(n) * deadzone) / (1 - deadzone)`; negated when `invert` (the ROS joy sign).
    """
    if not 0.0 <= deadzone < 1.0:
        raise ValueError(f"deadzone {deadzone} must be in [0, 1)")
    centre, half = (minimum + maximum) / 2.0, (maximum - minimum) / 2.0
    n = np.clip((np.asarray(raw, dtype=np.float64) - centre) / half, -1.0, 1.0)
    out = np.where(np.abs(n) <= deadzone, 0.0, (n - np.sign(n) * deadzone) / (1.0 - deadzone))
    return (-out if invert else out) + 0.0  # + 0.0: no negative zeros


Resync = Callable[[], tuple[Iterable[int], Mapping[int, int]]]
"""Re-read a device: `(pressed key codes, {abs code: raw value})` (python-evdev: `active_keys()`, `absinfo()`)."""


@dataclass
class CoreCounts:
    """What the core saw besides state: packets, drops, ignored events."""

    packets: int = 0
    """SYN_REPORT packets applied."""
    dropped: int = 0
    """SYN_DROPPED markers (each followed by a resync)."""
    ignored: int = 0
    """EV_KEY/EV_ABS events for codes not in the layout."""
    by_type: dict[int, int] = field(default_factory=dict)
    """Events of other types (EV_MSC scan codes, EV_FF, ...), by type; not used."""


class EvdevJoyCore:
    """Joy state of one device, updated by `input_event`s (see the module docstring for the rules).

    Args:
        layout: the device's axes and buttons.
        deadzone: joy's `deadzone`, a fraction of the normalized range (0 <= deadzone < 1).
        invert_axes: joy's sign convention (axis = -normalized value).
        resync: re-reads the device after SYN_DROPPED; None (a recording) releases everything instead.

    """

    def __init__(self, layout: DeviceLayout, deadzone: float = 0.05, invert_axes: bool = True,
                 resync: Resync | None = None) -> None:
        self.layout, self.deadzone, self.invert, self.resync = layout, deadzone, invert_axes, resync
        normalize_axes(np.zeros(0), np.zeros(0), np.zeros(0), deadzone)  # validates the deadzone
        self.minimum = np.array([a.minimum for a in layout.axes], dtype=np.float64)
        self.maximum = np.array([a.maximum for a in layout.axes], dtype=np.float64)
        self.axis_index = {a.code: i for i, a in enumerate(layout.axes)}
        self.button_index = {code: i for i, code in enumerate(layout.buttons)}
        self.raw = layout.rest_raw()
        self.pressed = np.zeros(len(layout.buttons), dtype=np.int32)
        self._pending: dict[tuple[int, int], int] = {}
        self._dropping = False
        self.counts = CoreCounts()

    def frame(self) -> JoyFrame:
        """The current Joy state."""
        axes = normalize_axes(self.raw, self.minimum, self.maximum, self.deadzone, self.invert)
        return JoyFrame(tuple(float(np.float32(v)) for v in axes), tuple(int(b) for b in self.pressed))

    def rest(self) -> JoyFrame:
        """The Joy state with every button released and every axis at rest."""
        axes = normalize_axes(self.layout.rest_raw(), self.minimum, self.maximum, self.deadzone, self.invert)
        return JoyFrame(tuple(float(np.float32(v)) for v in axes), (0,) * len(self.layout.buttons))

    def set_state(self, keys: Iterable[int], abs_values: Mapping[int, int]) -> None:
        """Replace the whole state: `keys` pressed (others released), axes from `abs_values` (others unchanged)."""
        down = set(keys)
        self.pressed[:] = [int(code in down) for code in self.layout.buttons]
        for code, value in abs_values.items():
            if code in self.axis_index:
                self.raw[self.axis_index[code]] = value

    def feed(self, events: Iterable[InputEvent]) -> list[tuple[int, JoyFrame]]:
        """Apply `events`; `(time_ns, frame)` for each SYN_REPORT after which the state differs from before it."""
        out = []
        for ev in events:
            if ev.type == EV_SYN and ev.code == SYN_DROPPED:
                self.counts.dropped += 1
                self._dropping, self._pending = True, {}
            elif ev.type == EV_SYN and ev.code == SYN_REPORT:
                before = self.frame()
                self._end_packet()
                if (now := self.frame()) != before:
                    out.append((ev.time_ns, now))
            elif self._dropping or ev.type == EV_SYN:
                continue
            elif ev.type in (EV_KEY, EV_ABS):
                known = self.button_index if ev.type == EV_KEY else self.axis_index
                if ev.code in known:
                    self._pending[(ev.type, ev.code)] = ev.value
                else:
                    self.counts.ignored += 1
            else:
                self.counts.by_type[ev.type] = self.counts.by_type.get(ev.type, 0) + 1
        return out

    def _end_packet(self) -> None:
        self.counts.packets += 1
        if self._dropping:
            self._dropping = False
            if self.resync is not None:
                self.set_state(*self.resync())
            else:
                self.raw, self.pressed[:] = self.layout.rest_raw(), 0
            return
        for (ev_type, code), value in self._pending.items():
            if ev_type == EV_KEY:
                self.pressed[self.button_index[code]] = int(value != 0)  # 1 pressed, 2 kernel autorepeat
            else:
                self.raw[self.axis_index[code]] = value
        self._pending = {}
