"""Command smoothness (CAPS Sm, action-rate RMS, share above 4 Hz) on hand-computed trajectories, and the rollout's
per-episode command record that `robot-rl eval` and `robot-rl baseline` feed it."""

import numpy as np
import pytest

from robot_rl.envs import make_vec
from robot_rl.envs.rollout import run_episodes
from robot_rl.evaluate.smoothness import (
    MIN_EPISODE_SAMPLES,
    command_smoothness,
    periodize,
    single_sided_amplitude,
)

LOW, HIGH = np.array([-1.0]), np.array([1.0])
T = 51  # 51 samples -> periodized to N = 50: bins k * fs / 50, n = 26 of them
t = np.arange(T)


def test_periodize_hand_computed():
    # u = 0, 1, 4, 3: line from 0 to 3 over 3 steps = 0, 1, 2 (last sample dropped) -> 0, 0, 2
    assert periodize(np.array([[0.0], [1.0], [4.0], [3.0]]))[:, 0].tolist() == [0.0, 0.0, 2.0]


def test_single_sided_amplitude_of_constant_and_sinusoid():
    x = np.stack([np.full(50, 0.3), 0.7 * np.cos(2 * np.pi * 3 * np.arange(50) / 50)], axis=1)
    amp = single_sided_amplitude(x)
    assert amp.shape == (26, 2)
    np.testing.assert_allclose(amp[:, 0], np.r_[0.3, np.zeros(25)], atol=1e-12)  # DC: |X_0| / N = c
    np.testing.assert_allclose(amp[:, 1], np.where(np.arange(26) == 3, 0.7, 0.0), atol=1e-12)  # 2 |X_k| / N = A


def test_constant_command_scores_zero():
    commands = np.tile([0.3, 1.5], (T, 1))  # robot units, inside low/high
    s = command_smoothness([commands], np.array([-1.0, 0.0]), np.array([1.0, 2.0]), 50.0)
    assert (s.sm, s.action_rate_rms, s.high_freq_energy_share, s.episodes_used) == (0.0, 0.0, 0.0, 1)


def test_straight_ramp_has_no_spectral_content_but_a_rate():
    # -1 -> +1 in 50 equal steps: periodize removes the line exactly; each step is 2/50 of u = 1/50 of the range
    s = command_smoothness([np.linspace(-1.0, 1.0, T)[:, None]], LOW, HIGH, 50.0)
    assert s.sm == pytest.approx(0.0, abs=1e-12) and s.high_freq_energy_share == 0.0
    assert s.action_rate_rms == pytest.approx(1 / 50)


@pytest.mark.parametrize(("freq_hz", "share"), [(5.0, 1.0), (2.0, 0.0)])
def test_sinusoid_at_a_bin_frequency(freq_hz, share):
    # component 0: 0.5 sin(2 pi f t / 50) in u (raw 1.0 sin(...) with a range of 4), periodic in 50 samples;
    # component 1 constant. fs = 50 Hz, N = 50, n = 26 bins, f/Nyquist = f / 25.
    raw = np.stack([1.0 + 1.0 * np.sin(2 * np.pi * freq_hz * t / 50), np.full(T, 3.0)], axis=1)
    s = command_smoothness([raw], np.array([-1.0, 0.0]), np.array([3.0, 10.0]), 50.0)
    # Sm: amplitude 0.5 at f -> 0.5 * (f / 25) / 26 for component 0, 0 for component 1, averaged over the 2
    assert s.sm == pytest.approx(0.5 * (freq_hz / 25) / 26 / 2, rel=1e-9)
    # rate: u_t - u_{t-1} = 0.5 * 2 sin(w/2) cos(w (t - 1/2)), w = 2 pi f / 50; RMS over whole periods of the cos is
    # sin(w/2) / sqrt(2); a fraction of the range is half of it in u; averaged with the constant component's 0
    w = 2 * np.pi * freq_hz / 50
    assert s.action_rate_rms == pytest.approx(0.5 * np.sin(w / 2) / np.sqrt(2) / 2, rel=1e-9)
    assert s.high_freq_energy_share == pytest.approx(share, abs=1e-12)  # all its energy sits at f, above 4 Hz or not


