"""SpaceMouse reader: pyspacemouse state -> Joy (pure), HID reports through pyspacemouse's decoder, clear errors."""

import struct
import sys

import pytest

from robot_rl.teleop.devices import DeviceError, JoyFrame
from robot_rl.teleop.devices.spacemouse import SpaceMouseSource, list_spacemice, open_spacemouse, spacemouse_frame


def test_conversion_hand_computed():
    # deadzone 0.05: 0.5 -> (0.5 - 0.05) / 0.95 = 0.473684; -0.02 and 0.05 -> 0 (|v| <= dz); 1.3 -> clipped -> 1;
    # no sign flip (pyspacemouse's ROS convention already gives REP 103 signs)
    frame = spacemouse_frame([0.5, -0.02, 1.3, -1.0, 0.05, 0.0], [1, 0, 2], 0.05)
    assert frame.axes == pytest.approx([0.45 / 0.95, 0.0, 1.0, -1.0, 0.0, 0.0], abs=1e-7)
    assert frame.buttons == (1, 0, 1)
    with pytest.raises(ValueError, match="expected 6"):
        spacemouse_frame([0.0] * 5, [], 0.05)


def test_hid_reports_through_pyspacemouse_decoder():
    psm = pytest.importorskip("pyspacemouse", reason="pyspacemouse is not installed (the teleop extra)")
    from pyspacemouse.config_helpers import apply_axis_convention

    spec = apply_axis_convention(psm.get_device_specs()["SpaceMouseWireless"], psm.AxisConvention.ROS)
    mouse = psm.SpaceMouseDevice(info=spec, device=None)  # no HID device: read() returns the decoded state
    now = [0]
    source = SpaceMouseSource(mouse, "SpaceMouseWireless", 0.05, clock=lambda: now[0],
                              sleep=lambda s: now.__setitem__(0, now[0] + round(s * 1e9)))
    assert source.current() == JoyFrame((0.0,) * 6, (0, 0))
    assert source.poll(0.02) == [] and now[0] >= 20_000_000  # nothing arrives: waits out the timeout, no change
    # HID report 1 (int16 LE, units of 1/350): HID x=700, y=-175, z=10, Rx=0, Ry=0, Rz=-350. ROS convention:
    # x = -HID_y/350 = 0.5 -> 0.473684; y = -HID_x/350 = -2 -> clipped -1; z = -10/350 = -0.029 -> deadzone 0;
    # yaw = -HID_Rz/350 = +1. Report 3: byte 1 bit 1 = the right button.
    mouse._process(bytes([1]) + struct.pack("<6h", 700, -175, 10, 0, 0, -350))  # pyspacemouse's HID decoder
    mouse._process(bytes([3, 0b10]))
    (frame,) = source.poll(0.02)
    assert frame.axes == pytest.approx([0.45 / 0.95, -1.0, 0.0, 0.0, 0.0, 1.0], abs=1e-7)
    assert frame.buttons == (0, 1)
    assert source.rest() == JoyFrame((0.0,) * 6, (0, 0))


def test_missing_package_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyspacemouse", None)  # what `import pyspacemouse` meets when not installed
    with pytest.raises(DeviceError, match="needs the 'pyspacemouse' package: pip install"):
        open_spacemouse()
    with pytest.raises(DeviceError, match="pyspacemouse"):
        list_spacemice()


def test_missing_device_or_hid_library_is_a_clear_error(tmp_path):
    pytest.importorskip("pyspacemouse", reason="pyspacemouse is not installed (the teleop extra)")
    try:
        if list_spacemice():
            pytest.skip("a SpaceMouse is connected: the no-device error cannot be shown")
    except DeviceError:
        pass  # no hidapi library: open_spacemouse must say so too
    # here: no SpaceMouse (and possibly no hidapi library): either way one line, never a traceback
    with pytest.raises(DeviceError, match=r"spacemouse \(first found\): (the hidapi library is missing|No connected)"):
        open_spacemouse("")
    with pytest.raises(DeviceError, match="does not exist"):
        open_spacemouse(str(tmp_path / "hidraw99"))
