"""Command smoothness: CAPS Sm, action-rate RMS and the share of spectral energy above 4 Hz.

Pure functions of arrays. A command trajectory is one episode's commands `[T, n_cmd]` in robot units, sampled at the
control rate `fs` (Hz). Every metric first maps the commands to [-1, 1] by the command range (`normalize`), so a
rad target, a m/s twist and an N thrust are on the same scale, and robots with different units compare.

The two spectral metrics take the FFT of the episode made periodic (`periodize`): the straight line from the first
to the last command is subtracted and the last sample dropped. Without this, the FFT's periodic extension jumps from
the last command back to the first, and for a task that moves once (the arm goes from its start to its target)
that artificial jump dominates: a single full-range jump and a smooth ramp between the same two commands score the
same Sm (0.0286 both, 50 samples at 50 Hz). A trajectory periodic in T-1 samples is unchanged up to its mean.

Per episode, each metric is computed per command component and averaged over components; `command_smoothness`
then averages the per-episode values with equal weight per episode. All three are averages over time, so one
transient (a jump at the start) weighs less in a longer episode: compare runs of the same task with similar mean
episode lengths (`robot-rl eval` prints it next to them).

Reference for Sm: Mysore, Mabsout, Mancuso, Saenko, "Regularizing Action Policies for Smooth Control with
Reinforcement Learning", ICRA 2021: `Sm = 2/(n fs) * sum_i M_i f_i` over the n frequency bins, and its public
code (ai.bu.edu/caps, `fourier_transform` and `smoothness_score`: `M = 2/N |fft(a)[:N//2]|`,
`Sm = mean(M * linspace(0, 1, N//2))`, i.e. the mean over bins of amplitude times frequency as a fraction of
Nyquist). Differences from that code, on purpose: the episode is periodized (above); exact bin frequencies
`k fs / N` and the Nyquist bin are used (its `linspace(0, 1, N//2)` labels the last kept bin as Nyquist); DC and
Nyquist get the correct single-sided amplitude `|X_k| / N` (DC has zero weight either way, so the mean is
irrelevant); commands are normalized to [-1, 1] and Sm averaged over all components (the code takes one action
index in its own units); Sm is computed per episode over its full length and averaged, where the code averages
amplitude spectra of episodes cut to the median length (dropping shorter ones).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

HIGH_FREQUENCY_HZ = 4.0
"""Energy at frequencies strictly above this (Hz) counts as high-frequency: beyond what the robots' low-level
controllers track well, and where actuator wear and libfranka's discontinuity aborts come from."""

MIN_EPISODE_SAMPLES = 8
"""Episodes with fewer command samples are left out of every metric: their spectrum has at most 5 bins, too
coarse to say where the energy lies (an episode that fails in its first steps says nothing about smoothness)."""


@dataclass(frozen=True)
class Smoothness:
    """Smoothness of a set of episodes' commands; None where no episode had `MIN_EPISODE_SAMPLES` samples."""

    sm: float | None
    """CAPS Sm, commands normalized to [-1, 1]: mean over bins of amplitude x frequency/Nyquist (lower = smoother)."""
    action_rate_rms: float | None
    """RMS over steps of the command change per step as a fraction of the command range (1/step)."""
    high_freq_energy_share: float | None
    """Share of the commands' variance at frequencies above `HIGH_FREQUENCY_HZ`, in [0, 1]."""
    episodes_used: int
    """Episodes with at least `MIN_EPISODE_SAMPLES` command samples (the others are left out)."""