def test_square_wave_at_nyquist():
    # full-range alternation, 51 samples (ends where it starts): periodized = the same 50 samples, all at Nyquist
    square = np.where(t % 2 == 0, 1.0, -1.0)[:, None]
    fast = command_smoothness([square], LOW, HIGH, 50.0)
    assert fast.sm == pytest.approx(1 / 26)  # amplitude 1 at f = Nyquist (fraction 1), one of n = 26 bins
    assert fast.action_rate_rms == pytest.approx(1.0)  # a full-range jump every step
    assert fast.high_freq_energy_share == pytest.approx(1.0)  # Nyquist = 25 Hz > 4 Hz
    slow = command_smoothness([square], LOW, HIGH, 5.0)  # same samples at 5 Hz: Nyquist 2.5 Hz is below 4 Hz
    assert slow.sm == pytest.approx(1 / 26) and slow.high_freq_energy_share == 0.0


def test_smoother_trajectory_scores_lower():
    # the same move from -1 to +1 over one episode: a jump halfway, a ramp over 25 steps, a half-cosine
    jump = np.where(t < 25, -1.0, 1.0)[:, None]
    ramp = np.clip(-1.0 + 2.0 * (t - 12) / 25, -1.0, 1.0)[:, None]
    cosine = -np.cos(np.pi * t / (T - 1))[:, None]
    scores = [command_smoothness([x], LOW, HIGH, 50.0) for x in (jump, ramp, cosine)]
    for rougher, smoother in zip(scores, scores[1:], strict=False):
        assert smoother.sm < rougher.sm / 3
        assert smoother.action_rate_rms < rougher.action_rate_rms
        assert smoother.high_freq_energy_share < rougher.high_freq_energy_share


def test_units_do_not_matter():
    # the same motion in rad on [-2, 2] and in N on [0, 0.6]: identical after normalizing by the range
    rng = np.random.default_rng(0)
    u = np.clip(np.cumsum(rng.normal(0.0, 0.1, (80, 1)), axis=0), -1.0, 1.0)
    a = command_smoothness([2.0 * u], np.array([-2.0]), np.array([2.0]), 50.0)
    b = command_smoothness([0.3 + 0.3 * u], np.array([0.0]), np.array([0.6]), 50.0)
    assert a.sm == pytest.approx(b.sm) and a.action_rate_rms == pytest.approx(b.action_rate_rms)
    assert a.high_freq_energy_share == pytest.approx(b.high_freq_energy_share)


def test_episodes_are_averaged_and_short_ones_left_out():
    square = np.where(t % 2 == 0, 1.0, -1.0)[:, None]
    still = np.zeros((T, 1))
    short = square[: MIN_EPISODE_SAMPLES - 1]  # too short to say anything: left out
    s = command_smoothness([square, still, short], LOW, HIGH, 50.0)
    assert s.episodes_used == 2
    assert s.sm == pytest.approx((1 / 26 + 0.0) / 2) and s.action_rate_rms == pytest.approx(0.5)
    none = command_smoothness([short], LOW, HIGH, 50.0)
    assert (none.sm, none.action_rate_rms, none.high_freq_energy_share, none.episodes_used) == (None, None, None, 0)


def test_rejects_an_empty_command_range():
    with pytest.raises(ValueError, match="high > low"):
        command_smoothness([np.zeros((T, 1))], np.array([1.0]), np.array([1.0]), 50.0)


def test_rollout_records_each_episodes_commands():
    env = make_vec("robot_rl/QuadrotorHover-v0", 2, randomize=False)
    hover = env.core.task.hover_command.copy()
    constant = np.clip(hover + 0.01, env.core.action_low, env.core.action_high)
    commands: list[np.ndarray] = []
    try:
        results = run_episodes(env, lambda obs: np.tile(constant, (len(obs), 1)), 3, seed=0, commands=commands)
    finally:
        env.close()
    assert len(commands) == len(results) == 3
    for result, record in zip(results, commands, strict=True):
        assert record.shape == (result[3] + 1, 4)  # the reset command, then one applied command per step
        np.testing.assert_allclose(record[0], hover)  # the task's reset command: hover
        np.testing.assert_allclose(record[1:], np.tile(constant, (result[3], 1)))
