"""The fixed-rate loop's schedule, on a simulated clock (no sleeping): ticks, deadlines, misses, no drift."""

from __future__ import annotations

from robot_rl.deploy.loop import RateLoop

PERIOD = 10_000_000  # 10 ms = 100 Hz


class FakeClock:
    """A clock that advances only when the loop spins (by the spin's timeout, or to the next message)."""

    def __init__(self, arrivals: list[int] | None = None) -> None:
        self.now = 0
        self.arrivals = sorted(arrivals or [])
        self.fresh = False

    def spin_once(self, timeout_s: float) -> None:
        until = self.now + round(timeout_s * 1e9)
        if self.arrivals and self.arrivals[0] <= until:
            self.now = max(self.now, self.arrivals.pop(0))
            self.fresh = True
        else:
            self.now = until


def run(loop: RateLoop, clock: FakeClock, ticks: int) -> list[tuple[int, bool]]:
    out = []
    for _ in range(ticks):
        on_state = loop.wait(lambda: clock.fresh, lambda: False)
        clock.fresh = False
        out.append((clock.now, on_state))
    return out


def test_timer_mode_ticks_on_the_schedule_without_drift() -> None:
    clock = FakeClock()
    loop = RateLoop(PERIOD, lambda: clock.now, clock.spin_once, mode="timer")
    times = [t for t, _ in run(loop, clock, 50)]
    # t0 = 0, ticks at 10, 20, ... 500 ms exactly: the schedule is t0 + k * period, never last tick + period
    assert times == [PERIOD * (k + 1) for k in range(50)]
    assert loop.stats.misses == 0


def test_timer_mode_skips_lost_periods_and_counts_a_miss() -> None:
    clock = FakeClock()
    loop = RateLoop(PERIOD, lambda: clock.now, clock.spin_once, mode="timer")
    run(loop, clock, 1)  # tick at 10 ms
    clock.now = 45_000_000  # a 35 ms stall: the deadlines of 20 and 30 ms (and 40) are lost
    times = [t for t, _ in run(loop, clock, 2)]
    assert times == [45_000_000, 50_000_000]  # late tick now, then back on the 10 ms grid
    assert loop.stats.misses == 1


def test_state_mode_answers_state_at_once_and_falls_back_to_the_deadline() -> None:
    # state at 3, 13, 23 ms, then nothing: ticks follow the state, then 1.5 periods after the last tick
    clock = FakeClock(arrivals=[3_000_000, 13_000_000, 23_000_000])
    loop = RateLoop(PERIOD, lambda: clock.now, clock.spin_once, mode="state")
    ticks = run(loop, clock, 5)
    assert ticks == [(3_000_000, True), (13_000_000, True), (23_000_000, True), (38_000_000, False),
                     (53_000_000, False)]
    assert loop.stats.misses == 2


def test_state_mode_ticks_at_most_once_per_half_period() -> None:
    # state at 1 kHz: the loop still ticks at about the control rate (every >= 5 ms), never on every message
    clock = FakeClock(arrivals=list(range(1_000_000, 100_000_000, 1_000_000)))
    loop = RateLoop(PERIOD, lambda: clock.now, clock.spin_once, mode="state")
    ticks = run(loop, clock, 10)
    gaps = [b[0] - a[0] for a, b in zip(ticks, ticks[1:], strict=False)]
    assert all(g >= PERIOD // 2 for g in gaps)
    assert all(on_state for _, on_state in ticks)


def test_an_urgent_event_ticks_at_once_even_on_a_frozen_clock() -> None:
    # a simulated robot in lockstep holds its clock at 1 s until it gets a command: a goal arriving after the last
    # tick must still produce a tick, although neither time nor state stamps move
    clock = FakeClock(arrivals=[1_000_000_000])
    loop = RateLoop(PERIOD, lambda: clock.now, lambda s: None, mode="state")
    clock.now = 1_000_000_000
    assert loop.wait(lambda: True, lambda: False)  # ticks on the state at 1 s
    pending = [True]
    assert loop.wait(lambda: False, lambda: False, urgent=lambda: pending.pop() if pending else False)
