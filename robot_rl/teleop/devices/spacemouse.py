"""A 3Dconnexion SpaceMouse through `pyspacemouse`, as Joy: 6 axes and the device's buttons.

    robot-rl teleop spacemouse [--device NAME|/dev/hidrawN]

Axes `[x, y, z, roll, pitch, yaw]` in pyspacemouse's ROS convention (`AxisConvention.ROS`, REP 103 body frame: x
forward, y left, z up, rotations right-handed about them), each clipped to -1..1 and passed through the same
deadzone as a gamepad's (`events.normalize_axes` without the sign flip: these axes already have ROS signs). Buttons
in pyspacemouse's order for the model (2 on a SpaceMouse Wireless/Compact: left, right). pyspacemouse reads HID
reports without blocking; `poll` reads every report that is waiting, then waits in steps of `POLL_STEP_S`.

Needs `pip install 'robot_rl[teleop]'` (pyspacemouse >= 2.1) and the system's hidapi library (Debian:
`libhidapi-hidraw0`) with read access to `/dev/hidraw*`. A missing package, a missing library, no device and an
unplugged device are one-line errors (`DeviceError`) or a not-clean end (`DeviceEnded`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from robot_rl.teleop.devices.events import normalize_axes
from robot_rl.teleop.devices.frame import DeviceEnded, DeviceError, JoyFrame

AXES = ("x", "y", "z", "roll", "pitch", "yaw")
"""pyspacemouse state fields, in Joy axis order."""
POLL_STEP_S = 0.004
"""Wait between non-blocking reads when nothing is waiting, s (the device reports at about 120 Hz)."""
MAX_REPORTS = 64
"""Reports read per poll at most."""
_ONES = np.ones(len(AXES))


def spacemouse_frame(values: Sequence[float], buttons: Sequence[int], deadzone: float) -> JoyFrame:
    """Joy state from SpaceMouse axis values `[6]` (x, y, z, roll, pitch, yaw; about -1..1) and buttons `[n]`.

    Each value is clipped to -1..1, zeroed within `deadzone` and rescaled outside it as `normalize_axes` does.
    """
    if len(values) != len(AXES):
        raise ValueError(f"expected {len(AXES)} SpaceMouse axis values {AXES}, got {len(values)}")
    axes = normalize_axes(np.asarray(values, dtype=np.float64), -_ONES, _ONES, deadzone, invert=False)
    return JoyFrame(tuple(float(np.float32(v)) for v in axes), tuple(int(b != 0) for b in buttons))


class SpaceMouseSource:
    """Joy states from an open pyspacemouse device (anything with `read() -> SpaceMouseState` and `close()`).

    Args:
        device: an open `pyspacemouse.SpaceMouseDevice` (non-blocking).
        identity: the device's name or path.
        deadzone: see `spacemouse_frame`.
        clock: monotonic clock, ns; `sleep` waits s (injectable).
        sleep: waits the given seconds.

    """

    def __init__(self, device: Any, identity: str, deadzone: float = 0.05,  # noqa: ANN401 - a SpaceMouseDevice
                 clock: Callable[[], int] = time.monotonic_ns, sleep: Callable[[float], None] = time.sleep) -> None:
        self.device, self.identity, self.deadzone, self.clock, self.sleep = device, identity, deadzone, clock, sleep
        state = device.read()
        self.n_buttons = len(state.buttons)
        self.stamp = state.t
        self.last = self._frame(state)

    def _frame(self, state: Any) -> JoyFrame:  # noqa: ANN401 - a pyspacemouse SpaceMouseState
        return spacemouse_frame([getattr(state, a) for a in AXES], list(state.buttons), self.deadzone)

    def current(self) -> JoyFrame:
        """The last state read."""
        return self.last

    def rest(self) -> JoyFrame:
        """Everything released, axes at 0."""
        return JoyFrame((0.0,) * len(AXES), (0,) * self.n_buttons)

    def poll(self, timeout_s: float) -> list[JoyFrame]:
        """Read the waiting reports (waiting at most `timeout_s` for one); the new state if it changed."""
        end = self.clock() + timeout_s * 1e9
        reports = 0
        while reports < MAX_REPORTS:
            try:
                state = self.device.read()
            except Exception as e:  # noqa: BLE001 - easyhid raises a bare HIDException when the device goes
                raise DeviceEnded(f"{self.identity}: read failed (unplugged?): {e}", clean=False) from e
            if state.t != self.stamp:  # pyspacemouse stamps the state when a report arrived
                self.stamp, reports = state.t, reports + 1
                continue
            if reports or self.clock() >= end:
                break
            self.sleep(POLL_STEP_S)
        frame = self._frame(state)
        if frame == self.last:
            return []
        self.last = frame
        return [frame]

    def close(self) -> None:
        """Close the device."""
        self.device.close()


def import_pyspacemouse() -> Any:  # noqa: ANN401 - the pyspacemouse module
    """The pyspacemouse module, or a DeviceError naming the package to install."""
    try:
        import pyspacemouse
    except ImportError as e:
        raise DeviceError("the SpaceMouse reader needs the 'pyspacemouse' package: pip install 'robot_rl[teleop]' "
                          "(or pip install pyspacemouse)") from e
    except OSError as e:  # easyhid dlopen()s hidapi at import
        raise DeviceError(f"pyspacemouse cannot load the hidapi library ({e}): install libhidapi-hidraw0") from e
    return pyspacemouse


def _hid_message(error: Exception) -> str:
    message = str(error)
    return "the hidapi library is missing (Debian: apt-get install libhidapi-hidraw0)" if "HID API" in message \
        else message


def list_spacemice() -> dict[str, str]:
    """The connected SpaceMice, path -> model name.

    Raises:
        DeviceError: missing package or hidapi library (one-line messages).

    """
    psm = import_pyspacemouse()
    try:
        return dict(psm.get_connected_devices_by_path())
    except RuntimeError as e:
        raise DeviceError(f"spacemouse: {_hid_message(e)}") from e


def open_spacemouse(device: str = "", deadzone: float = 0.05) -> SpaceMouseSource:
    """The SpaceMouse `device` ('' = the first one found, a model name such as 'SpaceMouse Wireless', or a path).

    Raises:
        DeviceError: missing package or hidapi library, no device, unknown model (one-line messages).

    """
    psm = import_pyspacemouse()
    convention = psm.AxisConvention.ROS
    try:
        if device.startswith("/"):
            mouse = psm.open_by_path(device, axis_convention=convention)
        else:
            mouse = psm.open(device=device or None, axis_convention=convention)
    except (RuntimeError, ValueError, OSError) as e:
        raise DeviceError(f"spacemouse {device or '(first found)'}: {_hid_message(e)}") from e
    return SpaceMouseSource(mouse, device or mouse.name, deadzone)
