"""Writes the recorded evdev streams of this folder (run from the repository root to regenerate them).

xbox360_takeover.bin: an Xbox 360 pad (xpad layout, `robot_rl.teleop.devices.events.XBOX360`) as
`cat /dev/input/eventN > FILE` would capture it, in native `input_event` records (24 bytes on x86_64), stamped from
t0 = 1700000000 s:
    t = 0.00 s  RB (BTN_TR) pressed                       -> Joy buttons[5] = 1
    t = 0.10 s  left stick fully up (ABS_Y = -32768)      -> Joy axes[1] = +1 (joy sign: up = +1)
    t = 0.20 s  left stick x drifts to 1000 (3 % of range: inside the 5 % deadzone, no change)
    t = 0.30 s  RB released, stick back to 0              -> all released
followed by the first 7 bytes of a record cut short (a capture killed mid-write).
"""

from pathlib import Path

from robot_rl.teleop.devices.events import ABS_X, ABS_Y, BTN_TR, EV_ABS, EV_KEY, EV_SYN, SYN_REPORT, pack_event

T0 = 1_700_000_000


def record(t_s: float, ev_type: int, code: int, value: int) -> bytes:
    usec = round(t_s * 1e6)
    return pack_event(T0 + usec // 1_000_000, usec % 1_000_000, ev_type, code, value)


def takeover() -> bytes:
    events = [(0.00, EV_KEY, BTN_TR, 1), (0.00, EV_SYN, SYN_REPORT, 0),
              (0.10, EV_ABS, ABS_Y, -32768), (0.10, EV_SYN, SYN_REPORT, 0),
              (0.20, EV_ABS, ABS_X, 1000), (0.20, EV_SYN, SYN_REPORT, 0),
              (0.30, EV_KEY, BTN_TR, 0), (0.30, EV_ABS, ABS_Y, 0), (0.30, EV_SYN, SYN_REPORT, 0)]
    data = b"".join(record(*e) for e in events)
    return data + record(0.40, EV_KEY, BTN_TR, 1)[:7]


if __name__ == "__main__":
    Path(__file__).with_name("xbox360_takeover.bin").write_bytes(takeover())
