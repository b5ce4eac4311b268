"""What every operator device gives: Joy states (`JoyFrame`), when to publish them (`JoyEmitter`), and `JoySource`.

`JoyEmitter` follows the ROS `joy` node's timing:
- a change of any button publishes at once;
- a change of axes only waits `coalesce_interval_s` after the first such change, so that the events of one motion
  (several axes, several reports) go out as one message; 0 publishes every change at once;
- with `autorepeat_rate_hz` > 0 the last state is published again whenever no message went out for
  `1 / autorepeat_rate_hz` s (joy's default is 20 Hz; the teleop node uses its `rate_hz`, 50 Hz); 0 publishes only
  on change.
The clock is injected (`now_ns` arguments), so the timing is a pure function of the call sequence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class JoyFrame:
    """A Joy state: `axes` `[n_axes]` in -1..1 (float32 values) and `buttons` `[n_buttons]` 0/1."""

    axes: tuple[float, ...]
    buttons: tuple[int, ...]


class DeviceError(RuntimeError):
    """A device cannot be opened or used: missing package, no device, permission denied (one-line message)."""


class DeviceEnded(Exception):  # noqa: N818 - an end of input, not always an error
    """The input ended: end of a stream, the operator quit (`clean`), or the device was unplugged (not `clean`)."""

    def __init__(self, message: str, clean: bool) -> None:
        super().__init__(message)
        self.clean = clean


class JoySource(Protocol):
    """An operator device read as Joy states."""

    identity: str
    """What it reads, e.g. '/dev/input/event5' (the teleop node's default operator id is `kind:identity`)."""

    def current(self) -> JoyFrame:
        """The state now (before any `poll`: the state found at open)."""

    def rest(self) -> JoyFrame:
        """The state with every button released and every axis at rest (published last, so deadmen drop)."""

    def poll(self, timeout_s: float) -> list[JoyFrame]:
        """Wait at most `timeout_s` for input; the states it produced, oldest first (empty when nothing changed).

        Raises:
            DeviceEnded: the input ended (end of stream, quit, unplugged).

        """

    def close(self) -> None:
        """Release the device (and restore whatever opening changed, e.g. a terminal's mode)."""


class JoyEmitter:
    """Decides when a Joy message goes out (see the module docstring).

    Args:
        autorepeat_rate_hz: republish the last state at this rate without changes; 0 = only on change.
        coalesce_interval_s: wait this long after an axis-only change before publishing it.

    """

    def __init__(self, autorepeat_rate_hz: float, coalesce_interval_s: float) -> None:
        if not (autorepeat_rate_hz >= 0 and coalesce_interval_s >= 0):
            raise ValueError(f"autorepeat_rate_hz {autorepeat_rate_hz} and coalesce_interval_s {coalesce_interval_s} "
                             "must be >= 0")
        self.period_ns = round(1e9 / autorepeat_rate_hz) if autorepeat_rate_hz > 0 else None
        self.coalesce_ns = round(coalesce_interval_s * 1e9)
        self.current: JoyFrame | None = None
        self.sent: JoyFrame | None = None
        self.sent_ns = 0
        self.pending_ns: int | None = None
        """When the first axis-only change not yet published arrived."""
        self.immediate = False
        self.published = 0

    def update(self, frame: JoyFrame, now_ns: int) -> None:
        """A new device state at `now_ns`."""
        if frame == self.current:
            return
        self.current = frame
        if self.sent is None or frame.buttons != self.sent.buttons or self.coalesce_ns == 0:
            self.immediate = True
        elif self.pending_ns is None:
            self.pending_ns = now_ns

    def due(self, now_ns: int) -> JoyFrame | None:
        """The state to publish at `now_ns`, or None; a returned state counts as published."""
        if self.current is None or self.wait_ns(now_ns) > 0:
            return None
        self.sent, self.sent_ns, self.pending_ns, self.immediate = self.current, now_ns, None, False
        self.published += 1
        return self.current

    def flush(self, now_ns: int) -> JoyFrame | None:
        """The state not yet published (a change still coalescing), as a published one; None if all went out."""
        if self.current is None or self.current == self.sent:
            return None
        self.immediate = True
        return self.due(now_ns)

    def wait_ns(self, now_ns: int) -> float:
        """Time until the next message is due, ns (0 when due now, inf when only a new state can make one due)."""
        if self.current is None:
            return math.inf
        if self.immediate:
            return 0
        wait = math.inf
        if self.pending_ns is not None:
            wait = self.pending_ns + self.coalesce_ns - now_ns
        if self.period_ns is not None:
            wait = min(wait, self.sent_ns + self.period_ns - now_ns)
        return max(wait, 0)
