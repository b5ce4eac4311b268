"""Operator devices read as `sensor_msgs/Joy` states: a gamepad (evdev), a terminal keyboard, a SpaceMouse.

`SOURCES` is the registry: device kind -> `open(device, options) -> JoySource`. Device packages (`evdev`,
`pyspacemouse`: the `teleop` extra) are imported only when a device of their kind is opened.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from robot_rl.teleop.devices.evdev_joy import open_gamepad
from robot_rl.teleop.devices.frame import DeviceEnded, DeviceError, JoyEmitter, JoyFrame, JoySource
from robot_rl.teleop.devices.keyboard import open_keyboard
from robot_rl.teleop.devices.spacemouse import open_spacemouse


@dataclass(frozen=True)
class DeviceOptions:
    """How to read a device (the teleop node's parameters of the same names)."""

    deadzone: float = 0.05
    """Joy deadzone, fraction of the normalized axis range (gamepad, SpaceMouse)."""
    layout: str = ""
    """Named layout of a recorded event stream (gamepad kind, device = a file), e.g. 'xbox360'."""
    hold_s: float = 0.3
    """Keyboard: how long a key holds its axis after its last byte, s."""


SOURCES: dict[str, Callable[[str, DeviceOptions], JoySource]] = {
    "joy": lambda device, o: open_gamepad(device, o.deadzone, o.layout),
    "keyboard": lambda device, o: open_keyboard(device, o.hold_s),
    "spacemouse": lambda device, o: open_spacemouse(device, o.deadzone),
}
"""Device kind -> opener; `device` '' picks the first device of the kind (the keyboard: this terminal)."""


def open_source(kind: str, device: str = "", options: DeviceOptions | None = None) -> JoySource:
    """An open Joy source of `kind` (a key of `SOURCES`).

    Raises:
        DeviceError: unknown kind, or the device cannot be opened (one-line messages).

    """
    if kind not in SOURCES:
        raise DeviceError(f"unknown device kind {kind!r}; choose one of {', '.join(SOURCES)}")
    return SOURCES[kind](device, options or DeviceOptions())


__all__ = ["SOURCES", "DeviceEnded", "DeviceError", "DeviceOptions", "JoyEmitter", "JoyFrame", "JoySource",
           "open_source"]
