"""The controller's fixed-rate loop: one tick per control period, clocked by the robot's state.

`state` mode (default) is clocked by the robot, as a ros2_control read-update-write cycle is: a tick runs as soon
as every state input has a newer stamp than at the previous tick (and at least half a period has passed since the
previous such tick), so the command answers the state it was computed from with the least delay. A tick with no
fresh state within 1.5 periods of the previous one runs on the last state and is counted as a deadline miss (the
safety watchdog sees the inputs' age). With `use_sim_time` the same rule runs on the `/clock` time of a simulated
robot, which then steps in lockstep with the controller; there the half period of grace matters: `/clock` may
arrive before the state, and a tick on the clock alone would answer the old state and put every later command one
step late.

`timer` mode ignores state arrival and ticks at `t0 + k * period` of the node's clock (no drift; periods lost to
an overrun are skipped and counted as misses).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


@dataclass
class LoopStats:
    """Timing of the ticks since the last `reset` (ns, wall monotonic clock)."""

    periods_ns: list[int] = field(default_factory=list)
    compute_ns: list[int] = field(default_factory=list)
    misses: int = 0

    def summary(self) -> dict[str, float]:
        """Mean period and jitter (std of the period) in ms, compute p50/p99/max in µs, deadline misses."""
        per = np.asarray(self.periods_ns, dtype=np.float64) / 1e6
        comp = np.asarray(self.compute_ns, dtype=np.float64) / 1e3
        out = {"ticks": float(len(comp)), "deadline_misses": float(self.misses)}
        if len(per):
            out |= {"period_mean_ms": float(per.mean()), "period_jitter_ms": float(per.std())}
        if len(comp):
            out |= {"compute_p50_us": float(np.percentile(comp, 50)), "compute_p99_us": float(np.percentile(comp, 99)),
                    "compute_max_us": float(comp.max())}
        return out

    def reset(self) -> None:
        """Start a new measurement window."""
        self.periods_ns.clear()
        self.compute_ns.clear()
        self.misses = 0


class RateLoop:
    """Wait for the next tick while delivering messages (`spin_once`) in between.

    Args:
        period_ns: control period.
        now_ns: the node's ROS time (wall or simulated), used for the schedule.
        spin_once: deliver pending messages, waiting at most the given seconds.
        mode: 'state' (tick on fresh state, deadline as fallback) or 'timer' (tick on the schedule only).

    """

    def __init__(self, period_ns: int, now_ns: Callable[[], int], spin_once: Callable[[float], None],
                 mode: str = "state") -> None:
        if mode not in ("state", "timer"):
            raise ValueError(f"loop mode {mode!r}: expected 'state' or 'timer'")
        self.period_ns, self.now_ns, self.spin_once, self.mode = period_ns, now_ns, spin_once, mode
        self.stats = LoopStats()
        self._deadline: int | None = None
        self._last_fresh: int | None = None
        self._last_wall: int | None = None

    def wait(self, fresh: Callable[[], bool], stop: Callable[[], bool],
             urgent: Callable[[], bool] = lambda: False) -> bool:
        """Block until the next tick; True if it is due to fresh state (or `urgent`), False at a deadline or stop.

        `urgent()` (a new goal, enable or reset) ticks at once, whatever the time since the last tick: a simulated
        robot in lockstep holds its clock until it gets a command, so such events must not wait for time to pass.
        """
        now = self.now_ns()
        if self._deadline is None:
            self._deadline = now + self.period_ns
        while not stop():
            now = self.now_ns()
            earliest = -1 if self._last_fresh is None else self._last_fresh + self.period_ns // 2
            if self.mode == "state" and ((now >= earliest and fresh()) or urgent()):
                self._last_fresh = now
                self._tick(now, on_time=True)
                return True
            if now >= self._deadline:
                self._tick(now, on_time=self.mode == "timer" and now - self._deadline < self.period_ns)
                return False
            self.spin_once(min(self._deadline - now, self.period_ns // 10) / 1e9)
        return False

    def _tick(self, now: int, on_time: bool) -> None:
        wall = time.monotonic_ns()
        if self._last_wall is not None:
            self.stats.periods_ns.append(wall - self._last_wall)
        self._last_wall = wall
        if not on_time:
            self.stats.misses += 1
        if self.mode == "state":
            self._deadline = now + self.period_ns + self.period_ns // 2
            return
        late = now - self._deadline
        self._deadline += self.period_ns
        if late >= self.period_ns:  # fell behind: skip the lost periods, stay on the t0 + k * period grid
            self._deadline = now - late % self.period_ns + self.period_ns

    def record_compute(self, start_ns: int) -> None:
        """Record the compute time of the tick that started at wall `start_ns` (`time.perf_counter_ns()`)."""
        self.stats.compute_ns.append(time.perf_counter_ns() - start_ns)
