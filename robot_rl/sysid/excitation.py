"""Excitation signals for system identification, as pure functions of a design and the robot's limits.

A design (`Excitation`) names a family and its knobs; `arm_commands` turns it into joint position targets
`[T, n_joints]` rad at the control rate, around the arm's home posture and inside its position limits (a margin
`LIMIT_MARGIN_RAD` away). The command path then limits velocity, acceleration and jerk (the jerk-limited generator)
and the safety filter certifies every target, as for any policy.

Families (per joint j of n, t in s, T the duration, a_j the joint's amplitude in rad):

- `multisine`: a sum of `n_sines` sines per joint with Schroeder phases, frequencies spread log-uniformly over
  [f_low_hz, f_high_hz] and interleaved between joints so no two joints share a frequency:
  q_j(t) = home_j + a_j / sqrt(n_sines) * sum_k sin(2 pi f_jk t + phi_k),  phi_k = -pi k (k - 1) / n_sines.
- `chirp`: one linear chirp per joint from f_low_hz to f_high_hz over T, joints phase-shifted by 2 pi j / n.
- `sweep`: slow triangle waves at two speeds (first half at `f_low_hz`, second half at 3 f_low_hz): constant
  joint velocities of two magnitudes in both directions, which separate Coulomb friction (constant torque) from
  viscous damping (torque proportional to speed).
- `random`: the peer of the designed signals: a random walk low-pass filtered to f_high_hz, scaled to a_j.
- `spins` (mobile base): turning in place, the yaw rate a chirp from f_low_hz to f_high_hz, no forward speed.
- `square` (mobile base): the bidirectional square of UMBmark (Borenstein and Feng, 1996): sides of `SQUARE_SIDE_M`
  at `amplitude` of the top speed, 90 degree turns in place at `amplitude` of the top yaw rate, four
  counter-clockwise then four clockwise, repeated.
- `doublets` (quadrotor): one channel at a time, round robin (thrust, roll, pitch, yaw rate), a doublet of
  period 1 / f_low_hz (+1 for half, -1 for half, so attitude returns level) followed by as long a hover (0).

Every signal starts and ends at home with a cosine fade of `FADE_S`, so the excitation starts from rest.

The mobile base's signals are twist commands `[T, 2]` (m/s, rad/s), `amplitude` a fraction of the command limits
(reverse speeds of the reverse limit), changing no faster than `SPEED_FRACTION` of the safety filter's
acceleration limits (`mobile_base_commands`).

The quadrotor is excited closed loop (`quadrotor_offsets`): the signals are perturbations added to the reference
hover controller's thrust and body-rate commands, `amplitude` a fraction of the rate limits and of
`THRUST_FRACTION` of the hover thrust.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

FAMILIES = ("multisine", "chirp", "sweep", "random", "doublets", "spins", "square")
ROBOT_FAMILIES = {"arm": ("multisine", "chirp", "sweep", "random"),
                  "quadrotor": ("doublets", "multisine", "chirp", "random"),
                  "mobile_base": ("chirp", "multisine", "spins", "square", "random")}
"""The families each robot kind plays (sweeps need joints; doublets are per-axis attitude excitations; spins and
squares are a wheeled base's)."""
LIMIT_MARGIN_RAD = 0.1
"""Distance kept from each joint's position limits, rad."""
SPEED_FRACTION = 0.8
"""Targets move at most this fraction of each joint's speed limit."""
FADE_S = 1.0
"""Cosine fade-in and fade-out at both ends, s."""
SQUARE_SIDE_M = 1.0
"""Mobile base: side of the UMBmark square, m."""
THRUST_FRACTION = 0.3
"""Quadrotor: a thrust perturbation of amplitude 1 is this fraction of the hover thrust."""


@dataclass(frozen=True)
class Excitation:
    """One excitation design: a family and its knobs."""

    family: str = "multisine"
    """One of `FAMILIES`."""
    amplitude: float = 0.3
    """Peak excursion: arm, per joint, rad (clipped to the room between home and the limits); quadrotor, a
    fraction in (0, 1] of the rate limits and of `THRUST_FRACTION` of the hover thrust."""
    f_low_hz: float = 0.2
    """Lowest frequency, Hz (the sweep's base rate)."""
    f_high_hz: float = 2.0
    """Highest frequency, Hz."""
    n_sines: int = 4
    """multisine: sines per joint."""
    seed: int = 0
    """random: the noise seed."""

    def __post_init__(self) -> None:
        checks = {
            "family": (self.family in FAMILIES, f"one of {list(FAMILIES)}"),
            "amplitude": (self.amplitude > 0, "> 0"),
            "f_low_hz": (0 < self.f_low_hz <= self.f_high_hz, "in (0, f_high_hz]"),
            "n_sines": (self.n_sines >= 1, ">= 1"),
        }
        bad = [f"{k} = {getattr(self, k)!r} (must be {why})" for k, (ok, why) in checks.items() if not ok]
        if bad:
            raise ValueError(f"excitation: {'; '.join(bad)}")

    def label(self) -> str:
        """Short name, e.g. 'multisine 0.30 0.2-2.0 Hz' (amplitude in the robot's units: see `amplitude`)."""
        if self.family == "square":  # no frequencies: sides and turns at constant speed
            return f"{self.family} {self.amplitude:.2f}"
        return f"{self.family} {self.amplitude:.2f} {self.f_low_hz:g}-{self.f_high_hz:g} Hz"


def joint_amplitudes(home: np.ndarray, low: np.ndarray, high: np.ndarray, amplitude: float) -> np.ndarray:
    """Per-joint amplitude `[n]` rad: `amplitude`, reduced where home is nearer than that to a limit (less margin).

    >>> joint_amplitudes(np.array([0.0, 1.0]), np.array([-2.0, 0.0]), np.array([2.0, 1.2]), 0.5).round(3).tolist()
    [0.5, 0.1]
    """
    room = np.minimum(home - low, high - home) - LIMIT_MARGIN_RAD
    return np.clip(room, 0.0, amplitude)


def fade(t: np.ndarray, duration_s: float) -> np.ndarray:
    """Cosine fade-in/out window `[T]` in [0, 1]: 0 at both ends, 1 from FADE_S in to FADE_S before the end."""
    ramp = min(FADE_S, duration_s / 2)
    up = np.clip(t / ramp, 0.0, 1.0)
    down = np.clip((duration_s - t) / ramp, 0.0, 1.0)
    return 0.5 * (1 - np.cos(np.pi * np.minimum(up, down)))


def unit_signals(design: Excitation, n_joints: int, t: np.ndarray, duration_s: float) -> np.ndarray:
    """The design's signals `[T, n_joints]` with peak magnitude about 1 (before amplitudes and fade)."""
    j = np.arange(n_joints)
    if design.family == "multisine":
        k = np.arange(design.n_sines)
        grid = np.geomspace(design.f_low_hz, design.f_high_hz, design.n_sines * n_joints)
        freqs = grid.reshape(design.n_sines, n_joints).T  # joint j takes every n-th frequency: interleaved
        phases = -np.pi * k * (k - 1) / design.n_sines
        s = np.sin(2 * np.pi * freqs[None] * t[:, None, None] + phases[None, None, :]).sum(-1)
        return s / np.sqrt(design.n_sines) / 1.2
    if design.family == "chirp":
        rate = (design.f_high_hz - design.f_low_hz) / duration_s
        phase = 2 * np.pi * (design.f_low_hz * t + 0.5 * rate * t**2)
        return np.sin(phase[:, None] + 2 * np.pi * j[None] / n_joints)
    if design.family == "sweep":
        rate = np.where(t < duration_s / 2, design.f_low_hz, 3 * design.f_low_hz)
        cycles = np.cumsum(rate) * (t[1] - t[0] if len(t) > 1 else 0.0)
        tri = 2 * np.abs(2 * ((cycles[:, None] + j[None] / (2 * n_joints)) % 1.0) - 1) - 1
        return tri
    if design.family == "doublets":
        period = 1.0 / design.f_low_hz
        slot = np.floor(t / (2 * period)).astype(int)  # a doublet then a hover of the same length, per slot
        phase = (t % (2 * period)) / period  # [0, 1): + then -, [1, 2): hover
        sign = np.where(phase < 0.5, 1.0, -1.0) * (phase < 1.0)
        return sign[:, None] * (slot[:, None] % n_joints == j[None])
    rng = np.random.default_rng(design.seed)
    dt = t[1] - t[0] if len(t) > 1 else 1.0
    alpha = 1 - np.exp(-2 * np.pi * design.f_high_hz * dt)
    x, out = np.zeros(n_joints), np.empty((len(t), n_joints))
    for i, z in enumerate(rng.standard_normal((len(t), n_joints))):
        x = x + alpha * (z - x)
        out[i] = x
    return out / max(np.abs(out).max(), 1e-9)


def arm_commands(design: Excitation, home: Sequence[float], low: Sequence[float], high: Sequence[float],
                 duration_s: float, dt_s: float, velocity_max: Sequence[float] | None = None) -> np.ndarray:
    """Joint position targets `[T, n]` rad, T = round(duration_s / dt_s), for `design` around `home`.

    Args:
        design: the excitation.
        home: home posture `[n]` rad (where the signal starts and ends).
        low: lower joint position limits `[n]` rad; targets stay `LIMIT_MARGIN_RAD` inside them.
        high: upper joint position limits `[n]` rad.
        duration_s: length, s (> 0).
        dt_s: control period, s.
        velocity_max: joint speed limits `[n]` rad/s: a joint whose target would move faster than
            `SPEED_FRACTION` of its limit is scaled down (the safety filter would clip it otherwise).

    """
    if duration_s <= 0 or dt_s <= 0:
        raise ValueError(f"excitation: duration_s ({duration_s}) and dt_s ({dt_s}) must be > 0")
    home_a, low_a, high_a = (np.asarray(v, dtype=np.float64) for v in (home, low, high))
    t = np.arange(int(round(duration_s / dt_s))) * dt_s
    amp = joint_amplitudes(home_a, low_a, high_a, design.amplitude)
    signal = unit_signals(design, len(home_a), t, duration_s) * amp[None] * fade(t, duration_s)[:, None]
    if velocity_max is not None and len(t) > 1:
        peak = np.abs(np.diff(signal, axis=0)).max(axis=0) / dt_s
        signal *= np.minimum(1.0, SPEED_FRACTION * np.asarray(velocity_max) / np.maximum(peak, 1e-12))[None]
    return np.clip(home_a + signal, low_a + LIMIT_MARGIN_RAD, high_a - LIMIT_MARGIN_RAD)


def quadrotor_offsets(design: Excitation, duration_s: float, dt_s: float, hover_thrust_n: float,
                      rate_max: Sequence[float]) -> np.ndarray:
    """Perturbations `[T, 4]` (thrust N, roll, pitch, yaw rate rad/s) added to the hover controller's commands.

    Args:
        design: the excitation (`amplitude` in (0, 1]).
        duration_s: length, s (> 0).
        dt_s: control period, s.
        hover_thrust_n: the nominal hover thrust m g, N (thrust perturbations are `THRUST_FRACTION` of it).
        rate_max: body-rate limits `[3]` rad/s (rate perturbations are `amplitude` of them).

    """
    if duration_s <= 0 or dt_s <= 0 or not 0 < design.amplitude <= 1:
        raise ValueError(f"excitation: duration_s ({duration_s}), dt_s ({dt_s}) must be > 0 and amplitude "
                         f"({design.amplitude}) in (0, 1] for the quadrotor")
    t = np.arange(int(round(duration_s / dt_s))) * dt_s
    scale = design.amplitude * np.array([THRUST_FRACTION * hover_thrust_n, *rate_max], dtype=np.float64)
    unit = unit_signals(design, 4, t, duration_s)
    unit /= np.maximum(np.abs(unit).max(axis=0), 1e-12)  # peak exactly 1 per channel: `amplitude` is the peak
    return unit * scale[None] * fade(t, duration_s)[:, None]


def quadrotor_candidates() -> list[Excitation]:
    """The designs the D-optimal search compares for the quadrotor (`random` is the peer)."""
    return [
        Excitation("doublets", 0.3, 1.0, 1.0), Excitation("doublets", 0.5, 2.0, 2.0),
        Excitation("multisine", 0.3, 0.5, 5.0), Excitation("multisine", 0.4, 0.2, 2.0),
        Excitation("chirp", 0.3, 0.2, 5.0), Excitation("chirp", 0.4, 0.5, 10.0),
    ]


def arm_candidates(duration_s: float) -> list[Excitation]:
    """The designs the D-optimal search compares for the arm (multisines, chirps, sweeps; `random` is the peer)."""
    del duration_s  # the same candidates for every length; kept for other robots' families
    return [
        Excitation("multisine", 0.3, 0.2, 2.0), Excitation("multisine", 0.5, 0.1, 1.0),
        Excitation("multisine", 0.2, 0.5, 4.0), Excitation("chirp", 0.4, 0.1, 2.0),
        Excitation("chirp", 0.25, 0.2, 4.0), Excitation("sweep", 0.6, 0.1, 0.1),
    ]


def square_path(duration_s: float, dt_s: float, speed: float, turn_rate: float) -> np.ndarray:
    """The bidirectional square's twists `[T, 2]` (m/s, rad/s), repeated to fill `duration_s`.

    Sides of `SQUARE_SIDE_M` at `speed`, turns of pi/2 in place at `turn_rate`, four counter-clockwise then four
    clockwise.

    >>> square_path(2.0, 0.5, 1.0, np.pi)[:4].tolist()  # a 1 m side in 2 ticks, then a 0.25 s turn: 1 tick
    [[1.0, 0.0], [1.0, 0.0], [0.0, 3.141592653589793], [1.0, 0.0]]
    """
    side = max(1, round(SQUARE_SIDE_M / speed / dt_s))
    turn = max(1, round(np.pi / 2 / turn_rate / dt_s))
    legs = [np.repeat([[speed, 0.0]], side, 0) if i % 2 == 0 else np.repeat([[0.0, sign * turn_rate]], turn, 0)
            for sign in (1.0, -1.0) for i in range(8)]
    lap = np.concatenate(legs)
    n = int(round(duration_s / dt_s))
    return np.tile(lap, (n // len(lap) + 1, 1))[:n]


def slew_limit(signal: np.ndarray, max_step: np.ndarray) -> np.ndarray:
    """`signal` `[T, n]` followed from 0 changing by at most `max_step` `[n]` per tick.

    >>> slew_limit(np.array([[1.0], [1.0], [0.0]]), np.array([0.5])).ravel().tolist()
    [0.5, 1.0, 0.5]
    """
    out, state = np.empty_like(signal), np.zeros(signal.shape[1])
    for t, target in enumerate(signal):
        state = state + np.clip(target - state, -max_step, max_step)
        out[t] = state
    return out


def mobile_base_commands(design: Excitation, duration_s: float, dt_s: float, low: Sequence[float],
                         high: Sequence[float], accel_max: Sequence[float]) -> np.ndarray:
    """Twist commands `[T, 2]` (forward m/s, yaw rate rad/s) of `design`, starting and ending at rest.

    Args:
        design: the excitation (`amplitude` in (0, 1]: the peak as a fraction of the command limits).
        duration_s: length, s (> 0).
        dt_s: control period, s.
        low: command lower limits `[2]` (reverse speed m/s, yaw rate rad/s).
        high: command upper limits `[2]`.
        accel_max: the safety filter's acceleration limits `[2]` (m/s^2, rad/s^2): smooth families are scaled down,
            the square's steps slewed, to change at most `SPEED_FRACTION` of them per second.

    """
    if duration_s <= 0 or dt_s <= 0 or not 0 < design.amplitude <= 1:
        raise ValueError(f"excitation: duration_s ({duration_s}), dt_s ({dt_s}) must be > 0 and amplitude "
                         f"({design.amplitude}) in (0, 1] for the mobile base")
    low_a, high_a = np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)
    max_step = SPEED_FRACTION * np.asarray(accel_max, dtype=np.float64) * dt_s
    t = np.arange(int(round(duration_s / dt_s))) * dt_s
    if design.family == "square":
        path = square_path(duration_s, dt_s, design.amplitude * high_a[0], design.amplitude * high_a[1])
        return slew_limit(path * fade(t, duration_s)[:, None], max_step)
    unit = unit_signals(design, 2, t, duration_s)
    if design.family == "spins":
        unit = np.column_stack([np.zeros(len(t)), unit_signals(Excitation("chirp", 1.0, design.f_low_hz,
                                                                          design.f_high_hz), 1, t, duration_s)[:, 0]])
    unit /= np.maximum(np.abs(unit).max(axis=0), 1e-12)
    signal = design.amplitude * np.where(unit >= 0, unit * high_a, -unit * low_a) * fade(t, duration_s)[:, None]
    if len(t) > 1:
        peak = np.abs(np.diff(signal, axis=0)).max(axis=0)
        signal *= np.minimum(1.0, max_step / np.maximum(peak, 1e-12))[None]
    return signal


def mobile_base_candidates() -> list[Excitation]:
    """The designs the D-optimal search compares for the mobile base (`random` is the peer)."""
    return [
        Excitation("chirp", 0.5, 0.1, 1.0), Excitation("chirp", 0.8, 0.05, 0.5),
        Excitation("multisine", 0.6, 0.05, 0.5), Excitation("spins", 0.8, 0.1, 0.5),
        Excitation("square", 0.5), Excitation("square", 0.8),
    ]