def normalize(commands: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Commands `[T, n_cmd]` in robot units -> `[T, n_cmd]` in [-1, 1] (low -> -1, high -> +1)."""
    return 2.0 * (np.asarray(commands, dtype=np.float64) - low) / (high - low) - 1.0


def periodize(u: np.ndarray) -> np.ndarray:
    """Commands `[T, n]` -> `[T-1, n]`: minus the line from the first to the last sample, last sample dropped.

    `p_t = u_t - (u_0 + (u_{T-1} - u_0) t / (T-1))` for t = 0..T-2: the periodic extension of `p` is continuous
    (p_{T-1} would be 0 = p_0), so the FFT sees only the motion inside the episode, not a jump from its end back to
    its start. A `u` with u_{T-1} = u_0 (periodic in T-1 samples) only loses u_0, a constant.
    """
    t = u.shape[0]
    line = u[0] + (u[-1] - u[0]) * (np.arange(t - 1) / (t - 1))[:, None]
    return u[:-1] - line


def single_sided_amplitude(x: np.ndarray) -> np.ndarray:
    """Amplitude spectrum `[T//2 + 1, n]` of signals `x` `[T, n]` (columns), in the units of `x`.

    `M_k = 2 |X_k| / T` with `X = rfft(x)`, except DC and (T even) the Nyquist bin, `M_k = |X_k| / T`: a sinusoid
    of amplitude A at a bin frequency gives M = A at that bin, a constant c gives M_0 = |c|.
    """
    t = x.shape[0]
    amp = 2.0 * np.abs(np.fft.rfft(x, axis=0)) / t
    amp[0] /= 2.0
    if t % 2 == 0:
        amp[-1] /= 2.0
    return amp


def caps_sm(u: np.ndarray, fs: float) -> float:
    """CAPS Sm of one episode's normalized commands `u` `[T, n_cmd]` sampled at `fs` Hz; averaged over components.

    Per component of `p = periodize(u)` (N = T-1 samples), `Sm = 2 / (n fs) * sum_k M_k f_k` over the
    n = N//2 + 1 rfft bins at `f_k = k fs / N` (Hz), `M_k` from `single_sided_amplitude`; dimensionless for `u` in
    [-1, 1]. Since `2 f_k / fs` is the frequency as a fraction of Nyquist, a sinusoid of amplitude A at a bin
    frequency f, periodic in N samples, scores `A (2 f / fs) / n`; a constant or a straight ramp scores 0.
    """
    p = periodize(u)
    t = p.shape[0]
    amp = single_sided_amplitude(p)
    freqs = np.fft.rfftfreq(t, d=1.0 / fs)
    per_component = 2.0 / (amp.shape[0] * fs) * (amp * freqs[:, None]).sum(axis=0)
    return float(per_component.mean())


def action_rate_rms(u: np.ndarray) -> float:
    """RMS over the T-1 steps of `(u_t - u_{t-1}) / 2` for normalized commands `u` `[T, n_cmd]`; component mean.

    `(u_t - u_{t-1}) / 2 = (a_t - a_{t-1}) / (high - low)`: the command change per control step as a fraction of the
    command range (1 = a full-range jump every step). Rate per step, not per second, so a 50 Hz and a 20 Hz robot
    compare as "fraction of the range per decision".
    """
    rate = np.diff(u, axis=0) / 2.0
    return float(np.sqrt(np.mean(rate**2, axis=0)).mean())


def high_freq_energy_share(u: np.ndarray, fs: float, cutoff_hz: float = HIGH_FREQUENCY_HZ) -> float:
    """Share in [0, 1] of the spectral energy of `u` `[T, n_cmd]` (at `fs` Hz) at frequencies > `cutoff_hz`.

    Energy `|X_k|^2` of `X = rfft(periodize(u))` (N = T-1 samples, bins at `k fs / N`) per bin, pooled over
    components, DC excluded (the mean is not motion), each bin between DC and Nyquist counted twice (its
    negative-frequency twin), so the share is the fraction of the periodized commands' variance above the cutoff
    (Parseval). A constant command or a straight ramp has no energy left: share 0.
    """
    p = periodize(u)
    t = p.shape[0]
    if np.ptp(p, axis=0).max() <= 1e-12:  # straight line up to rounding: no motion left, no energy
        return 0.0
    energy = (np.abs(np.fft.rfft(p, axis=0)) ** 2).sum(axis=1)
    weight = np.full(energy.shape, 2.0)
    weight[0] = 0.0
    if t % 2 == 0:
        weight[-1] = 1.0
    energy = energy * weight
    return float(energy[np.fft.rfftfreq(t, d=1.0 / fs) > cutoff_hz].sum() / energy.sum())


def command_smoothness(
    episodes: Sequence[np.ndarray],
    low: np.ndarray,
    high: np.ndarray,
    control_rate_hz: float,
) -> Smoothness:
    """Sm, action-rate RMS and high-frequency share of per-episode commands, each the mean over episodes.

    Args:
        episodes: one array `[T_e, n_cmd]` per episode, commands in robot units in the order sent (T_e may differ).
        low: lower command bounds `[n_cmd]`, robot units.
        high: upper command bounds `[n_cmd]`, robot units (> low).
        control_rate_hz: command rate fs (Hz).

    Returns:
        The three metrics averaged with equal weight per episode over the episodes with at least
        `MIN_EPISODE_SAMPLES` samples (None for all three when there is none), and how many were used.

    """
    low, high = np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)
    if np.any(high <= low):
        raise ValueError(f"command range must have high > low, got low {low.tolist()}, high {high.tolist()}")
    used = [normalize(e, low, high) for e in episodes if len(e) >= MIN_EPISODE_SAMPLES]
    if not used:
        return Smoothness(sm=None, action_rate_rms=None, high_freq_energy_share=None, episodes_used=0)
    return Smoothness(
        sm=float(np.mean([caps_sm(u, control_rate_hz) for u in used])),
        action_rate_rms=float(np.mean([action_rate_rms(u) for u in used])),
        high_freq_energy_share=float(np.mean([high_freq_energy_share(u, control_rate_hz) for u in used])),
        episodes_used=len(used),
    )
